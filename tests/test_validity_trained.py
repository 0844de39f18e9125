"""The grader graded: the solution and correct variants get full marks, every mutant loses
exactly the points of the checks that target its bug, and the skeleton gets zero cleanly.

This file holds the gradings that train (the solution, skeleton, correct variants and training
mutants); `test_validity_unit_mutants.py` the unit mutants, so that under pytest-xdist
(`--dist loadfile`) the two halves of the corpus are graded on two workers at once.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from autograder.probes import chosen_parameters, reference_bn_state
from autograder.rubric import load_rubric
from autograder.test_resnet import STEM_GRADIENT_BOUND
from autograder.worker.package_loader import load_module

from .grading import Grade, grade_corpus, trained_corpus, training_checks_behind
from .submissions.build import SOLUTIONS, variant_files, variant_names
from .submissions.mutants import MUTANTS, TRAINING_MUTANTS

RUBRIC = load_rubric()
TOTAL = sum(c.points for c in RUBRIC.values())


@pytest.fixture(scope="session")
def graded_trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Grade]:
    """The solution, skeleton, variants and training mutants, graded once, end to end (about 11 minutes on one core)."""
    return grade_corpus(trained_corpus, tmp_path_factory.mktemp("trained"))


def test_solution_scores_full_marks(graded_trained: dict[str, Grade]) -> None:
    result = graded_trained["solution"]
    assert result.returncode == 0, result.output[-3000:]
    assert result.score == result.max_score == TOTAL == 100


def test_the_leaderboard_holds_each_training_checks_final_accuracy(graded_trained: dict[str, Grade]) -> None:
    result = graded_trained["solution"]
    board = {entry["name"]: entry["value"] for entry in result.results["leaderboard"]}
    training = [c.id for c in RUBRIC.values() if c.part == "training"]
    assert len(board) == len(training), board
    for check in training:
        column = next(name for name in board if name.startswith(check.removeprefix("test_train_") + " accuracy %"))
        said = re.search(r"test accuracy ([\d.]+)%", result.feedback(check))
        assert said and abs(float(said.group(1)) - board[column]) <= 0.051, (column, board[column], said)
    assert "leaderboard" not in graded_trained["skeleton"].results, "a check that never trained has no column"


@pytest.mark.parametrize("name", variant_names())
def test_correct_variant_scores_full_marks(graded_trained: dict[str, Grade], name: str) -> None:
    """On every unit check and every training check that runs the variant's own files."""
    result = graded_trained[f"variant:{name}"]
    assert result.failed == set(), f"{name} lost points on {sorted(result.failed)}:\n{result.output[-3000:]}"
    graded = {c.id for c in RUBRIC.values() if c.number in {t["number"] for t in result.results["tests"]}}
    assert graded == {c.id for c in RUBRIC.values() if c.part != "training"} | training_checks_behind(
        variant_files(name)), f"{name} was graded on {sorted(graded)}"
    assert result.score == result.max_score


def test_skeleton_scores_zero_with_every_check_reported(graded_trained: dict[str, Grade]) -> None:
    result = graded_trained["skeleton"]
    assert result.score == 0
    assert len(result.results["tests"]) == len(RUBRIC)
    assert " error" not in result.output.splitlines()[-1], "a check errored instead of failing cleanly"
    for test in result.results["tests"]:
        assert "autograder error" not in test["output"], test
        assert "NotImplementedError" in test["output"], f"{test['name']} does not relay the skeleton's message"


@pytest.mark.parametrize("case", TRAINING_MUTANTS, ids=[c.key for c in TRAINING_MUTANTS])
def test_training_check_catches_exactly_the_training_breaking_bugs(graded_trained: dict[str, Grade], case) -> None:
    result = graded_trained[f"training:{case.key}"]
    assert [t["number"] for t in result.results["tests"]] == [RUBRIC[case.check].number], result.output[-2000:]
    if case.breaks_training:
        assert result.failed == {case.check}, f"{case.mutant.bug}: still reaches the threshold\n{result.output[-2000:]}"
        if not case.unit_checks:  # caught by training alone: the curves are what the student has to go on
            feedback = result.feedback(case.check)
            assert re.search(r"\n  yours +( +\d+\.\d%)+\n  the reference +( +\d+\.\d%)+\n", feedback), (
                f"the feedback does not set the student's curve beside the reference's:\n{feedback}")
    else:
        assert result.failed == set(), f"{case.mutant.bug}: expected to train well\n{result.output[-2000:]}"
        assert case.unit_checks, "a bug training cannot see must be caught by named unit checks"


def test_every_check_is_shown_to_catch_a_bug() -> None:
    targeted = set().union(*(m.caught_by for m in MUTANTS))
    targeted |= {c.check for c in TRAINING_MUTANTS if c.breaks_training}
    uncovered = {name for name, entry in RUBRIC.items()} - targeted
    assert uncovered == set(), "checks that no mutant in tests/submissions makes fail"


def input_gradient_ratio(model: torch.nn.Module, seed: int) -> float:
    """What test_resnet18_gradient_reaches_the_stem measures: |dL/dx| / |dL/dlogits| in eval mode, with the
    weights it sets."""
    shapes = [{"name": name, "shape": list(p.shape)} for name, p in model.named_parameters()]
    model.load_state_dict(chosen_parameters(shapes, seed), strict=False)
    reference_bn_state(model, "identity")
    model.eval()
    torch.manual_seed(seed)
    x = torch.randn(4, 3, 16, 16, requires_grad=True)
    grad_output = torch.randn(4, 10)
    model(x).backward(grad_output)
    return (x.grad.norm() / grad_output.norm()).item()


def test_stem_gradient_bound_separates_skip_connections_from_a_plain_stack() -> None:
    resnet = load_module(Path(SOLUTIONS), "reference_for_bound", "resnet")

    class PlainBlock(resnet.BasicBlock):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))

    for seed in range(5):
        with_skips = input_gradient_ratio(resnet.resnet18(width=8), seed)
        plain = input_gradient_ratio(resnet.ResNet(PlainBlock, [2, 2, 2, 2], width=8), seed)
        assert with_skips > 10 * STEM_GRADIENT_BOUND, with_skips
        assert plain < STEM_GRADIENT_BOUND / 100, plain
