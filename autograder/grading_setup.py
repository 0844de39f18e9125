"""What one grading applies, chosen once per pytest session and kept in its stash: the machine's resources and
speed, the training profile (the course's standard, `--budget`), the torch threads and the time shares; and the
stash keys of what its checks record for the summary and results.json.

The machine's CPUs and memory choose how many training checks run side by side (`training_slots`), which moves no
accuracy. The machine's speed moves only the time limits (a slower or busier machine gets longer ones), never the
standard: the same code and the same course settings get the same profile, threads and thresholds.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import torch

from .judge.resources import Resources, available
from .judge.speed import speed_factor
from .judge.time_shares import TimeShares
from .judge.worker_client import InProcessWorker, SubprocessWorker, Worker
from .rubric import (TRAINED_PART, Standard, course_standard, load_rubric, reference_seconds, trained_networks,
                     unit_check_seconds)
from .training_profiles import grading_profile, load_profile, load_thresholds, profile_device, profile_needs

if TYPE_CHECKING:  # the sandbox is Linux only: imported when --sandbox asks for one
    from .judge.sandbox import Sandbox

STARTED = pytest.StashKey[float]()
SPEED = pytest.StashKey[float]()
BUDGET = pytest.StashKey[str]()
RESOURCES = pytest.StashKey[Resources]()
SHARES = pytest.StashKey[TimeShares]()
OUTCOMES = pytest.StashKey[dict]()  # what the checks recorded: their outcomes, training curves, leaderboard
CURVES = pytest.StashKey[dict]()
LEADERBOARD = pytest.StashKey[list]()
CLAIMS = pytest.StashKey[list]()  # trained networks whose measured accuracy is far from their history's
FULL_LIMIT = pytest.StashKey[bool]()  # on an item: whether its check ran with its own full time limit
TOO_SMALL = pytest.StashKey[list]()  # checks not graded: a worker ran out of memory the reference also nearly needs
MEMORY_HEADROOM = 0.75  # the share of a container's memory the reference's grading may need with room to spare
RESULTS_RESERVE = 10.0  # seconds of --time-limit kept back for writing results.json after the last check


def resources(config: pytest.Config) -> Resources:
    """The CPUs and memory this grading may use, read once: every check sees what the budget was chosen on."""
    if RESOURCES not in config.stash:
        config.stash[RESOURCES] = available()
    return config.stash[RESOURCES]


def machine_speed(config: pytest.Config) -> float:
    """This machine's speed factor, measured once at the start (`speed.py`)."""
    if SPEED not in config.stash:
        config.stash[SPEED] = speed_factor(reference_seconds())
    return config.stash[SPEED]


def budget(config: pytest.Config) -> str:
    """--budget, else the course's profile wherever it runs (`grading_profile`); never a choice by load."""
    if BUDGET not in config.stash:
        r = resources(config)
        config.stash[BUDGET] = config.getoption("budget") or grading_profile(
            course_standard().profile, r.cpus, r.memory_bytes, config.getoption("time_limit"), torch.cuda.is_available())
    return config.stash[BUDGET]


def budget_line(config: pytest.Config, r: Resources) -> str:
    """Which training profile this grading runs and why: the course's standard, or why not."""
    chosen, course = budget(config), course_standard().profile
    if config.getoption("budget"):
        return f"budget: the {chosen} profile (--budget); the course's standard is the {course} profile"
    needs = (f" (the solution's grading needs {profile_needs(chosen).describe(r.cpus)})"
             if profile_device(chosen) == "cpu" else f", on {profile_device(chosen)}")
    if chosen == course:
        return f"budget: the {chosen} profile, the course's standard{needs}"
    why = ("it trains on CUDA, calibrated, which this machine lacks" if profile_device(course) == "cuda" else
           f"it needs {profile_needs(course).describe(r.cpus)}; this machine has {r.describe()}"
           + (f" and --time-limit {config.getoption('time_limit'):.0f} s" if config.getoption("time_limit") else ""))
    return (f"budget: the {chosen} profile{needs}, NOT the course's standard: this machine cannot run the {course} "
            f"profile ({why}). Gradescope grades under the {course} profile, so its training checks may score "
            "differently there")


def time_shares(config: pytest.Config) -> TimeShares:
    """The overall --time-limit shared among the checks (`time_shares.py`), less what writing results needs."""
    if SHARES not in config.stash:
        limit = config.getoption("time_limit")
        deadline = None if limit is None else config.stash[STARTED] + limit - RESULTS_RESERVE
        config.stash[SHARES] = TimeShares(deadline, time_limit_factor(config), expected_seconds(budget(config)))
    return config.stash[SHARES]


def expected_seconds(profile: str) -> dict[str, float]:
    """Check id -> what the reference solution takes on the reference machine: rubric.toml's figure for a unit
    check, the calibrated median seconds for a training check."""
    calibrated, trained = load_thresholds(profile), trained_networks().seconds
    return {check.id: calibrated.get(check.id, {}).get("seconds", 0.0) if check.part == "training"
            else trained if check.part == TRAINED_PART else unit_check_seconds() for check in load_rubric().values()}


