"""A hang costs only what it touches: uploads correct but for one function that never returns, graded through
run_autograder with Gradescope's default timeout, keep every point of every part that does not call it.

Three cases here, one of each kind (`tests/submissions/hangs.py` has all 24; `python -m tests.benchmark_hangs`
grades them and prints their wall times), at a quarter of the rubric's time limits: a hang costs less.
"""
from __future__ import annotations

import pytest

from autograder.rubric import load_rubric

from .gradescope_layout import SimulatedGradescope
from .grading import files_behind
from .submissions.hangs import SAYS, Hang
from .test_gradescope import assert_complete_and_valid

CASES = [Hang("senet.py", "SEBlock.forward", "sleep"), Hang("train.py", "train_one_epoch", "endless_loop"),
         Hang("densenet.py", "DenseLayer.forward", "stdin")]
GRADESCOPE_TIMEOUT = 600


def lost_only_what_it_touches(hang: Hang, results: dict) -> list[dict]:
    """The checks the hang cost, asserted to be only those of its file (and the training built from it)."""
    by_number = {c.number: c.id for c in load_rubric().values()}
    lost = [t for t in results["tests"] if t["score"] < t["max_score"]]
    collateral = [t["name"] for t in lost if hang.file not in files_behind(by_number[t["number"]])]
    assert not collateral, f"{hang.name}: checks of parts it does not touch lost points: {collateral}"
    return lost


@pytest.mark.parametrize("hang", CASES, ids=[h.name for h in CASES])
def test_a_hang_costs_only_the_part_that_calls_it(hang: Hang, gradescope: SimulatedGradescope,
                                                   record_property) -> None:
    graded = gradescope.grade(hang.files(), "--time-limit", str(GRADESCOPE_TIMEOUT), "--time-limit-scale", "0.25")
    assert_complete_and_valid(graded)
    lost = lost_only_what_it_touches(hang, graded.results)
    record_property("summary", f"| hang: {hang.name} | {graded.results['score']:g} | {graded.seconds:.0f} s | "
                               f"{len(lost)} checks of {hang.file} lost |")
    assert lost, f"{hang.name} lost nothing"
    assert SAYS[hang.kind] in lost[0]["output"], lost[0]["output"]
    if hang.kind != "stdin":
        later = [t["output"] for t in lost[1:]]
        assert all("did not return within its time limit" in said for said in later), later
        assert any("so it was not tried again" in said for said in later), "a known hang was run again"
    assert not graded.results["extra_data"]["not_graded"], "the hang was blamed on the machine"
