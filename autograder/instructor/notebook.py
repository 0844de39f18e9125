"""The lab as a Jupyter notebook, for courses that grade with nbgrader.

    python -m autograder.instructor.notebook COURSE             # COURSE/source/cnn_lab/cnn_lab.ipynb + nbgrader_config.py
    cd COURSE && nbgrader generate_assignment cnn_lab  # release/cnn_lab/cnn_lab.ipynb, solutions cleared
    nbgrader autograde cnn_lab && nbgrader export      # after collecting into submitted/<student>/cnn_lab/

The source notebook is built from `solutions/`: one solution cell per student file, whose
`%%writefile` line puts the code in a module file as in the file-based edition, with the
same nbgrader markers, so `generate_assignment` clears the same regions the skeleton
generator does. A locked cell grades the written files with `pytest autograder`
(`notebook_grading.py`), then one autograded test cell per rubric part prints that part's
feedback and outputs its points, which nbgrader takes as partial credit: a notebook earns
what the same code earns as files. Set CNNLAB_BUDGET (e.g. smoke) before autograding to pick
the training profile. The kernel that runs the notebook must have this project installed.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from ..rubric import load_rubric, student_files

REPO = Path(__file__).resolve().parents[2]
ASSIGNMENT = "cnn_lab"
CONFIG = '''c = get_config()  # noqa: F821 (nbgrader provides it)
c.CourseDirectory.course_id = "cnn-lab"
# Autograding trains networks: minutes per notebook, not nbgrader's default 30 s per cell.
c.Execute.timeout = 3600
'''
INTRODUCTION = """# CNN lab

Fill in every region that raises `NotImplementedError` in the cells below; `ASSIGNMENT_SPEC.md`
says what each class and function must do. Each cell writes one module file (`%%writefile`),
which is what gets graded: keep the first line of each cell as it is.

Run the grading cell at the end to see your score; the test cells after it show each part's
feedback. Grading trains small networks, so it takes a few minutes.
"""


def nbgrader_metadata(grade_id: str, *, solution: bool = False, points: float | None = None) -> dict:
    """Cell metadata in nbgrader's schema 3: a solution cell, a locked cell, or a graded test cell."""
    metadata = {"grade_id": grade_id, "solution": solution, "grade": points is not None, "locked": not solution,
                "schema_version": 3}
    if points is not None:
        metadata["points"] = points
    return {"nbgrader": metadata}


def source_notebook(solutions: Path) -> nbformat.NotebookNode:
    """The instructor's notebook: solutions inside nbgrader's markers, grading and test cells after them."""
    cells = [new_markdown_cell(INTRODUCTION, metadata=nbgrader_metadata("introduction"))]
    for name in student_files():
        stem = name.removesuffix(".py")
        cells.append(new_markdown_cell(f"## `{name}`", metadata=nbgrader_metadata(f"{stem}_heading")))
        cells.append(new_code_cell(f"%%writefile {name}\n{(solutions / name).read_text()}",
                                   metadata=nbgrader_metadata(f"{stem}_solution", solution=True)))
    cells.append(new_markdown_cell("## Grading\nRuns every check on the files written above.",
                                   metadata=nbgrader_metadata("grading_heading")))
    cells.append(new_code_cell("from autograder.instructor.notebook_grading import grade_written_files\n\n"
                               "grading = grade_written_files()", metadata=nbgrader_metadata("grading")))
    parts: dict[str, float] = {}
    for check in load_rubric().values():
        parts[check.part] = parts.get(check.part, 0.0) + check.points
    for part, points in parts.items():
        grade_id = "points_" + part.removesuffix(".py")
        cells.append(new_code_cell(f"grading.points({part!r})", metadata=nbgrader_metadata(grade_id, points=points)))
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
              "language_info": {"name": "python"}}
    return new_notebook(cells=cells, metadata=kernel)


def write_course(course: Path, solutions: Path = REPO / "solutions") -> Path:
    """Lay out an nbgrader course folder with the source notebook; returns the notebook's path."""
    notebook = course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    notebook.parent.mkdir(parents=True, exist_ok=True)
    nbformat.validate(built := source_notebook(solutions))
    nbformat.write(built, notebook)
    (course / "nbgrader_config.py").write_text(CONFIG)
    return notebook


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("course", type=Path, help="the nbgrader course folder to write (or update)")
    args = parser.parse_args(argv)
    print(f"wrote {write_course(args.course)}")


if __name__ == "__main__":
    main()
