"""The grading's overall time limit, shared among its checks so that a hang spends only its own check's time.

Every check not yet started keeps its expected seconds (what the reference solution takes on the
reference machine, times this machine's speed factor); a check may use what is left beyond
those, up to its own limit from rubric.toml. A hang in one part therefore ends at its limit or
when only the later checks' time is left, whichever comes first, and the parts after it run in
full. Once the time is up, the checks left are not run: if an earlier hang took the time, their
message names that check; if none did, the machine was too slow for the course's standard, and
the grading says so ("not graded") instead of failing the student. So does a check whose code
timed out with less than `SLOW_CODE` times the reference's seconds left to it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

SLOW_CODE = 5  # times the reference solution's seconds: a check that runs this long is not cut short by load
TOO_SLOW = ("Not graded: the grading machine was too slow to finish this check within the grading's time limit "
            "(nothing in your code caused it). Resubmit, or ask your instructor for a regrade.")


@dataclass
class TimeShares:
    deadline: float | None  # time.monotonic() by which the checks must end; None: no overall limit
    factor: float  # this machine's speed factor (times --time-limit-scale)
    expected: dict[str, float]  # check id -> the reference solution's seconds on the reference machine
    order: list[str] = field(default_factory=list)  # the check ids of the grading
    started: set[str] = field(default_factory=set)  # the checks given their time: running, or done
    hang: str | None = None  # the first check whose student code waited out its full time limit
    too_slow: list[str] = field(default_factory=list)  # checks not graded for want of time no hang took

    def reserved_besides(self, check: str) -> float:
        """Seconds kept for the checks not started yet, but `check`: in a grading that runs its checks one
        after another, those after it; training checks side by side (`training_pool.py`) keep no time for
        each other once started, since each already has its own."""
        waiting = [c for c in self.order if c != check and c not in self.started]
        return self.factor * sum(self.expected.get(c, 0.0) for c in waiting)

    def allowance(self, check: str, own_limit: float) -> tuple[float, bool] | None:
        """(the seconds `check` may run, whether a timeout within them is the student's), or None when the
        grading's time is up. A check gets its own limit, less what the later checks keep, but never less than
        `SLOW_CODE` times its expected seconds while any time is left: code that much slower than the
        reference's is the student's, and a timeout within less time is the machine's."""
        self.started.add(check)
        if self.deadline is None:
            return own_limit, True
        left = self.deadline - time.monotonic()
        if left <= 0:
            return None
        enough = SLOW_CODE * self.factor * self.expected.get(check, 0.0)
        limit = min(own_limit, max(left - self.reserved_besides(check), enough), left)
        return limit, limit >= min(own_limit, enough)

    def record_hang(self, check: str) -> None:
        self.hang = self.hang or check

    def out_of_time(self, check: str, total: float) -> str:
        """Why `check` got no time, or too little: an earlier hang took it, or the machine was too slow."""
        if self.hang:
            return (f"Not run in full: the grading's time limit ({total:.0f} s) ran out because check {self.hang} "
                    "waited out its time limit on code that did not return. Fix that hang, and this check runs.")
        self.too_slow.append(check)
        return TOO_SLOW
