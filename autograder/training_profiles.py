"""The training checks' settings, read from training_profiles.toml, and their thresholds.

Standard library only (no torch), so that command lines and run_autograder can name the
profiles without importing torch.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10, as on Gradescope's Ubuntu 22.04 image
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PROFILES_FILE = HERE / "training_profiles.toml"
THRESHOLDS_FILE = HERE / "thresholds.json"
# The grader's code that a training run goes through, beside the solution's files: a change in any of
# them may move the accuracies the thresholds were calibrated on.
TRAINING_CODE = ("autograder/training.py", "autograder/worker/session.py", "autograder/worker/training_requests.py",
                 "autograder/worker/training_run.py", "autograder/worker/tensor_batches.py",
                 "autograder/worker/course_initialisation.py", "autograder/worker/tracing.py")
PER_ENTRY = ("epochs", "batch_size", "lr")  # settings every profile entry gives; [settings] gives the rest
NOT_SETTINGS = ("kwargs", "train", "test")  # what else a profile entry says


@dataclass(frozen=True)
class TrainingCheck:
    name: str
    dataset: str
    module: str | None
    factory: str
    kwargs: dict
    student_loop: bool
    train: int
    test: int
    settings: dict

    @property
    def student_file(self) -> str:
        """The graded file whose code this check trains: the loop's, or the network's."""
        return "train.py" if self.student_loop else f"{self.module}.py"


@dataclass(frozen=True)
class Needs:
    """What grading the solution under a profile takes (`python -m autograder.benchmarks.container`)."""

    memory_bytes: int  # the container's memory limit it grades in without thrashing, one training check at a time
    seconds_one_cpu: float  # the whole grading, unit checks included, on one CPU
    worker_bytes: int  # what one more training check beside the others adds: a worker's own peak memory

    def seconds(self, cpus: float) -> float:
        """Expected wall time on an idle machine like the one the needs were measured on, at `cpus`: more CPUs
        than one are not counted on (the standard trains on one thread), a quota below one stretches it."""
        return self.seconds_one_cpu / min(cpus, 1.0)

    def describe(self, cpus: float) -> str:
        return f"{self.memory_bytes / 2**30:.2f} GiB memory and about {self.seconds(cpus):.0f} s at {cpus:g} CPUs"


def profile_names() -> list[str]:
    """The budget profiles training_profiles.toml defines, largest first (what every --budget accepts)."""
    return list(tomllib.loads(PROFILES_FILE.read_text())["profiles"])


def profile_device(budget: str) -> str:
    """The torch device a profile trains on, and its thresholds were measured on: "cpu" or "cuda"."""
    return profile_settings(budget).get("device", "cpu")


def cpu_profile_names() -> list[str]:
    """The profiles that train on CPUs, largest first: the ones a grading without a calibrated GPU chooses from."""
    return [name for name in profile_names() if profile_device(name) == "cpu"]


def profile_needs(budget: str) -> Needs:
    needs = profile_settings(budget)["needs"]
    return Needs(int(needs["memory_mb"] * 2**20), float(needs["seconds_one_cpu"]), int(needs["worker_memory_mb"] * 2**20))


def fits(name: str, cpus: float, memory_bytes: int | None, time_limit: float | None) -> bool:
    """Whether the solution's grading under CPU profile `name` fits a container of this size when idle."""
    needs = profile_needs(name)
    return ((memory_bytes is None or memory_bytes >= needs.memory_bytes)
            and (time_limit is None or needs.seconds(cpus) <= time_limit))


def fitting_profile(cpus: float, memory_bytes: int | None, time_limit: float | None) -> str | None:
    """The largest CPU profile whose grading fits an idle container of this size (None: not even the smallest)."""
    return next((name for name in cpu_profile_names() if fits(name, cpus, memory_bytes, time_limit)), None)


def grading_profile(course: str, cpus: float, memory_bytes: int | None, time_limit: float | None,
                    cuda: bool) -> str:
    """The course's profile wherever it can run: on its device, and within the memory and time when idle (how
    busy the machine is now never counts: it stretches the time limits instead). Elsewhere (a student's
    laptop) the largest CPU profile that fits, else the smallest."""
    if profile_device(course) == "cuda":
        runs = cuda and bool(load_thresholds(course))
    else:
        runs = fits(course, cpus, memory_bytes, time_limit)
    return course if runs else fitting_profile(cpus, memory_bytes, time_limit) or cpu_profile_names()[-1]


def profile_settings(budget: str) -> dict:
    """One profile's table of training_profiles.toml: its settings and one entry per check."""
    profiles = tomllib.loads(PROFILES_FILE.read_text())["profiles"]
    if budget not in profiles:
        raise KeyError(f"no budget profile {budget!r} in {PROFILES_FILE.name}: {sorted(profiles)}")
    return dict(profiles[budget])


def threshold_rule(budget: str) -> str:
    """How calibrate sets this profile's thresholds: "spread" (the default) or "learning"."""
    return profile_settings(budget).get("threshold_rule", "spread")


