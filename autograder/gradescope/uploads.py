"""Take a student's upload apart: the module files students write, their trained networks' checkpoints, and
nothing else.

An upload holds the files at its top, in a subfolder, or inside a zip (as Gradescope stores
a zipped upload, or as a student zips a folder). Only `STUDENT_FILES` are taken, and, where the
course grades trained networks (rubric.toml's [trained]), each network's NAME.pt and NAME.json, which
go to checkpoints/; everything else (a conftest.py, a torch.py, the given baseline.py) is listed as
ignored and never reaches the graded folder. A student file not found keeps the skeleton's version, so
the other parts still grade. Files are read without following links, and zip members are
read into memory (never extracted), each under a size cap.
"""
from __future__ import annotations

import os
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..judge.trained_history import MAX_HISTORY_BYTES
from ..rubric import student_files, trained_networks

STUDENT_FILES = student_files()
MAX_FILE_BYTES = 1 << 20  # a module is a few kilobytes; a megabyte is not source code
# File name in an upload -> (where it goes in the graded folder, its size cap).
TAKEN = {name: (name, MAX_FILE_BYTES) for name in STUDENT_FILES} | {
    f"{n.name}{suffix}": (f"checkpoints/{n.name}{suffix}", cap) for n in trained_networks().networks
    for suffix, cap in ((".pt", trained_networks().max_bytes), (".json", MAX_HISTORY_BYTES))}
MAX_ENTRIES = 2000
SKIPPED_FOLDERS = {"__MACOSX", "__pycache__", ".git", ".ipynb_checkpoints"}


@dataclass
class Upload:
    """What was found: taken files (name -> where from), ignored entries (with why), missing names."""

    taken: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def report(self) -> str:
        lines = [f"Graded your {name} (from {origin})" for name, origin in sorted(self.taken.items())]
        if self.missing:
            lines.append("Not found in your upload, so graded as the unmodified skeleton: " + ", ".join(self.missing))
        if self.ignored:
            checkpoints = " and the trained networks' checkpoints" if len(TAKEN) > len(STUDENT_FILES) else ""
            lines.append("Ignored (only " + ", ".join(STUDENT_FILES) + checkpoints + " are graded):")
            lines += [f"  {entry}" for entry in self.ignored[:50]]
            if len(self.ignored) > 50:
                lines.append(f"  ... and {len(self.ignored) - 50} more")
        return "\n".join(lines)


@dataclass(order=True)
class Candidate:
    depth: int
    origin: str
    data: bytes = field(compare=False)


def prepare_graded_folder(upload: Path, skeleton: Path, graded: Path) -> Upload:
    """Fill `graded` with the skeleton, then the student's files from `upload` in place of its own."""
    found: dict[str, list[Candidate]] = {}
    result = Upload()
    for origin, name, data, problem in _entries(upload):
        if problem:
            result.ignored.append(f"{origin} ({problem})")
        elif name in TAKEN:
            found.setdefault(name, []).append(Candidate(len(PurePosixPath(origin).parts), origin, data))
        else:
            result.ignored.append(origin)
    if graded.exists():
        shutil.rmtree(graded)
    shutil.copytree(skeleton, graded, ignore=shutil.ignore_patterns("__pycache__"))
    for name, (target, _) in TAKEN.items():
        candidates = sorted(found.get(name, []))
        if not candidates:
            if name in STUDENT_FILES:
                result.missing.append(name)
            continue
        chosen, *others = candidates  # the shallowest copy wins
        (graded / target).parent.mkdir(exist_ok=True)
        (graded / target).write_bytes(chosen.data)
        result.taken[target] = chosen.origin
        result.ignored += [f"{other.origin} (another {name}; graded {chosen.origin})" for other in others]
    for path in [graded, *graded.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return result


def _entries(upload: Path):
    """(path in the upload, file name, bytes or b"", problem or "") for every file, zip members included."""
    count = 0
    for folder, folders, files in os.walk(upload, followlinks=False):
        folders[:] = sorted(f for f in folders if f not in SKIPPED_FOLDERS)
        for name in sorted(files):
            count += 1
            if count > MAX_ENTRIES:
                yield "...", "", b"", f"more than {MAX_ENTRIES} files; the rest were not looked at"
                return
            path = Path(folder) / name
            origin = path.relative_to(upload).as_posix()
            info = os.lstat(path)
            if not stat.S_ISREG(info.st_mode):
                yield origin, name, b"", "not a regular file"
            elif name.endswith(".zip"):
                yield from _zip_entries(path, origin)
            elif name in TAKEN and info.st_size > TAKEN[name][1]:
                yield origin, name, b"", f"larger than {size_words(TAKEN[name][1])}"
            elif name in TAKEN:
                yield origin, name, path.read_bytes(), ""
            else:
                yield origin, name, b"", ""


def _zip_entries(path: Path, origin: str):
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()[:MAX_ENTRIES]
            for member in members:
                inner = PurePosixPath(member.filename)
                where = f"{origin}:{member.filename}"
                if member.is_dir() or set(inner.parts) & SKIPPED_FOLDERS:
                    continue
                if stat.S_ISLNK(member.external_attr >> 16):
                    yield where, inner.name, b"", "a link"
                elif inner.name not in TAKEN:
                    yield where, inner.name, b"", ""
                elif member.file_size > (cap := TAKEN[inner.name][1]):
                    yield where, inner.name, b"", f"larger than {size_words(cap)}"
                else:
                    with archive.open(member) as file:
                        data = file.read(cap + 1)  # the header's size may lie
                    yield where, inner.name, *((b"", "larger than the zip says") if len(data) > cap else (data, ""))
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as error:
        yield origin, path.name, b"", f"unreadable zip: {error}"


def size_words(size: int) -> str:
    return f"{size // 2**20} MiB" if size >= 2**20 else f"{size // 1024} KiB"
