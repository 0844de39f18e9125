"""The training profile and torch threads a grading gets: the course's standard (rubric.toml) on every machine
that can run it, whatever its load; elsewhere the largest CPU profile that fits, said plainly."""
from __future__ import annotations

import subprocess
import sys

import pytest

from autograder import grading_setup as grading

from autograder.gradescope.run_autograder import ContainerTooSmall, check_container
from autograder.judge.resources import Resources
from autograder.rubric import course_standard
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


def test_a_container_too_small_for_the_courses_profile_names_the_setting_to_raise() -> None:
    course = profile_needs(course_standard().profile)
    with pytest.raises(ContainerTooSmall, match="raise the memory to at least") as raised:
        check_container(Resources(cpus=2, memory_bytes=course.memory_bytes - 2**20), 3600)
    assert "timeout" not in str(raised.value), "the time was enough: only the memory should be named"
    assert f"The course's training profile ({course_standard().profile})" in str(raised.value)
    with pytest.raises(ContainerTooSmall, match="timeout to at least"):
        check_container(Resources(cpus=0.5, memory_bytes=None), course.seconds(0.5) - 1)
    check_container(Resources(cpus=1, memory_bytes=course.memory_bytes), course.seconds(1))


def test_a_quota_under_one_cpu_stretches_the_time_and_more_cpus_do_not_shorten_it() -> None:
    smoke = profile_needs("smoke")
    assert smoke.seconds(0.5) == 2 * smoke.seconds_one_cpu and smoke.seconds(4) == smoke.seconds_one_cpu


class Config:
    """What the grading plugin reads of pytest's config: options and the stash."""

    def __init__(self, **options) -> None:
        self.options, self.stash = options, pytest.Stash()

    def getoption(self, name: str):
        return self.options.get(name)


@pytest.mark.parametrize("speed", [1.0, 1.6, 4.0])
def test_the_course_standard_holds_whatever_the_load(monkeypatch: pytest.MonkeyPatch, speed: float) -> None:
    """A busy machine (a speed factor of up to 4) gets longer time limits, never another profile or thread count."""
    monkeypatch.setattr(grading, "available", lambda: Resources(cpus=2, memory_bytes=3 * GiB))
    monkeypatch.setattr(grading, "speed_factor", lambda reference: speed)
    config = Config(time_limit=540, time_limit_scale=1.0)
    standard = course_standard()
    assert (grading.budget(config), grading.threads(config)) == (standard.profile, standard.threads)
    assert grading.budget_line(config, grading.resources(config)).startswith(
        f"budget: the {standard.profile} profile, the course's standard")
    assert grading.time_limit_factor(config) == speed


def test_a_laptop_that_cannot_run_the_courses_profile_says_which_standard_gradescope_applies(
        monkeypatch: pytest.MonkeyPatch) -> None:
    course, smaller = course_standard().profile, cpu_profile_names()[-1]
    assert course != smaller, "the course's profile is already the smallest"
    memory = profile_needs(smaller).memory_bytes
    monkeypatch.setattr(grading, "available", lambda: Resources(cpus=4, memory_bytes=memory))
    config = Config()
    assert grading.budget(config) == smaller
    line = grading.budget_line(config, grading.resources(config))
    assert f"NOT the course's standard: this machine cannot run the {course} profile" in line, line
    assert f"Gradescope grades under the {course} profile" in line, line


def test_threads_are_the_courses_on_any_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grading, "available", lambda: Resources(cpus=0.5, memory_bytes=None))
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    assert grading.threads(Config()) == course_standard().threads
    assert grading.threads_line(Config()) == f"torch threads: {course_standard().threads}, the course's standard"
    assert grading.threads(Config(threads=3)) == 3
    assert "(--threads); the course's standard is" in grading.threads_line(Config(threads=3))


def test_run_autograder_stays_torch_free() -> None:
    """run_autograder lives through the whole grading beside the judge and the worker: importing torch
    there (500 MB) cost a 1.25 GB container three training checks, the worker killed for memory."""
    probe = "import sys, autograder.gradescope.run_autograder; print(sorted({'torch', 'numpy'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_a_worker_killed_for_memory_is_the_students_only_where_the_reference_leaves_room() -> None:
    """The cpu profile's grading needs 1.5 GiB with one training worker: in a 1.5 GiB container that leaves nothing
    to spare, so an OOM kill there is not graded (a regrade); in 3 GiB it points at the student's code."""
    needed = profile_needs("cpu").memory_bytes
    said, not_graded = grading.memory_verdict(int(1.5 * 2**30), needed, "cpu")
    assert not_graded and said.startswith("Not graded: the grading container is too small"), said
    said, not_graded = grading.memory_verdict(3 * 2**30, needed, "cpu")
    assert not not_graded and "look for what your code allocates or keeps" in said, said
