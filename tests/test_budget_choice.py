"""The training profile a grading gets by default: the largest whose measured needs fit the container."""
from __future__ import annotations

import pytest

from autograder.resources import Resources
from autograder.run_autograder import ContainerTooSmall, choose_budget
from autograder.training_profiles import fitting_profile, profile_names, profile_needs

GiB = 2**30
CONTAINERS = [(cpus, memory, limit) for cpus in (0.5, 1, 2, 4) for memory in (0.75 * GiB, 1.5 * GiB, 3 * GiB, None)
              for limit in (300, 600, 2400, None)]


def fits(name: str, cpus: float, memory: float | None, limit: float | None) -> bool:
    needs = profile_needs(name)
    return (memory is None or memory >= needs.memory_bytes) and (limit is None or needs.seconds(cpus) <= limit)


@pytest.mark.parametrize(("cpus", "memory", "limit"), CONTAINERS)
def test_the_chosen_profile_fits_and_no_larger_one_does(cpus: float, memory: float | None, limit: float | None):
    chosen = fitting_profile(cpus, memory, limit)
    larger = profile_names() if chosen is None else profile_names()[:profile_names().index(chosen)]
    assert chosen is None or fits(chosen, cpus, memory, limit), f"{chosen} does not fit {cpus}, {memory}, {limit}"
    assert not [name for name in larger if fits(name, cpus, memory, limit)], f"a larger profile than {chosen} fits"


def test_profiles_go_from_largest_to_smallest() -> None:
    needs = [profile_needs(name) for name in profile_names()]
    assert all(a.seconds_one_cpu >= b.seconds_one_cpu and a.memory_bytes >= b.memory_bytes
               for a, b in zip(needs, needs[1:])), needs


def test_a_container_too_small_for_any_profile_names_the_setting_to_raise() -> None:
    smallest = profile_needs(profile_names()[-1])
    with pytest.raises(ContainerTooSmall, match="raise the memory to at least") as raised:
        choose_budget(Resources(cpus=2, memory_bytes=smallest.memory_bytes - 2**20), 3600)
    assert "timeout" not in str(raised.value), "the time was enough: only the memory should be named"
    with pytest.raises(ContainerTooSmall, match="timeout to at least"):
        choose_budget(Resources(cpus=0.5, memory_bytes=None), smallest.seconds(0.5) - 1)