def check_time_limit(config: pytest.Config, check_id: str) -> tuple[float, bool] | None:
    """(the seconds check `check_id` may run, whether a timeout within them is the student's): rubric.toml's
    limit times the speed factor, within the check's share of the grading's time; None under --inprocess (no
    limits). Fails the check when the grading's time is up."""
    if config.getoption("inprocess"):
        return None
    entry, shares = load_rubric()[check_id], time_shares(config)
    allowed = shares.allowance(entry.id, entry.timeout * time_limit_factor(config))
    if allowed is None:
        pytest.fail(shares.out_of_time(entry.number, config.getoption("time_limit")))
    return allowed


def threads(config: pytest.Config) -> int:
    """Torch threads for the graded code: --threads, else the course's standard, on every machine."""
    return config.getoption("threads") or course_standard().threads


def threads_line(config: pytest.Config) -> str:
    standard = course_standard().threads
    if threads(config) == standard:
        return f"torch threads: {standard}, the course's standard"
    return f"torch threads: {threads(config)} (--threads); the course's standard is {standard}"


def time_limit_factor(config: pytest.Config) -> float:
    """What every check's time limit is multiplied by: --time-limit-scale times this machine's speed factor."""
    return config.getoption("time_limit_scale") * machine_speed(config)


def standard_line(applied: dict) -> str:
    """The standard a grading applied, in words, beside the course's when it is another."""
    used = Standard(applied["profile"], applied["threads"]).describe()
    return used + (", the course's standard" if applied["course"] else
                   f"; the course's standard is {course_standard().describe()}")


def standard_applied(config: pytest.Config) -> dict:
    """The standard this grading applied: its profile, threads and thresholds, and whether it is the course's."""
    profile, course = budget(config), course_standard()
    return {"profile": profile, "threads": threads(config),
            "course": (profile, threads(config)) == (course.profile, course.threads),
            "thresholds": {name: entry["threshold"] for name, entry in load_thresholds(profile).items()}}


def start_worker(config: pytest.Config, sandbox: Sandbox | None, sweeps: bool = True) -> Worker:
    """A worker for the graded folder (`worker_client.py`): in this process under --inprocess, else a sandboxed
    subprocess on the standard's threads; `sweeps=False` for one of several side by side (training_pool.py)."""
    impl = Path(config.getoption("impl")).resolve()
    if config.getoption("inprocess"):
        return InProcessWorker(impl)
    return SubprocessWorker(impl, sandbox, threads=threads(config), portable=config.getoption("portable"),
                            sweeps=sweeps)


def training_slots(config: pytest.Config) -> int:
    """How many training checks run side by side, each in a worker of its own: one per CPU the grading may use at
    the standard's thread count, as many as its memory holds (the profile's measured needs with one worker,
    then each further worker's own peak), never more than the profile has checks, nor than --training-slots.
    Under --inprocess, one."""
    if config.getoption("inprocess"):
        return 1
    r, chosen = resources(config), budget(config)
    slots = min(int(r.cpus // threads(config)), len(load_profile(chosen)), config.getoption("training_slots") or 99)
    if r.memory_bytes is not None and profile_device(chosen) == "cpu":
        needs = profile_needs(chosen)
        slots = min(slots, 1 + (r.memory_bytes - needs.memory_bytes) // needs.worker_bytes)
    return max(1, slots)


def reference_memory_bytes(config: pytest.Config) -> int:
    """What the reference solution's grading needs under this grading's profile, with its training checks side by
    side as this grading runs them (the profile's measured needs)."""
    needs = profile_needs(budget(config))
    return needs.memory_bytes + (training_slots(config) - 1) * needs.worker_bytes


def memory_verdict(memory_bytes: int, needed_bytes: int | None, profile: str) -> tuple[str, bool]:
    """What a worker killed for memory tells the student, and whether the check is not graded rather than failed:
    where the reference solution's grading (`needed_bytes`, None on a GPU profile) leaves less than a quarter of
    the container's memory to spare, running out says nothing about the student's code (a regrade)."""
    allows = f"{memory_bytes / 2**30:.2f} GiB"
    if needed_bytes is None:
        return f"This grading allows {allows} in all: look for what your code allocates or keeps.", False
    if needed_bytes > MEMORY_HEADROOM * memory_bytes:
        return (f"Not graded: the grading container is too small ({allows}; the reference solution's grading needs "
                f"{needed_bytes / 2**30:.2f} GiB, less than a quarter to spare), so running out of memory here says "
                "nothing about your code. Resubmit, or ask your instructor for a regrade.", True)
    return (f"This grading allows {allows} in all; the reference solution's grading under the {profile} profile "
            f"needs {needed_bytes / 2**30:.2f} GiB, so look for what your code allocates or keeps.", False)


def training_line(config: pytest.Config) -> str:
    slots = training_slots(config)
    if slots == 1:
        return "training checks: one at a time"
    return (f"training checks: {slots} side by side, each in a worker of its own on {threads(config)} torch "
            f"thread{'s' * (threads(config) > 1)} (the same accuracies as one at a time)")
