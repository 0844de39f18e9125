"""The notebook edition, through nbgrader's real CLI: generate_assignment clears the solutions,
autograde awards what `pytest autograder` awards the same code, part by part.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook edition needs the 'notebook' extra (nbgrader)")
nbgrader_api = pytest.importorskip("nbgrader.api")

from autograder.gradescope.uploads import STUDENT_FILES  # noqa: E402
from autograder.instructor.notebook import ASSIGNMENT, write_course  # noqa: E402
from autograder.rubric import course_standard, load_rubric  # noqa: E402

from .grading import GRADING_HANG_BOUND, grade  # noqa: E402
from .submissions.build import REPO, build_mutant, copy_solution  # noqa: E402
from .submissions.mutants import MUTANTS  # noqa: E402

NBGRADER = str(Path(sys.executable).parent / "nbgrader")
MUTANT = next(m for m in MUTANTS if m.name == "no_shortcut")


def nbgrader(course: Path, *arguments: str) -> str:
    finished = subprocess.run([NBGRADER, *arguments], cwd=course, capture_output=True, text=True,
                              timeout=GRADING_HANG_BOUND,
                              env=os.environ | {"CNNLAB_BUDGET": "smoke",
                                                "PATH": f"{Path(NBGRADER).parent}:{os.environ['PATH']}"})
    assert finished.returncode == 0, f"nbgrader {arguments[0]} failed:\n{finished.stdout[-3000:]}{finished.stderr[-3000:]}"
    return finished.stdout + finished.stderr


def completed(release: Path, code: Path) -> nbformat.NotebookNode:
    """The released notebook with each solution cell holding the module file of `code`, as a student fills it in."""
    notebook = nbformat.read(release, as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            name = cell.source.splitlines()[0].removeprefix("%%writefile ").strip()
            cell.source = f"%%writefile {name}\n{(code / name).read_text()}"
    return notebook


def points_per_part(results: dict) -> dict[str, float]:
    parts = {c.number: c.part for c in load_rubric().values()}
    points: dict[str, float] = {}
    for test in results["tests"]:
        points[parts[test["number"]]] = points.get(parts[test["number"]], 0.0) + test["score"]
    return points


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A course folder with the assignment generated, and three students' completed notebooks autograded."""
    root = tmp_path_factory.mktemp("nbgrader")
    course = root / "course"
    write_course(course)
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    release = course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    codes = {"solution": copy_solution(root / "solution"), "skeleton": REPO / "assignment",
             "mutant": build_mutant(MUTANT, root / "mutant")}
    for student, code in codes.items():
        target = course / "submitted" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(completed(release, code), target)
    nbgrader(course, "autograde", ASSIGNMENT)
    nbgrader(course, "export")
    return course


def test_the_released_notebook_has_the_solutions_cleared(course: Path) -> None:
    release = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    text = "\n".join(cell.source for cell in release.cells)
    regions = sum((REPO / "solutions" / name).read_text().count("### BEGIN SOLUTION") for name in STUDENT_FILES)
    assert "BEGIN SOLUTION" not in text and "self.conv1 = nn.Conv2d" not in text
    assert text.count("raise NotImplementedError()") == regions
    solution_cells = [c for c in release.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert [c.source.splitlines()[0] for c in solution_cells] == [f"%%writefile {n}" for n in STUDENT_FILES]


def test_autograde_awards_what_pytest_autograder_awards(course: Path, tmp_path: Path) -> None:
    grades = {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader(open(course / "grades.csv"))}
    assert grades["solution"] == 100 and grades["skeleton"] == 0, grades
    mutant = build_mutant(MUTANT, tmp_path / "mutant")
    direct = grade(mutant, tmp_path, "--budget", "smoke", threads=course_standard().threads)  # as in the kernel
    assert direct.results, direct.output[-3000:]
    assert grades["mutant"] == direct.score, f"nbgrader gave {grades['mutant']}, pytest autograder {direct.score}"
    with nbgrader_api.Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        by_cell = {grade_id: gradebook.find_grade(grade_id, ASSIGNMENT, ASSIGNMENT, "mutant").score
                   for grade_id in (f"points_{part.removesuffix('.py')}" for part in points_per_part(direct.results))}
    expected = {f"points_{part.removesuffix('.py')}": points for part, points in points_per_part(direct.results).items()}
    assert by_cell == expected
    assert expected["points_resnet"] < sum(c.points for c in load_rubric().values() if c.part == "resnet.py")


def test_feedback_reaches_the_student_in_the_notebook(course: Path) -> None:
    graded = nbformat.read(course / "autograded" / "mutant" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    outputs = json.dumps([cell.get("outputs", []) for cell in graded.cells])
    assert "FAILED  1.4" in outputs and "passed  2.1" in outputs
