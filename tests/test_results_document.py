"""results.json is checked against Gradescope's format before it is written."""
from __future__ import annotations

import pytest

from autograder.judge.results import results_problems


@pytest.mark.parametrize("document, problem", [
    ({"score": 1, "tests": [{"name": "a", "score": 2, "max_score": 1, "status": "passed", "output": "",
                             "visibility": "visible"}]}, "more than its max_score"),
    ({"score": 5, "tests": []}, "not the sum"),
    ({"tests": []}, "'score' is a required property"),
    ({"score": 0, "tests": [{"name": "a", "score": 0, "max_score": 1, "status": "ok", "output": "",
                             "visibility": "visible"}]}, "'ok' is not one of"),
])
def test_results_problems_names_what_is_wrong(document: dict, problem: str) -> None:
    assert any(problem in p for p in results_problems(document)), results_problems(document)
