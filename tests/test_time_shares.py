"""The grading's overall time limit shared among its checks: a hang spends its own check's time, the checks
after it keep theirs, and time that runs out with no hang to blame is the machine's, not the student's."""
from __future__ import annotations

import pytest

from autograder.judge import time_shares
from autograder.judge.time_shares import SLOW_CODE, TOO_SLOW, TimeShares

CHECKS = ["unit_a", "unit_b", "training_a", "training_b"]
EXPECTED = {"unit_a": 1.0, "unit_b": 1.0, "training_a": 40.0, "training_b": 30.0}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [0.0]
    monkeypatch.setattr(time_shares.time, "monotonic", lambda: now[0])
    return now


def shares(deadline: float | None, factor: float = 1.0) -> TimeShares:
    return TimeShares(deadline, factor, EXPECTED, order=list(CHECKS))


def test_without_an_overall_limit_every_check_gets_its_own(clock: list[float]) -> None:
    assert shares(None).allowance("unit_a", 60) == (60, True)


def test_a_check_gets_what_the_later_checks_do_not_need(clock: list[float]) -> None:
    graded = shares(deadline=250, factor=2.0)  # the later checks keep 2 * (1 + 40 + 30) = 142 s
    assert graded.allowance("unit_a", 60) == (60, True)
    clock[0] = 150  # 100 s left, 142 kept: unit_a still gets SLOW_CODE times its expected seconds
    limit, students = graded.allowance("unit_a", 60)
    assert limit == SLOW_CODE * 2.0 * 1.0 and students
    assert graded.allowance("training_b", 300) == (100, False), "the last check gets what is left: the machine's"


def test_a_hang_leaves_the_later_checks_their_time(clock: list[float]) -> None:
    graded = shares(deadline=600)
    graded.allowance("unit_a", 60)
    limit, _ = graded.allowance("unit_b", 600)  # an endless loop here runs until its limit
    assert limit == 600 - 70, "unit_b could take the training checks' time"
    clock[0] = limit
    assert graded.allowance("training_a", 300)[0] >= 40 and graded.allowance("training_b", 300)[0] >= 30


def test_time_up_is_blamed_on_the_hang_that_took_it(clock: list[float]) -> None:
    graded = shares(deadline=100)
    graded.record_hang("5.1 (test_train_one_epoch_uses_train_mode)")
    graded.record_hang("5.2 (a later one)")
    clock[0] = 100
    assert graded.allowance("training_b", 300) is None
    message = graded.out_of_time("6.2", 100)
    assert "check 5.1 (test_train_one_epoch_uses_train_mode) waited out its time limit" in message
    assert graded.too_slow == []


def test_time_up_with_no_hang_is_the_machines(clock: list[float]) -> None:
    graded = shares(deadline=100)
    clock[0] = 101
    assert graded.allowance("training_b", 300) is None
    assert graded.out_of_time("6.2", 100) == TOO_SLOW and graded.too_slow == ["6.2"]


def test_checks_side_by_side_keep_no_time_for_each_other(clock: list[float]) -> None:
    graded = shares(deadline=250)
    graded.allowance("unit_a", 60), graded.allowance("unit_b", 60)
    # Both training checks start at once (training_pool.py): the first keeps the second's 30 s until it starts,
    # and once it has, neither keeps any for the other.
    assert graded.allowance("training_a", 300) == (250 - 30, True)
    assert graded.allowance("training_b", 300) == (250, True)
