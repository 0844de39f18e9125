"""The training checks' settings, read from training_profiles.toml, and their thresholds.

Standard library only (no torch), so that command lines and run_autograder can name the
profiles without importing torch.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10, as on Gradescope's Ubuntu 22.04 image
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
PROFILES_FILE = HERE / "training_profiles.toml"
THRESHOLDS_FILE = HERE / "thresholds.json"
SETTINGS = ("epochs", "batch_size", "lr", "weight_decay", "label_smoothing", "crop_padding", "flip")


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


def profile_names() -> list[str]:
    """The budget profiles training_profiles.toml defines (what every --budget option accepts)."""
    return sorted(tomllib.loads(PROFILES_FILE.read_text())["profiles"])


def profile_settings(budget: str) -> dict:
    """One profile's table of training_profiles.toml: its settings and one entry per check."""
    profiles = tomllib.loads(PROFILES_FILE.read_text())["profiles"]
    if budget not in profiles:
        raise KeyError(f"no budget profile {budget!r} in {PROFILES_FILE.name}: {sorted(profiles)}")
    return dict(profiles[budget])


def threshold_rule(budget: str) -> str:
    """How calibrate sets this profile's thresholds: "spread" (the default) or "learning"."""
    return profile_settings(budget).get("threshold_rule", "spread")


def load_profile(budget: str) -> tuple[dict[str, TrainingCheck], int]:
    """The training checks of one budget profile, and the thread count it trains with."""
    config = tomllib.loads(PROFILES_FILE.read_text())
    profile = profile_settings(budget)
    threads = profile.pop("threads")
    profile.pop("threshold_rule", None)
    checks = {}
    for name, entry in profile.items():
        base = config["checks"][name]
        checks[name] = TrainingCheck(
            name, base["dataset"], base.get("module"), base.get("factory", ""), entry.get("kwargs", {}),
            base.get("student_loop", False), entry["train"], entry["test"],
            {k: entry[k] for k in SETTINGS if k in entry})
    return checks, threads


def load_thresholds(budget: str) -> dict[str, dict]:
    if not THRESHOLDS_FILE.exists():
        return {}
    return json.loads(THRESHOLDS_FILE.read_text()).get(budget, {})
