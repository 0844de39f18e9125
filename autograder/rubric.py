"""The rubric: points, Gradescope visibility and time limit of every check, read from rubric.toml.

A check is a test function decorated with `@check`; the decorator looks the function up
in the rubric by name and attaches gradescope-utils' `weight`, `number` and `visibility`,
so the points live in one file and every check carries them the way Gradescope tools expect.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Callable, TypeVar

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10, as on Gradescope's Ubuntu 22.04 image
    import tomli as tomllib

from gradescope_utils.autograder_utils.decorators import number, visibility, weight

RUBRIC_FILE = Path(__file__).resolve().parent / "rubric.toml"
VISIBILITIES = {"visible", "hidden", "after_due_date", "after_published"}
F = TypeVar("F", bound=Callable)


TRAINED_PART = "trained networks"


@dataclass(frozen=True)
class Check:
    """One check: its id is its pytest item's name (the function's, or `test_trained_network[NAME]`)."""

    id: str
    part: str
    number: str
    points: float
    visibility: str
    timeout: float


@cache
def load_rubric(path: Path = RUBRIC_FILE) -> dict[str, Check]:
    """Every check of the rubric by id, numbered part.check in file order."""
    data = tomllib.loads(path.read_text())
    checks: dict[str, Check] = {}
    for p, part in enumerate(data["part"], start=1):
        for c, entry in enumerate(part["checks"], start=1):
            vis = entry.get("visibility", "visible")
            if vis not in VISIBILITIES:
                raise ValueError(f"{path}: {entry['id']} has visibility {vis!r}, not one of {sorted(VISIBILITIES)}")
            if entry["id"] in checks:
                raise ValueError(f"{path}: {entry['id']} is listed twice")
            checks[entry["id"]] = Check(entry["id"], part["name"], f"{p}.{c}", float(entry["points"]), vis,
                                        float(entry.get("timeout", data["timeout"])))
    trained = trained_networks(path)
    for c, network in enumerate(trained.networks, start=1):
        check_id = f"test_trained_network[{network.name}]"
        checks[check_id] = Check(check_id, TRAINED_PART, f"{len(data['part']) + 1}.{c}", network.points, "visible",
                                 trained.timeout)
    return checks


@dataclass(frozen=True)
class TrainedNetwork:
    """A network students train on their own GPU and submit as checkpoints/NAME.pt with its history NAME.json."""

    name: str
    module: str
    factory: str
    kwargs: dict
    dataset: str
    accuracy: float  # what the check asks, on the grading test images
    points: float


@dataclass(frozen=True)
class TrainedNetworks:
    """rubric.toml's [trained]: the networks (none unless enabled), the size cap and each check's time."""

    networks: tuple[TrainedNetwork, ...]
    max_bytes: int
    timeout: float
    seconds: float  # what evaluating one takes on the reference machine, kept for each still to come


@cache
def trained_networks(path: Path = RUBRIC_FILE) -> TrainedNetworks:
    data = tomllib.loads(path.read_text())
    section = data.get("trained", {})
    listed = section.get("networks", []) if section.get("enabled", False) else []
    for n in listed:
        if not str(n["name"]).isidentifier():  # it names files: checkpoints/NAME.pt
            raise ValueError(f"{path}: trained network name {n['name']!r} is not a plain name")
        if "accuracy" not in n:
            raise ValueError(f"{path}: trained network {n['name']} has no accuracy: set the one your solution's run "
                             "supports (README, \"Grading the networks students trained\")")
    networks = tuple(TrainedNetwork(n["name"], n["module"], n["factory"], dict(n.get("kwargs", {})), n["dataset"],
                                    float(n["accuracy"]), float(n["points"])) for n in listed)
    return TrainedNetworks(networks, int(float(section.get("max_megabytes", 100)) * 2**20),
                           float(section.get("timeout", data["timeout"])), float(section.get("seconds", 0.0)))


def number_order(number: str) -> tuple[int, ...]:
    """Sort key of a check number "part.check", in rubric order (1.10 comes after 1.9)."""
    return tuple(map(int, number.split(".")))


def student_files() -> tuple[str, ...]:
    """The files students write, in rubric order: the parts named after a module file (the solution's
    files with solution markers; tests/test_submission_files.py holds the two together)."""
    return tuple(dict.fromkeys(c.part for c in load_rubric().values() if c.part.endswith(".py")))


@cache
def reference_seconds(path: Path = RUBRIC_FILE) -> float:
    """What `speed.workload_seconds` took on the machine the time limits were set on."""
    return float(tomllib.loads(path.read_text())["reference_seconds"])


@cache
def leaderboard(path: Path = RUBRIC_FILE) -> bool:
    """Whether results.json carries a leaderboard: each training check's test accuracy (rubric.toml's
    `leaderboard`)."""
    return bool(tomllib.loads(path.read_text()).get("leaderboard", False))


@dataclass(frozen=True)
class Standard:
    """The course's grading standard (rubric.toml): the training profile and torch threads of every grading."""

    profile: str
    threads: int

    def describe(self) -> str:
        return f"the {self.profile} profile, {self.threads} torch thread{'s' if self.threads > 1 else ''}"


@cache
def course_standard(path: Path = RUBRIC_FILE) -> Standard:
    data = tomllib.loads(path.read_text())
    return Standard(str(data["profile"]), int(data["training_threads"]))


@cache
def unit_check_seconds(path: Path = RUBRIC_FILE) -> float:
    """What the solution's unit check takes at most on the reference machine (rubric.toml)."""
    return float(tomllib.loads(path.read_text())["unit_check_seconds"])


@cache
def gradescope_timeout(path: Path = RUBRIC_FILE) -> float:
    """The timeout of Gradescope's Autograder Settings, which run_autograder's --time-limit defaults to."""
    return float(tomllib.loads(path.read_text())["gradescope_timeout"])


def check(func: F) -> F:
    """Give a test its rubric entry (points, number, visibility) under its own name."""
    entry = load_rubric().get(func.__name__)
    if entry is None:
        raise LookupError(f"{func.__name__} is not in {RUBRIC_FILE.name}: give it points there")
    return visibility(entry.visibility)(number(entry.number)(weight(entry.points)(func)))


def rubric_entry(item: object) -> Check | None:
    """The rubric check a pytest item grades, if it is one: looked up by the item's name, so each network of a
    parametrized check has an entry of its own."""
    return load_rubric().get(getattr(item, "name", ""))
