"""Uploads are taken apart safely: only the student files, from folders and zips, nothing followed."""
from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

from autograder.gradescope.uploads import MAX_FILE_BYTES, STUDENT_FILES, prepare_graded_folder

REPO = Path(__file__).resolve().parent.parent
SKELETON = REPO / "assignment"


def write(folder: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return folder


def zipped(members: dict[str, str], links: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/autograder/source/solutions/resnet.py")
    return buffer.getvalue()


def test_the_graded_files_are_the_rubrics_parts_and_the_solutions_marked_files() -> None:
    marked = {p.name for p in (REPO / "solutions").glob("*.py") if "### BEGIN SOLUTION" in p.read_text()}
    assert set(STUDENT_FILES) == marked and len(STUDENT_FILES) == len(marked)


def test_files_at_the_top_replace_the_skeletons_and_the_rest_stays(tmp_path: Path) -> None:
    upload = write(tmp_path / "upload", {"resnet.py": "# mine\n", "conftest.py": "x", "torch.py": "x"})
    result = prepare_graded_folder(upload, SKELETON, tmp_path / "graded")
    assert (tmp_path / "graded" / "resnet.py").read_text() == "# mine\n"
    assert (tmp_path / "graded" / "densenet.py").read_text() == (SKELETON / "densenet.py").read_text()
    assert not (tmp_path / "graded" / "conftest.py").exists() and not (tmp_path / "graded" / "torch.py").exists()
    assert result.taken == {"resnet.py": "resnet.py"}
    assert sorted(result.ignored) == ["conftest.py", "torch.py"]
    assert result.missing == [n for n in STUDENT_FILES if n != "resnet.py"]


def test_a_subfolder_and_a_zip_are_searched_and_the_shallowest_copy_wins(tmp_path: Path) -> None:
    upload = write(tmp_path / "upload", {
        "lab/resnet.py": "# folder\n", "lab/old/resnet.py": "# older\n",
        "work.zip": zipped({"work/train.py": "# zipped\n", "work/__MACOSX/._train.py": "junk", "work/x.pth": "w"}),
    })
    result = prepare_graded_folder(upload, SKELETON, tmp_path / "graded")
    assert (tmp_path / "graded" / "resnet.py").read_text() == "# folder\n"
    assert (tmp_path / "graded" / "train.py").read_text() == "# zipped\n"
    assert result.taken == {"resnet.py": "lab/resnet.py", "train.py": "work.zip:work/train.py"}
    assert "lab/old/resnet.py (another resnet.py; graded lab/resnet.py)" in result.ignored
    assert "work.zip:work/x.pth" in result.ignored


def test_files_at_the_top_of_a_zip_are_taken(tmp_path: Path) -> None:
    """A zip of the files themselves (no folder inside), as `zip lab.zip *.py` makes."""
    upload = write(tmp_path / "upload", {"lab.zip": zipped({"senet.py": "# top\n", "notes.txt": "n"})})
    result = prepare_graded_folder(upload, SKELETON, tmp_path / "graded")
    assert (tmp_path / "graded" / "senet.py").read_text() == "# top\n"
    assert result.taken == {"senet.py": "lab.zip:senet.py"}
    assert result.ignored == ["lab.zip:notes.txt"]


def test_links_oversized_files_and_broken_zips_are_refused(tmp_path: Path) -> None:
    secret = write(tmp_path / "secret", {"resnet.py": "SECRET\n"}) / "resnet.py"
    upload = write(tmp_path / "upload", {
        "train.py": "#" * (MAX_FILE_BYTES + 1), "broken.zip": b"PK\x03\x04 not really",
        "linked.zip": zipped({}, links=("senet.py",)),
    })
    os.symlink(secret, upload / "resnet.py")
    result = prepare_graded_folder(upload, SKELETON, tmp_path / "graded")
    assert result.taken == {}
    assert "SECRET" not in (tmp_path / "graded" / "resnet.py").read_text()
    reasons = "\n".join(result.ignored)
    for expected in ("resnet.py (not a regular file)", "train.py (larger than 1 MiB)",
                     "broken.zip (unreadable zip", "linked.zip:senet.py (a link)"):
        assert expected in reasons


def test_the_report_tells_the_student_what_happened(tmp_path: Path) -> None:
    upload = write(tmp_path / "upload", {"resnet.py": "# mine\n", "model.pth": b"\0"})
    report = prepare_graded_folder(upload, SKELETON, tmp_path / "graded").report()
    assert "Graded your resnet.py (from resnet.py)" in report
    assert "graded as the unmodified skeleton: densenet.py, mobilenet.py, senet.py, train.py" in report
    assert "Ignored (only resnet.py, densenet.py, mobilenet.py, senet.py, train.py are graded):\n  model.pth" in report


def test_a_missing_upload_folder_grades_the_skeleton(tmp_path: Path) -> None:
    result = prepare_graded_folder(tmp_path / "nothing", SKELETON, tmp_path / "graded")
    assert result.missing == list(STUDENT_FILES)
    assert (tmp_path / "graded" / "resnet.py").read_text() == (SKELETON / "resnet.py").read_text()
