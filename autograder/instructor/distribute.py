"""Build what leaves this repository: Gradescope's autograder.zip and the students' release.

    python -m autograder.instructor.distribute gradescope [-o dist/autograder.zip]
    python -m autograder.instructor.distribute student [-o dist/cnn-lab-student.zip]

autograder.zip has setup.sh and run_autograder at its root (Gradescope's layout) and the
grader, skeleton, solution and data scripts beside them; Gradescope unpacks it into
/autograder/source. The student release holds the skeleton, the data scripts, a student
README and the grader by folder rule: not `instructor/` (tools that need the solution),
`class_grading/`, `cluster/`, `benchmarks/` nor `gradescope/`, its check files without the checks rubric.toml does not make visible, and of
the calibration only what a grading reads (`GRADING_READS`).
"""
from __future__ import annotations

import argparse
import ast
import io
import json
import zipfile
from pathlib import Path

from ..rubric import load_rubric

REPO = Path(__file__).resolve().parents[2]
GRADER = REPO / "autograder"
SHARED = ("assignment", "autograder", "data_scripts", "pyproject.toml", "ASSIGNMENT_SPEC.md")
# Never shipped: caches, the prepared data and downloads, and networks trained with fit(..., checkpoint=...).
NEVER = {"__pycache__", ".curves", "prepared", "downloads", ".pytest_cache", "checkpoints"}
# The grader's folders students do not get: the tools that need the solution, class grading and the Ray code it
# shares with calibration, the benchmarks and Gradescope's machinery.
INSTRUCTOR_FOLDERS = ("instructor", "class_grading", "cluster", "benchmarks", "gradescope")


def files_under(part: str) -> list[Path]:
    """The files of a top-level part of the repository, without caches and prepared data."""
    path = REPO / part
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*")
                  if p.is_file() and not NEVER & set(p.relative_to(REPO).parts))


def without_hidden_checks(source: str) -> str:
    """A check file's text without the checks `rubric.toml` does not make visible (decorators included).

    Visibility is the rubric's to decide: a check keeps its place beside the others of its block,
    whatever its visibility, and the release leaves out what students must not see yet.
    """
    rubric = load_rubric()
    lines = source.splitlines(keepends=True)
    for node in reversed(ast.parse(source).body):
        if isinstance(node, ast.FunctionDef) and node.name in rubric and rubric[node.name].visibility != "visible":
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
            end = node.end_lineno
            while end < len(lines) and not lines[end].strip():
                end += 1  # the blank lines that separated it from the next definition
            del lines[start:end]
    return "".join(lines)


# What a grading reads of a threshold: the threshold, what it was calibrated on, the reference's
# accuracies and seed-0 curve (shown beside a student's run that falls short), its layout (the roles the
# course's initialisation placed, which a student's network is compared with) and its seconds (the time
# a grading keeps for the check).
GRADING_READS = ("threshold", "accuracies", "curve", "layout", "seconds", "data_sha256", "settings_sha256")


def public_thresholds() -> str:
    """thresholds.json with only what a grading reads of each threshold (no timings, dates or rules)."""
    document = json.loads((GRADER / "thresholds.json").read_text())
    return json.dumps({profile: {check: {key: entry[key] for key in GRADING_READS if key in entry}
                                 for check, entry in checks.items()}
                       for profile, checks in document.items()}, indent=2) + "\n"


def gradescope_entries() -> dict[str, bytes | Path]:
    entries: dict[str, bytes | Path] = {name: GRADER / "gradescope" / name for name in ("setup.sh", "run_autograder")}
    for part in (*SHARED, "solutions", "README.md"):
        entries |= {p.relative_to(REPO).as_posix(): p for p in files_under(part)}
    return entries


def student_entries() -> dict[str, bytes | Path]:
    entries: dict[str, bytes | Path] = {}
    for part in SHARED:
        for path in files_under(part):
            relative = path.relative_to(REPO)
            if relative.parts[0] == "autograder" and relative.parts[1] in INSTRUCTOR_FOLDERS:
                continue
            entries[relative.as_posix()] = path
    for check_file in GRADER.glob("test_*.py"):
        entries[check_file.relative_to(REPO).as_posix()] = without_hidden_checks(check_file.read_text()).encode()
    entries["autograder/thresholds.json"] = public_thresholds().encode()
    entries["README.md"] = (GRADER / "instructor" / "student_readme.md").read_bytes()
    return entries


def write_zip(entries: dict[str, bytes | Path], target: Path, prefix: str = "") -> None:
    """A zip with fixed timestamps (the same content gives the same bytes) and executable bits kept."""
    target.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            source = entries[name]
            data = source.read_bytes() if isinstance(source, Path) else source
            executable = isinstance(source, Path) and source.stat().st_mode & 0o111
            info = zipfile.ZipInfo(prefix + name, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    target.write_bytes(buffer.getvalue())


def unpack(archive: Path, target: Path) -> None:
    """Unpack a zip from `write_zip` into `target` with its file modes, as Gradescope does."""
    with zipfile.ZipFile(archive) as opened:
        for member in opened.infolist():
            opened.extract(member, target)
            (target / member.filename).chmod(member.external_attr >> 16 & 0o777)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["gradescope", "student"],
                        help="gradescope: the autograder.zip to upload; student: the release students get")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="the zip to write (default: dist/autograder.zip or dist/cnn-lab-student.zip)")
    args = parser.parse_args(argv)
    if args.what == "gradescope":
        entries, target, prefix = gradescope_entries(), args.output or REPO / "dist" / "autograder.zip", ""
    else:
        entries, target = student_entries(), args.output or REPO / "dist" / "cnn-lab-student.zip"
        prefix = "cnn-lab/"  # students unzip a folder, not loose files
    write_zip(entries, target, prefix)
    tops: dict[str, int] = {}
    for name in entries:
        top = name.split("/")[0]
        tops[top] = tops.get(top, 0) + 1
    print(f"{target}: {target.stat().st_size / 1024:.0f} KiB, {len(entries)} files")
    for top, count in sorted(tops.items()):
        print(f"  {prefix}{top}: {count} file(s)")


if __name__ == "__main__":
    main()
