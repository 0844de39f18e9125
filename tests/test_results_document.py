"""results.json is checked against Gradescope's format before it is written."""
from __future__ import annotations

import pytest

from autograder.judge.results import leaderboard_entry, results_document, results_problems


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


def test_a_leaderboard_in_gradescopes_documented_form_is_valid() -> None:
    """The leaderboard example of Gradescope's results.json specification, and this grader's own entries."""
    documented = {"score": 0, "tests": [], "leaderboard": [
        {"name": "Accuracy", "value": .926}, {"name": "Time", "value": 15, "order": "asc"},
        {"name": "Stars", "value": "*****"}]}
    assert results_problems(documented) == []
    ours = results_document([], 1.0, [leaderboard_entry("test_train_resnet18_cifar10", 0.4321, 0.415)])
    assert ours["leaderboard"] == [{"name": "resnet18_cifar10 accuracy % (pass: 41.5)", "value": 43.21, "order": "desc"}]
    assert results_problems(ours) == []
    assert "leaderboard" not in results_document([], 1.0)


@pytest.mark.parametrize("entry, problem", [
    ({"value": 1}, "'name' is a required property"),
    ({"name": "a", "value": 1, "order": "up"}, "'up' is not one of"),
    ({"name": "a", "value": [1]}, "is not of type"),
])
def test_a_malformed_leaderboard_is_refused(entry: dict, problem: str) -> None:
    problems = results_problems({"score": 0, "tests": [], "leaderboard": [entry]})
    assert any(problem in p for p in problems), problems
