"""The grader graded, unit-mutant half: every one-bug mutant of the solution loses exactly the
points of the unit checks that target its bug (`test_validity_trained.py` holds the other half).
"""
from __future__ import annotations

import re

import pytest

from autograder.rubric import load_rubric

from .grading import Grade, grade_corpus, unit_mutant_corpus
from .submissions.mutants import MUTANTS



@pytest.fixture(scope="session")
def graded_mutants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Grade]:
    """Every unit mutant, graded once, end to end (about 9 minutes on one core)."""
    return grade_corpus(unit_mutant_corpus, tmp_path_factory.mktemp("mutants"))


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_loses_exactly_the_targeted_points(graded_mutants: dict[str, Grade], mutant) -> None:
    result = graded_mutants[f"mutant:{mutant.name}"]
    assert result.failed, f"{mutant.name} ({mutant.bug}) scored full marks"
    assert result.failed == mutant.caught_by, (
        f"{mutant.name}: unexpectedly failed {sorted(result.failed - mutant.caught_by)}, "
        f"unexpectedly passed {sorted(mutant.caught_by - result.failed)}")
    for test in result.results["tests"]:
        assert "autograder error" not in test["output"], test


def test_unit_mutants_are_graded_on_their_files_checks(graded_mutants: dict[str, Grade]) -> None:
    for mutant in MUTANTS:
        part_points = sum(c.points for c in load_rubric().values() if c.part == mutant.file)
        assert graded_mutants[f"mutant:{mutant.name}"].max_score == part_points, mutant.name


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_every_mutant_loses_points_before_the_due_date(mutant) -> None:
    """A bug must cost points in a check the student sees when they submit, not only after the due date."""
    visible = {c.id for c in load_rubric().values() if c.visibility == "visible"}
    assert mutant.caught_by & visible, (
        f"{mutant.name} ({mutant.bug}) is caught only by {sorted(mutant.caught_by)}, none of them visible")


# How a message sets a figure of the submission beside the spec's (parameter counts, layer shapes).
HAS_AND_EXPECTED = [re.compile(r"has ([\d,]+) parameters[;,] the spec implies ([\d,]+)"),
                    re.compile(r"it has (\[.*?\]), the spec's layers have (\[.*?\])")]


def test_no_message_sets_equal_figures_side_by_side(graded_mutants: dict[str, Grade]) -> None:
    """A failure that says 'has X, expected X' tells the student nothing (the false fail of issue 14)."""
    for name, result in graded_mutants.items():
        for test in result.results["tests"]:
            for pattern in HAS_AND_EXPECTED:
                for has, expected in pattern.findall(test["output"]):
                    assert has != expected, f"{name}: {test['output']}"


def test_a_reference_mismatch_says_how_the_output_departs(graded_mutants: dict[str, Grade]) -> None:
    """A wrong shape is named with both shapes; a wrong value with the size of the error."""
    by_shape = graded_mutants["mutant:concatenation_missing_input"].feedback("test_dense_layer_matches_reference")
    wrong_shape = r"returned shape \(\d+, 4, \d+, \d+\) where the spec's computation gives \(\d+, 12,"
    assert re.search(wrong_shape, by_shape), by_shape
    by_value = graded_mutants["mutant:no_shortcut"].feedback("test_basic_block_matches_reference")
    assert re.search(r"differs from the spec's computation by up to \d", by_value), by_value


def test_bn_settings_and_clipping_are_named_in_the_students_terms(graded_mutants: dict[str, Grade]) -> None:
    """What a train-mode output cannot show (issue 36) is named: the module, the setting, the figure."""
    said = {name: graded_mutants[f"mutant:{name}"].feedback(check) for name, check in [
        ("basic_block_tensorflow_momentum", "test_basic_block_computes_the_spec"),
        ("dense_layer_eps", "test_dense_layer_computes_the_spec"),
        ("depthwise_separable_functional_momentum", "test_depthwise_separable_computes_the_spec"),
        ("clipped_gradients", "test_train_one_epoch_clears_gradients")]}
    assert "BatchNorm2d 'bn1' has momentum 0.99" in said["basic_block_tensorflow_momentum"], said
    assert "BatchNorm2d 'bn2' has eps 0.001" in said["dense_layer_eps"], said
    assert re.search(r"running statistics of BatchNorm2d 'bn1' .* a momentum of 0\.3 ",
                     said["depthwise_separable_functional_momentum"]), said
    assert re.search(r"at step 1 .* scaled by 0\.0\d+, from a total norm of \d+.* to 1: it was clipped",
                     said["clipped_gradients"]), said
