"""Hostile submissions graded end to end through run_autograder: no unearned points, valid results.

Each case of `tests/submissions/hostile.py` is uploaded to the stand-in /autograder and
graded with the smoke profile and a quarter of the rubric's time limits, a tenth for the endless
loop (hangs cost less).
The run's summary lists a table row per attack: points, time, feedback.
"""
from __future__ import annotations

import socket
from typing import Iterator

import pytest

from autograder.judge.sandbox import kill_processes_of, process_states

from .loopback import heard
from .gradescope_layout import SimulatedGradescope
from .grading import files_behind
from .submissions.hostile import HOSTILE, TIME_LIMIT_SCALE, Hostile
from .test_gradescope import assert_complete_and_valid

SECRETS = ("LEAKED", "NETWORK-REACHED")


@pytest.fixture(autouse=True)
def nothing_left_for_the_next_case(gradescope: SimulatedGradescope) -> Iterator[None]:
    """Whatever a case leaves running is swept after it: one escaped attack must not spoil the cases after it."""
    yield
    if gradescope.uid is not None:
        kill_processes_of(gradescope.uid)


@pytest.mark.parametrize("hostile", HOSTILE, ids=[h.name for h in HOSTILE])
def test_a_hostile_submission_earns_nothing_it_did_not_earn(hostile: Hostile, gradescope: SimulatedGradescope,
                                                            listener: list[socket.socket], record_property) -> None:
    if hostile.needs_root and gradescope.uid is None:
        pytest.skip("needs the sandbox's own user and network namespace: run the tests as root")
    graded = gradescope.grade(hostile.files(), "--time-limit-scale", str(TIME_LIMIT_SCALE))
    lost = [t for t in graded.results["tests"] if t["score"] < t["max_score"]]
    said = next((line for line in (lost[0]["output"].splitlines() if lost else [])
                 if line.strip() and not line.startswith("Expected:")), "-")[:140]
    record_property("summary", f"| {hostile.name} | {graded.results['score']:g} | {graded.seconds:.0f} s | {said} |")
    assert_complete_and_valid(graded)
    failure = [t["output"] for t in graded.results["tests"] if t["name"] == "autograder error"]
    assert not failure, f"the grader itself failed: {failure[0]}\n{graded.stdout[-4000:]}"
    if hostile.base == "skeleton":
        assert graded.results["score"] == 0, f"{hostile.name} earned {graded.results['score']} points"
    else:
        touched = {name for name, _, _ in hostile.edits}
        assert hostile.loses <= graded.failed, f"not caught: {sorted(hostile.loses - graded.failed)}"
        collateral = {c for c in graded.failed if not files_behind(c) & touched}
        assert not collateral, f"checks of untouched parts failed: {sorted(collateral)}"
    everything = graded.stdout + "\n".join(t["output"] for t in graded.results["tests"]) + graded.results["output"]
    assert not [s for s in SECRETS if s in everything], "the submission reached a secret or the network"
    assert heard(listener) == [], "the submission reached a listener on localhost"
    if gradescope.uid is not None:
        assert process_states(gradescope.uid) == {}, "processes of the sandbox user outlived the grading"
