"""Train a model in the worker for a training check and measure its accuracy in the judge.

The worker trains (the grader's loop or the student's) one epoch per request and returns
test-set logits; the test labels stay here, and so does the verdict.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10, as on Gradescope's Ubuntu 22.04 image
    import tomli as tomllib

import torch

from data_scripts.subsets import load_subset

from .remote import Worker

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


@dataclass
class Curve:
    """Per-epoch record of one training run."""

    train_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def load_profile(budget: str) -> tuple[dict[str, TrainingCheck], int]:
    """The training checks of one budget profile, and the thread count it trains with."""
    config = tomllib.loads(PROFILES_FILE.read_text())
    if budget not in config["profiles"]:
        raise KeyError(f"no budget profile {budget!r} in {PROFILES_FILE.name}: {sorted(config['profiles'])}")
    profile = dict(config["profiles"][budget])
    threads = profile.pop("threads")
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


def train_and_measure(worker: Worker, check: TrainingCheck, *, seed: int, device: str, threads: int,
                      log: Callable[[str], None] | None = None) -> Curve:
    """Train `check` in the worker; return the per-epoch loss and the test accuracy measured here."""
    train_images, train_labels = (t[:check.train] for t in load_subset(check.dataset, "train"))
    test_images, test_labels = (t[:check.test] for t in load_subset(check.dataset, "test"))
    run = worker.request("training_start", module=check.module, factory=check.factory, kwargs=check.kwargs,
                         seed=seed, images=train_images, labels=train_labels, settings=check.settings,
                         device=device, threads=threads)
    curve = Curve()
    try:
        for epoch in range(1, check.settings["epochs"] + 1):
            start = time.perf_counter()
            loss = worker.request("training_epoch", run=run, student_loop=check.student_loop)
            logits = worker.request("training_predict", run=run, images=test_images)
            assert isinstance(logits, torch.Tensor) and logits.shape == (len(test_labels), 10), (
                f"the model returned logits of shape {getattr(logits, 'shape', type(logits))} for "
                f"{len(test_labels)} test images; expected ({len(test_labels)}, 10)")
            accuracy = (logits.argmax(dim=1) == test_labels).float().mean().item()
            curve.train_loss.append(loss)
            curve.test_accuracy.append(accuracy)
            curve.seconds.append(time.perf_counter() - start)
            if log is not None:
                log(f"{check.name.removeprefix('test_')} epoch {epoch:>2}/{check.settings['epochs']}  "
                    f"train loss {loss:.4f}  test accuracy {accuracy:6.2%}  {curve.seconds[-1]:.1f}s")
    finally:
        worker.request("training_end", run=run)
    return curve
