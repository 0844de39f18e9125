"""What the notebook edition's cells call: grade the module files the notebook wrote.

The notebook's solution cells write `resnet.py`, `densenet.py`, ... with `%%writefile`; its
grading cell runs `grade_written_files()`, which grades them with `pytest autograder`,
exactly as the file-based edition is graded; each test cell then shows one part's feedback and
outputs its points, which nbgrader records as the cell's (partial) credit.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..gradescope.uploads import prepare_graded_folder
from ..rubric import load_rubric

REPO = Path(__file__).resolve().parents[2]
BUDGET_VARIABLE = "CNNLAB_BUDGET"  # the training profile, when the course's standard (rubric.toml) is not wanted


@dataclass
class NotebookGrading:
    results: dict

    def points(self, part: str) -> float:
        """Print the feedback of `part`'s checks and return the points they earned."""
        numbers = {c.number for c in load_rubric().values() if c.part == part}
        tests = [t for t in self.results.get("tests", []) if t.get("number") in numbers]
        for test in tests:
            mark = "passed" if test["score"] >= test["max_score"] else "FAILED"
            print(f"{mark}  {test['name']}  ({test['score']:g} / {test['max_score']:g})")
            if mark == "FAILED":
                print("    " + test["output"].replace("\n", "\n    "))
        if not tests:
            print("The grader produced no results for this part: see the grading cell's output.")
        return float(sum(t["score"] for t in tests))

def grade_written_files(folder: Path | None = None, budget: str | None = None) -> NotebookGrading:
    """Grade the student files in `folder` (default: the notebook's own) with `pytest autograder`."""
    folder = Path.cwd() if folder is None else folder
    budget = budget or os.environ.get(BUDGET_VARIABLE)
    with tempfile.TemporaryDirectory(prefix="cnnlab-notebook-") as work:
        graded, results = Path(work) / "graded", Path(work) / "results.json"
        upload = prepare_graded_folder(folder, REPO / "assignment", graded)
        if upload.missing:
            print("Not written by this notebook, so graded as the skeleton: " + ", ".join(upload.missing))
        command = [sys.executable, "-m", "pytest", "autograder", "--impl", str(graded), "--results-json", str(results),
                   "--curves", str(Path(work) / "curves.json"), "-p", "no:cacheprovider", "-q", "--color=no", "-o", "addopts="]
        if budget:
            command += ["--budget", budget]
        finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        table = finished.stdout.partition("CNN lab score")[2].split("\n=")[0]  # the score table, not pytest's report
        print(table.strip("= \n") or finished.stdout[-3000:] + finished.stderr[-3000:])
        return NotebookGrading(json.loads(results.read_text()) if results.exists() else {})
