"""The grader graded, unit-mutant half: every one-bug mutant of the solution loses exactly the
points of the unit checks that target its bug (`test_validity_trained.py` holds the other half).
"""
from __future__ import annotations

import re

import pytest

from autograder.rubric import load_rubric

from .grading import Grade, grade_corpus, unit_mutant_corpus
from .submissions.mutants import MUTANTS

UNIT_POINTS = sum(c.points for c in load_rubric().values() if c.part != "training")


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


def test_unit_mutants_are_graded_on_the_unit_checks_only(graded_mutants: dict[str, Grade]) -> None:
    for mutant in MUTANTS:
        assert graded_mutants[f"mutant:{mutant.name}"].max_score == UNIT_POINTS


def test_a_reference_mismatch_says_how_the_output_departs(graded_mutants: dict[str, Grade]) -> None:
    """A wrong shape is named with both shapes; a wrong value with the size of the error."""
    by_shape = graded_mutants["mutant:concatenation_missing_input"].feedback("test_dense_layer_matches_reference")
    wrong_shape = r"returned shape \(\d+, 4, \d+, \d+\) where the spec's computation gives \(\d+, 12,"
    assert re.search(wrong_shape, by_shape), by_shape
    by_value = graded_mutants["mutant:no_shortcut"].feedback("test_basic_block_matches_reference")
    assert re.search(r"differs from the spec's computation by up to \d", by_value), by_value