def default_settings() -> dict:
    """The [settings] table: how every check trains unless its entry says otherwise."""
    return dict(tomllib.loads(PROFILES_FILE.read_text())["settings"])


def load_profile(budget: str) -> dict[str, TrainingCheck]:
    """The training checks of one budget profile."""
    config = tomllib.loads(PROFILES_FILE.read_text())
    defaults = config["settings"]
    profile = profile_settings(budget)
    for key in ("threshold_rule", "needs", "device"):
        profile.pop(key, None)
    checks = {}
    for name, entry in profile.items():
        base = config["checks"][name]
        settings = {k: v for k, v in entry.items() if k not in NOT_SETTINGS}
        unknown = set(settings) - set(PER_ENTRY) - set(defaults)
        if unknown or not set(PER_ENTRY) <= set(settings):
            raise ValueError(f"{PROFILES_FILE.name}: profiles.{budget}.{name} must give {', '.join(PER_ENTRY)}, and "
                             f"otherwise only what [settings] names: {sorted(unknown) or 'missing'}")
        checks[name] = TrainingCheck(
            name, base["dataset"], base.get("module"), base.get("factory", ""), entry.get("kwargs", {}),
            base.get("student_loop", False), entry["train"], entry["test"], defaults | settings)
    return checks


def load_thresholds(budget: str) -> dict[str, dict]:
    if not THRESHOLDS_FILE.exists():
        return {}
    return json.loads(THRESHOLDS_FILE.read_text()).get(budget, {})


def settings_sha256(check: TrainingCheck) -> str:
    """One hash of everything a check trains with: what, on how many images, and how."""
    return hashlib.sha256(json.dumps(asdict(check), sort_keys=True).encode()).hexdigest()


def training_code() -> dict[str, str]:
    """What shapes a training run beside its settings and images: the SHA-256 of each of the solution's files
    and of the grader's training code (`TRAINING_CODE`), and torch's release (a local tag such as +cpu aside)."""
    paths = sorted((REPO / "solutions").glob("*.py")) + [REPO / name for name in TRAINING_CODE]
    code = {p.relative_to(REPO).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths if p.exists()}
    try:
        code["torch"] = version("torch").split("+")[0]
    except PackageNotFoundError:
        code["torch"] = "not installed"
    return code


def training_code_changes(recorded: dict[str, str] | None) -> list[str]:
    """What differs between the training code a threshold was calibrated with and the code here now."""
    if recorded is None:
        return ["the threshold does not record the training code it was calibrated with"]
    now = training_code()
    changes = [f"torch {recorded.get('torch')} -> {now['torch']}"] if recorded.get("torch") != now["torch"] else []
    return changes + [f"{name} {'changed' if name in now and name in recorded else 'added' if name in now else 'removed'}"
                      for name in sorted(set(recorded) | set(now)) if name != "torch" and recorded.get(name) != now.get(name)]


def calibrated_on(check: TrainingCheck) -> dict:
    """What thresholds.json records a threshold was calibrated on: grading compares the images and settings,
    `calibrate --verify` the training code too."""
    # Imported here, not above: data_scripts imports torch, and run_autograder, which reads the profiles
    # but never this, must stay torch-free (importing torch costs 500 MB of the container's memory).
    from data_scripts.grading_images import dataset_sha256

    return {"data_sha256": dataset_sha256(check.dataset), "settings_sha256": settings_sha256(check),
            "training_code": training_code()}


def calibration_problem(budget: str, check: TrainingCheck, entry: dict | None,
                        prepared_sha256: str | None) -> str | None:
    """Why `entry`, the threshold of `check` in thresholds.json (None: there is none), does not hold for this
    grading, or None. `prepared_sha256`: the grading-images hash the prepared subsets' manifest records
    (None: not prepared, said elsewhere)."""
    recalibrate = f"`python -m autograder.instructor.calibrate --budget {budget}`"
    if entry is None:
        return f"no calibrated threshold for {check.name} under the {budget} profile: run {recalibrate}"
    now = calibrated_on(check)
    if "settings_sha256" not in entry or "data_sha256" not in entry:
        return (f"the {budget} threshold of {check.name} does not record what it was calibrated on: "
                f"run {recalibrate}")
    if entry["settings_sha256"] != now["settings_sha256"]:
        return (f"the {budget} threshold of {check.name} was calibrated with other settings than "
                f"training_profiles.toml gives it now: run {recalibrate}")
    if entry["data_sha256"] != now["data_sha256"]:
        return (f"the {budget} threshold of {check.name} was calibrated on other images than "
                f"data_scripts/grading_images.json names now: run {recalibrate}")
    if prepared_sha256 is not None and prepared_sha256 != now["data_sha256"]:
        return (f"the prepared {check.dataset} subsets are not the images data_scripts/grading_images.json names: "
                "run `python -m data_scripts.prepare`")
    return None
