"""What leaves the repository: autograder.zip, the Dockerfile and the student release."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import pytest

from autograder.instructor.distribute import GRADING_READS, INSTRUCTOR_FOLDERS, gradescope_entries, write_zip
from autograder.rubric import load_rubric

from .grading import GRADING_HANG_BOUND

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MARKERS = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)


@pytest.fixture(scope="module")
def gradescope_zip(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    target = tmp_path_factory.mktemp("dist") / "autograder.zip"
    write_zip(gradescope_entries(), target)
    return zipfile.ZipFile(target)


def test_the_zip_has_gradescopes_layout(gradescope_zip: zipfile.ZipFile) -> None:
    names = set(gradescope_zip.namelist())
    assert {"setup.sh", "run_autograder", "pyproject.toml", "solutions/resnet.py", "assignment/resnet.py",
            "autograder/conftest.py", "autograder/thresholds.json", "data_scripts/prepare.py"} <= names
    assert gradescope_zip.getinfo("run_autograder").external_attr >> 16 & 0o111, "run_autograder is not executable"
    assert not [n for n in names if "__pycache__" in n or "/prepared/" in n or n.startswith((".venv", "tests/"))]


def test_the_scripts_and_the_dockerfile_pass_their_linters() -> None:
    scripts = [REPO / "autograder" / "gradescope" / name for name in ("setup.sh", "run_autograder")]
    for linter in ([str(BIN / "shellcheck"), *map(str, scripts), str(REPO / ".ci" / "run")],
                   [str(BIN / "hadolint"), str(REPO / "Dockerfile")]):
        done = subprocess.run(linter, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_dockerfile_installs_what_the_zip_holds(gradescope_zip: zipfile.ZipFile) -> None:
    """Both run setup.sh over the same source tree; the image copies exactly the zip's top-level parts."""
    dockerfile = (REPO / "Dockerfile").read_text()
    copied = {part.split("/")[0] for line in dockerfile.splitlines() if line.startswith("COPY ")
              for part in line.split()[1:-1]}
    in_zip = {name.split("/")[0] for name in gradescope_zip.namelist()} - {"setup.sh", "run_autograder"}
    assert copied == in_zip
    assert "autograder/gradescope/setup.sh" in dockerfile and "ARG BASE_IMAGE=gradescope/autograder-base" in dockerfile
    setup = (REPO / "autograder" / "gradescope" / "setup.sh").read_text()
    pins = re.search(r"^torch_pins=\((.*)\)$", setup, re.M)
    grading = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["grading"]
    assert pins and pins.group(1).split() == [p for p in grading if p.startswith("torch")], (
        "setup.sh pins other versions than the grading extra")
    assert "whl/cpu" in setup and '"${source_dir}[grading]"' in setup
    assert "-m data_scripts.prepare" in setup, "the data must be prepared when the image is built"


def code_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_the_release_holds_no_solution_code(release: Path) -> None:
    """No solution region appears in the release: no two of its lines in a row, nor a one-line region."""
    assert not (release / "solutions").exists()
    pairs, lines = set(), set()
    for path in (p for p in release.rglob("*") if p.is_file()):
        released = code_lines(path.read_text(errors="replace"))
        lines |= set(released)
        pairs |= set(zip(released, released[1:]))
    for solution in sorted((REPO / "solutions").glob("*.py")):
        for region in MARKERS.findall(solution.read_text()):
            code = code_lines(region)
            leaked = set(zip(code, code[1:])) & pairs if len(code) > 1 else set(code) & lines
            assert not leaked, f"{solution.name}: {sorted(leaked)} appear in the release"


def test_the_release_has_only_visible_checks_and_what_grading_reads_of_the_thresholds(release: Path) -> None:
    rubric = load_rubric()
    defined = set(re.findall(r"^def (test_\w+)", "\n".join(
        p.read_text() for p in (release / "autograder").glob("test_*.py")), re.M))
    assert defined, "no checks in the release"
    function = {c.id: c.id.split("[")[0] for c in rubric.values()}  # a parametrized check's id is `name[param]`
    assert {c.visibility for c in rubric.values() if function[c.id] in defined} == {"visible"}
    assert {function[c.id] for c in rubric.values() if c.visibility == "visible"} <= defined, "a visible check is missing"
    thresholds = json.loads((release / "autograder" / "thresholds.json").read_text())
    assert {key for checks in thresholds.values() for entry in checks.values() for key in entry} == set(GRADING_READS)
    shipped = json.loads((REPO / "autograder" / "thresholds.json").read_text())
    for profile, checks in thresholds.items():
        for name, entry in checks.items():
            assert entry == {key: shipped[profile][name][key] for key in GRADING_READS}, (profile, name)
    assert not [folder for folder in INSTRUCTOR_FOLDERS if (release / "autograder" / folder).exists()]
    hidden = {c.id for c in rubric.values() if c.visibility != "visible"}
    for path in (release / "autograder").glob("test_*.py"):
        assert not hidden & set(re.findall(r"\w+", path.read_text())), f"{path.name} names a hidden check"


def test_the_release_and_the_zip_hold_the_grader_by_folder(gradescope_zip: zipfile.ZipFile, release: Path) -> None:
    """The zip holds every file of the grader; the release all but the instructors' and Gradescope's folders."""
    grader = {p.relative_to(REPO).as_posix() for p in (REPO / "autograder").rglob("*")
              if p.is_file() and "__pycache__" not in p.parts and ".curves" not in p.parts}
    assert grader <= set(gradescope_zip.namelist())
    released = {p.relative_to(release).as_posix() for p in (release / "autograder").rglob("*") if p.is_file()}
    assert released == {name for name in grader
                        if not name.startswith(tuple(f"autograder/{folder}/" for folder in INSTRUCTOR_FOLDERS))}


def test_the_release_grades_a_students_work_on_its_own(release: Path, tmp_path: Path) -> None:
    """With the solution's files in assignment/, every check the release can run passes."""
    release = Path(shutil.copytree(release, tmp_path / "cnn-lab"))
    for name in ("resnet.py", "densenet.py", "mobilenet.py", "senet.py", "train.py"):
        shutil.copy(REPO / "solutions" / name, release / "assignment" / name)
    done = subprocess.run([sys.executable, "-m", "pytest", "autograder", "-m", "not training", "-q",
                           "-p", "no:cacheprovider", "--results-json", str(tmp_path / "results.json")],
                          cwd=release, capture_output=True, text=True, timeout=GRADING_HANG_BOUND)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "skipped" in done.stdout, "the checks that need the reference solution should be skipped"
    results = json.loads((tmp_path / "results.json").read_text())
    assert all(t["status"] == "passed" for t in results["tests"])
    ran = {t["number"] for t in results["tests"]}
    elsewhere = [c for c in load_rubric().values() if c.number not in ran and c.part != "training"]
    assert {c.visibility for c in elsewhere} == {"visible", "after_due_date"}, "expected both kinds to be skipped"
    here = sum(t["max_score"] for t in results["tests"])
    line = (f"{here:g} of 100 points checked here; 40 deselected (-m, -k, --part); {sum(c.points for c in elsewhere):g} more "
            f"are checked on Gradescope only ({sum(c.points for c in elsewhere if c.visibility != 'visible'):g} of "
            "them shown after the due date)")
    assert line in done.stdout, f"the score table does not end with: {line}\n{done.stdout[-1500:]}"
