"""Train a model in the worker for a training check and measure its accuracy in the judge.

The worker trains (the grader's loop or the student's) one epoch per request and returns
test-set logits; the test labels stay here, and so does the verdict.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from data_scripts.subsets import load_subset

from .judge.worker_client import Worker, WorkerCrashed
from .training_profiles import TrainingCheck


@dataclass
class Curve:
    """Per-epoch record of one training run, and how its network started (`course_initialisation.initialise`:
    the roles it placed, and the parameters it could not place, which kept the student's values)."""

    train_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    layout: dict[str, int] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)


def train_and_measure(worker: Worker, check: TrainingCheck, *, seed: int, device: str, threads: int,
                      log: Callable[[str], None] | None = None) -> Curve:
    """Train `check` in the worker from the course's initialisation (a network of the upload's; the grader's own
    CNN, which the student's loop trains, is the grader's); return the per-epoch loss and the test accuracy
    measured here."""
    train_images, train_labels = (t[:check.train] for t in load_subset(check.dataset, "train"))
    test_images, test_labels = (t[:check.test] for t in load_subset(check.dataset, "test"))
    start = dict(op="training_start", module=check.module, factory=check.factory, kwargs=check.kwargs, seed=seed,
                 images=train_images, labels=train_labels, settings=check.settings, device=device, threads=threads)
    run = (worker.request(**start) if check.module is None  # the grader's own CNN
           else worker.construct((check.module, check.factory), **start))
    curve = Curve()
    try:
        if check.module is not None:
            placed = worker.request("training_initialise", run=run, images=train_images[:2], seed=seed)
            layout, kept = (placed.get("layout"), placed.get("kept")) if isinstance(placed, dict) else (None, None)
            if not (isinstance(layout, dict) and all(isinstance(n, int) for n in layout.values())
                    and isinstance(kept, list)):  # the reply of a worker whose code the submission replaced
                raise WorkerCrashed("worker", "the worker sent a malformed reply", "")
            curve.layout, curve.kept = layout, [str(name) for name in kept]
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


def refuse_code_that_hung(worker: Worker, modules: list[str], what: str) -> None:
    """A check that runs the code of `modules` fails at once with the error of an earlier check in which that code
    hung (or killed the worker): it would wait out its own long limit on the same code. `what` it does, in words."""
    for module in modules:
        if found := worker.hung(module):
            earlier_step, earlier = found
            raise type(earlier)(earlier.kind, f"this check {what} code of {module}.py, and in an earlier check "
                                              f"{earlier_step}: {earlier.summary}; so it was not run", earlier.trace)
