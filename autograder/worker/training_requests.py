"""Requests that train one model for a training check: start, one epoch at a time, predict, end."""
from __future__ import annotations

import torch

from . import course_initialisation
from .session import Session
from .training_run import Settings, TrainingRun, normalised, training_cnn


def training_start(session: Session, module: str | None, factory: str, kwargs: dict, seed: int,
                   images: torch.Tensor, labels: torch.Tensor, settings: dict, device: str, threads: int) -> int:
    """Build the model (the student's factory, or the grader's CNN when module is None) and its run."""
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.set_flush_denormal(True)  # weights decaying towards zero would otherwise slow CPUs down 10x
    if module is None:
        torch.manual_seed(seed)
        model = training_cnn(images.shape[1])
    else:
        model = session.build(module, factory, [], kwargs, seed)
    return session.keep(session.run_student("train", "moving the model to the device", lambda: TrainingRun(
        model, images, labels, Settings(**settings), seed, torch.device(device))))


def training_initialise(session: Session, run: int, images: torch.Tensor, seed: int) -> dict:
    """Give the run's model the course's starting values (`course_initialisation`), traced on `images` (a few
    training images), before its first step; then reseed, so that nothing later depends on how many random
    numbers the student's __init__ drew."""
    training = session.get(run, TrainingRun)
    x = normalised(images, training.device)
    report = session.run_student("forward", "forward", lambda: course_initialisation.initialise(training.model, x, seed))
    torch.manual_seed(seed)
    return report


def training_epoch(session: Session, run: int, student_loop: bool) -> float:
    loop = session.module("train").train_one_epoch if student_loop else None
    return float(session.run_student("train", "training", lambda: session.get(run, TrainingRun).train_epoch(loop)))


def training_predict(session: Session, run: int, images: torch.Tensor) -> torch.Tensor:
    return session.run_student("train", "forward", lambda: session.get(run, TrainingRun).predict(images))


def training_end(session: Session, run: int) -> None:
    session.objects.pop(run, None)
