"""Gradescope's results.json: build it from check outcomes, validate it, write it atomically."""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jsonschema

from ..rubric import number_order

VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
# The format of https://gradescope-autograders.readthedocs.io/en/latest/specs/, as this grader writes it:
# stricter than Gradescope (a score on every test, no unknown keys) so a slip shows here first.
RESULTS_SCHEMA = {
    "type": "object",
    "required": ["score", "tests"],
    "additionalProperties": False,
    "properties": {
        "score": {"type": "number", "minimum": 0},
        "execution_time": {"type": "number", "minimum": 0},
        "output": {"type": "string"},
        "visibility": VISIBILITY,
        "stdout_visibility": VISIBILITY,
        "extra_data": {"type": "object"},
        "leaderboard": {"type": "array", "items": {
            "type": "object",
            "required": ["name", "value"],
            "additionalProperties": False,
            "properties": {"name": {"type": "string"}, "value": {"type": ["number", "string"]},
                           "order": {"enum": ["asc", "desc"]}},
        }},
        "tests": {"type": "array", "items": {
            "type": "object",
            "required": ["name", "score", "max_score", "status", "output", "visibility"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string"}, "number": {"type": "string"}, "output": {"type": "string"},
                "score": {"type": "number", "minimum": 0}, "max_score": {"type": "number", "minimum": 0},
                "status": {"enum": ["passed", "failed"]}, "visibility": VISIBILITY,
            },
        }},
    },
}


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


def in_rubric_order(outcomes: list[Outcome]) -> list[Outcome]:
    """`outcomes` by check number, as the rubric lists them (1.10 after 1.9)."""
    return sorted(outcomes, key=lambda o: number_order(o.number))


def leaderboard_entry(check: str, accuracy: float, threshold: float) -> dict:
    """One leaderboard column of Gradescope's: a training check's final test accuracy, in percent."""
    return {"name": f"{check.removeprefix('test_train_')} accuracy % (pass: {100 * threshold:.1f})",
            "value": round(100 * accuracy, 2), "order": "desc"}


def results_document(outcomes: list[Outcome], seconds: float, leaderboard: list[dict] | None = None,
                     output: str = "", extra: dict | None = None, instructor_note: str = "") -> dict:
    """The results.json body (https://gradescope-autograders.readthedocs.io/en/latest/specs/), with a
    leaderboard and `extra_data` (kept by Gradescope, shown to no one) when given them, and an instructor's
    note as a hidden test of no points (Gradescope shows hidden tests to the course staff alone)."""
    ordered = in_rubric_order(outcomes)
    note = [{"name": "For the instructor", "score": 0.0, "max_score": 0.0, "status": "failed",
             "output": instructor_note, "visibility": "hidden"}] if instructor_note else []
    return {**({"leaderboard": leaderboard} if leaderboard else {}), **({"extra_data": extra} if extra else {}),
        "score": round(sum(o.points for o in ordered), 4),
        "execution_time": round(seconds, 1),
        "output": output,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [
            {"name": o.name, "number": o.number, "score": o.points, "max_score": o.max_points,
             "status": "passed" if o.passed else "failed", "output": o.feedback, "visibility": o.visibility}
            for o in ordered
        ] + note,
    }


def results_problems(document: object) -> list[str]:
    """Why `document` is not a valid results.json (empty when it is); scores must add up, too."""
    problems = [f"{'/'.join(map(str, e.absolute_path)) or 'document'}: {e.message}"
                for e in jsonschema.Draft202012Validator(RESULTS_SCHEMA).iter_errors(document)]
    if not problems:
        tests = document["tests"]
        if any(t["score"] > t["max_score"] for t in tests):
            problems.append("a test scores more than its max_score")
        if abs(sum(t["score"] for t in tests) - document["score"]) > 1e-6:
            problems.append("the score is not the sum of the tests' scores")
    return problems


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
