"""The grader graded: the solution and correct variants get full marks, every mutant loses
exactly the points of the checks that target its bug, and the skeleton gets zero cleanly.

The corpus is graded in two halves, each on one pytest-xdist worker (its xdist_group): the
unit mutants, and the gradings that train.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from autograder.package_loader import load_module
from autograder.rubric import load_rubric
from autograder.test_resnet import STEM_GRADIENT_BOUND

from .grading import Grade, grade_all, trained_corpus, unit_mutant_corpus, validity_table
from .submissions.build import SOLUTIONS, variant_names
from .submissions.mutants import MUTANTS, TRAINING_MUTANTS

RUBRIC = load_rubric()
TOTAL = sum(c.points for c in RUBRIC.values())
UNIT_POINTS = sum(c.points for c in RUBRIC.values() if c.part != "training")


MUTANTS_HALF = pytest.mark.xdist_group("validity-mutants")
TRAINED_HALF = pytest.mark.xdist_group("validity-trained")


@pytest.fixture(scope="session")
def graded_mutants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Grade]:
    """Every unit mutant, graded once, end to end (about 9 minutes on one core)."""
    root = tmp_path_factory.mktemp("mutants")
    grades = grade_all(unit_mutant_corpus(root), root)
    print("\n" + validity_table(grades))
    return grades


@pytest.fixture(scope="session")
def graded_trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Grade]:
    """The solution, skeleton, variants and training mutants, graded once, end to end (about 12 minutes on one core)."""
    root = tmp_path_factory.mktemp("trained")
    grades = grade_all(trained_corpus(root), root)
    print("\n" + validity_table(grades))
    return grades


@TRAINED_HALF
def test_solution_scores_full_marks(graded_trained: dict[str, Grade]) -> None:
    result = graded_trained["solution"]
    assert result.returncode == 0, result.output[-3000:]
    assert result.score == result.max_score == TOTAL == 100


@TRAINED_HALF
@pytest.mark.parametrize("name", variant_names())
def test_correct_variant_scores_full_marks(graded_trained: dict[str, Grade], name: str) -> None:
    result = graded_trained[f"variant:{name}"]
    assert result.failed == set(), f"{name} lost points on {sorted(result.failed)}:\n{result.output[-3000:]}"
    assert result.score == TOTAL


@TRAINED_HALF
def test_skeleton_scores_zero_with_every_check_reported(graded_trained: dict[str, Grade]) -> None:
    result = graded_trained["skeleton"]
    assert result.score == 0
    assert len(result.results["tests"]) == len(RUBRIC)
    assert " error" not in result.output.splitlines()[-1], "a check errored instead of failing cleanly"
    for test in result.results["tests"]:
        assert "autograder error" not in test["output"], test
        assert "NotImplementedError" in test["output"], f"{test['name']} does not relay the skeleton's message"


@MUTANTS_HALF
@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_loses_exactly_the_targeted_points(graded_mutants: dict[str, Grade], mutant) -> None:
    result = graded_mutants[f"mutant:{mutant.name}"]
    assert result.failed, f"{mutant.name} ({mutant.bug}) scored full marks"
    assert result.failed == mutant.caught_by, (
        f"{mutant.name}: unexpectedly failed {sorted(result.failed - mutant.caught_by)}, "
        f"unexpectedly passed {sorted(mutant.caught_by - result.failed)}")
    for test in result.results["tests"]:
        assert "autograder error" not in test["output"], test


@MUTANTS_HALF
def test_unit_mutants_are_graded_on_the_unit_checks_only(graded_mutants: dict[str, Grade]) -> None:
    for mutant in MUTANTS:
        assert graded_mutants[f"mutant:{mutant.name}"].max_score == UNIT_POINTS


@TRAINED_HALF
@pytest.mark.parametrize("case", TRAINING_MUTANTS, ids=[c.key for c in TRAINING_MUTANTS])
def test_training_check_catches_exactly_the_training_breaking_bugs(graded_trained: dict[str, Grade], case) -> None:
    result = graded_trained[f"training:{case.key}"]
    assert [t["number"] for t in result.results["tests"]] == [RUBRIC[case.check].number], result.output[-2000:]
    if case.breaks_training:
        assert result.failed == {case.check}, f"{case.mutant.bug}: still reaches the threshold\n{result.output[-2000:]}"
    else:
        assert result.failed == set(), f"{case.mutant.bug}: expected to train well\n{result.output[-2000:]}"
        assert case.unit_checks, "a bug training cannot see must be caught by named unit checks"


@MUTANTS_HALF
def test_a_reference_mismatch_says_how_the_output_departs(graded_mutants: dict[str, Grade]) -> None:
    """A wrong shape is named with both shapes; a wrong value with the size of the error."""
    by_shape = graded_mutants["mutant:concatenation_missing_input"].feedback("test_dense_layer_matches_reference")
    wrong_shape = r"returned shape \(\d+, 4, \d+, \d+\) where the spec's computation gives \(\d+, 12,"
    assert re.search(wrong_shape, by_shape), by_shape
    by_value = graded_mutants["mutant:no_shortcut"].feedback("test_basic_block_matches_reference")
    assert re.search(r"differs from the spec's computation by up to \d", by_value), by_value


def test_every_check_is_shown_to_catch_a_bug() -> None:
    targeted = set().union(*(m.caught_by for m in MUTANTS))
    targeted |= {c.check for c in TRAINING_MUTANTS if c.breaks_training}
    uncovered = {name for name, entry in RUBRIC.items()} - targeted
    assert uncovered == set(), "checks that no mutant in tests/submissions makes fail"


def input_gradient_ratio(model: torch.nn.Module) -> float:
    """What test_resnet18_gradient_reaches_the_stem measures: |dL/dx| / |dL/dlogits| in eval mode."""
    model.eval()
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
        torch.manual_seed(seed)
        with_skips = input_gradient_ratio(resnet.resnet18(width=8))
        torch.manual_seed(seed)
        plain = input_gradient_ratio(resnet.ResNet(PlainBlock, [2, 2, 2, 2], width=8))
        assert with_skips > 10 * STEM_GRADIENT_BOUND, with_skips
        assert plain < STEM_GRADIENT_BOUND / 100, plain
