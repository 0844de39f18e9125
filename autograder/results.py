"""Gradescope's results.json: build it from check outcomes and write it atomically."""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Outcome:
    """One graded check."""

    name: str
    number: str
    part: str
    points: float
    max_points: float
    visibility: str
    feedback: str

    @property
    def passed(self) -> bool:
        return self.points == self.max_points


def results_document(outcomes: list[Outcome], seconds: float, output: str = "") -> dict:
    """The results.json body (https://gradescope-autograders.readthedocs.io/en/latest/specs/)."""
    ordered = sorted(outcomes, key=lambda o: tuple(int(n) for n in o.number.split(".")))
    return {
        "score": round(sum(o.points for o in ordered), 4),
        "execution_time": round(seconds, 1),
        "output": output,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [
            {"name": o.name, "number": o.number, "score": o.points, "max_score": o.max_points,
             "status": "passed" if o.passed else "failed", "output": o.feedback, "visibility": o.visibility}
            for o in ordered
        ],
    }


def write_atomically(path: Path, document: dict) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as file:
            json.dump(document, file, indent=2)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
