"""The training profile a grading gets by default, the largest whose measured needs fit the container
as fast as the machine runs now, and its torch threads."""
from __future__ import annotations

import subprocess
import sys

import pytest

from autograder import conftest as grading

from autograder.gradescope.run_autograder import ContainerTooSmall, check_container
from autograder.judge.resources import Resources
from autograder.training_profiles import cpu_profile_names, fitting_profile, profile_needs

GiB = 2**30
CONTAINERS = [(cpus, memory, limit) for cpus in (0.5, 1, 2, 4) for memory in (0.75 * GiB, 1.5 * GiB, 3 * GiB, None)
              for limit in (300, 600, 2400, None)]


def fits(name: str, cpus: float, memory: float | None, limit: float | None) -> bool:
    needs = profile_needs(name)
    return (memory is None or memory >= needs.memory_bytes) and (limit is None or needs.seconds(cpus) <= limit)


@pytest.mark.parametrize(("cpus", "memory", "limit"), CONTAINERS)
def test_the_chosen_profile_fits_and_no_larger_one_does(cpus: float, memory: float | None, limit: float | None):
    chosen = fitting_profile(cpus, memory, limit)
    names = cpu_profile_names()
    larger = names if chosen is None else names[:names.index(chosen)]
    assert chosen is None or fits(chosen, cpus, memory, limit), f"{chosen} does not fit {cpus}, {memory}, {limit}"
    assert not [name for name in larger if fits(name, cpus, memory, limit)], f"a larger profile than {chosen} fits"


def test_profiles_go_from_largest_to_smallest() -> None:
    needs = [profile_needs(name) for name in cpu_profile_names()]
    assert all(a.seconds_one_cpu >= b.seconds_one_cpu and a.memory_bytes >= b.memory_bytes
               for a, b in zip(needs, needs[1:])), needs


def test_a_container_too_small_for_any_profile_names_the_setting_to_raise() -> None:
    smallest = profile_needs(cpu_profile_names()[-1])
    with pytest.raises(ContainerTooSmall, match="raise the memory to at least") as raised:
        check_container(Resources(cpus=2, memory_bytes=smallest.memory_bytes - 2**20), 3600)
    assert "timeout" not in str(raised.value), "the time was enough: only the memory should be named"
    with pytest.raises(ContainerTooSmall, match="timeout to at least"):
        check_container(Resources(cpus=0.5, memory_bytes=None), smallest.seconds(0.5) - 1)


def test_a_slower_machine_gets_a_smaller_profile() -> None:
    """A speed factor of 3 (a loaded or slow machine) stretches the cpu profile's grading past 600 s."""
    cpu, smoke = profile_needs("cpu"), profile_needs("smoke")
    limit = 600
    assert cpu.seconds(2) <= limit < cpu.seconds(2, speed=3.0) and smoke.seconds(2, speed=3.0) <= limit
    assert fitting_profile(2, 3 * GiB, limit) == "cpu"
    assert fitting_profile(2, 3 * GiB, limit, speed=3.0) == "smoke"


def test_a_quota_under_one_cpu_is_not_counted_twice() -> None:
    """Under half a CPU the speed workload runs at half speed too: a factor of 2 there is the quota itself."""
    smoke = profile_needs("smoke")
    assert smoke.seconds(0.5, speed=2.0) == smoke.seconds(0.5) == 2 * smoke.seconds_one_cpu
    assert smoke.seconds(0.5, speed=3.0) == 3 * smoke.seconds_one_cpu


class Config:
    """What the grading plugin reads of pytest's config: options and the stash."""

    def __init__(self, **options) -> None:
        self.options, self.stash = options, pytest.Stash()

    def getoption(self, name: str):
        return self.options.get(name)


@pytest.mark.parametrize(("speedup", "expected"), [(1.4, 2), (0.4, 1)])
def test_threads_that_stall_each_other_are_cut_to_one(monkeypatch: pytest.MonkeyPatch, speedup: float,
                                                      expected: int) -> None:
    """Beside a busy process, 2 torch threads ran a third as fast as one: the grading trains on one then."""
    monkeypatch.setattr(grading, "available", lambda: Resources(cpus=2, memory_bytes=None))
    monkeypatch.setattr(grading, "parallel_speedup", lambda count: speedup)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    config = Config(budget="cpu")
    assert grading.threads(config, 2) == expected
    line = grading.threads_line(config)
    assert line.startswith(f"torch threads: {expected} for training"), line
    if expected == 1:
        assert "not 2: 2 ran at 0.40x the speed of one" in line, line


def test_one_thread_asked_for_is_not_measured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grading, "available", lambda: Resources(cpus=2, memory_bytes=None))
    monkeypatch.setattr(grading, "parallel_speedup", lambda count: pytest.fail("measured for one thread"))
    assert grading.threads(Config(threads=1), 2) == 1


def test_run_autograder_stays_torch_free() -> None:
    """run_autograder lives through the whole grading beside the judge and the worker: importing torch
    there (500 MB) cost a 1.25 GB container three training checks, the worker killed for memory."""
    probe = "import sys, autograder.gradescope.run_autograder; print(sorted({'torch', 'numpy'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]", done.stdout
