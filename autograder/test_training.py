"""Training checks: the student's blocks, and the student's loop, must actually learn.

Each check trains in the worker under the budget profile's settings (training_profiles.toml), a network of
the upload's from the course's initialisation (`worker/course_initialisation.py`), and passes when the final
test accuracy, measured here, reaches the calibrated threshold (thresholds.json). Blocks train with the
grader's loop and the loop trains the grader's CNN, so a failure points at one or the other.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterator

import pytest
import torch

from data_scripts.subsets import SPLITS, load_subset, prepared_sha256

from .grading_setup import (CURVES, FULL_LIMIT, LEADERBOARD, OUTCOMES, budget, check_time_limit, expected_seconds,
                            start_worker, threads, time_shares, training_slots)
from .judge.results import in_rubric_order, leaderboard_entry
from .judge.training_pool import Finished, Job, TrainingPool
from .judge.worker_client import StudentTimeout, Worker
from .rubric import check, load_rubric, rubric_entry
from .training import Curve, refuse_code_that_hung, train_and_measure
from .training_feedback import initialisation_note, shortfall_feedback
from .training_profiles import calibration_problem, cpu_profile_names, load_profile, load_thresholds, profile_device

if TYPE_CHECKING:  # the sandbox is Linux only: imported when --sandbox asks for one
    from .judge.sandbox import Sandbox

pytestmark = pytest.mark.training
GRADING_SEED = 0


@pytest.fixture(scope="module")
def training_pool(pytestconfig: pytest.Config, worker: Worker, sandbox: Sandbox | None) -> Iterator[TrainingPool]:
    """Where the training checks run: side by side in workers of their own (`training_pool.py`), or one at a time
    in the grading's worker. Every worker shares what hung, so code that hung is not run again in any."""
    def slot_worker() -> Worker:
        started = start_worker(pytestconfig, sandbox, sweeps=False)
        started.stuck = worker.stuck
        return started

    sweep = sandbox.kill_leftovers if sandbox is not None else (lambda: 0)
    pool = TrainingPool(slot_worker, training_slots(pytestconfig), on_close=sweep, serial_worker=worker)
    yield pool
    pool.close()


def training_job(config: pytest.Config, name: str, live: bool) -> Job:
    """Train check `name` in the worker given, under its time limit; `live`: print each epoch as it ends."""
    def job(worker: Worker, finished: Finished) -> Curve:
        def log(line: str) -> None:
            finished.log.append(line)
            if live:
                print(line, flush=True)

        allowed = check_time_limit(config, name)
        if allowed is not None:
            worker.set_time_limit(*allowed)
            finished.full_limit = allowed[1]
        profile = budget(config)
        check, calibrated = load_profile(profile)[name], load_thresholds(profile).get(name)
        refuse_code_that_hung(worker, [m for m in (check.module, "train" if check.student_loop else None) if m], "trains")
        problem = calibration_problem(profile, check, calibrated, prepared_sha256(check.dataset))
        if problem:
            raise RuntimeError(problem)
        device = profile_device(profile)
        if device == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"the {profile} profile trains on CUDA, which this machine lacks: choose a CPU profile "
                               f"({', '.join(cpu_profile_names())})")
        try:
            return train_and_measure(worker, check, seed=GRADING_SEED, device=device, threads=threads(config), log=log)
        except StudentTimeout:
            if finished.full_limit:  # the hang that took the time, named to the checks that start after it
                time_shares(config).record_hang(f"{load_rubric()[name].number} ({name})")
            raise
    return job


def start_training(pool: TrainingPool, session: pytest.Session, make_room: Callable[[], None]) -> None:
    """Queue every training check of this grading, longest first, so that side-by-side workers end together."""
    config = session.config
    names = [item.name for item in session.items if (entry := rubric_entry(item)) and entry.part == "training"]
    expected = expected_seconds(budget(config))
    names.sort(key=lambda name: -expected.get(name, 0.0))
    for dataset in {load_profile(budget(config))[name].dataset for name in names}:
        for split in SPLITS:  # read here, in the main thread, and not in the jobs' (`stored_arrays` says why)
            load_subset(dataset, split)
    side_by_side = min(pool.slots, len(names)) > 1
    pool.start([(name, training_job(config, name, live=not side_by_side)) for name in names], make_room)


@pytest.fixture
def learns(training_pool: TrainingPool, worker: Worker, request: pytest.FixtureRequest) -> Callable[[], None]:
    """Run the requesting training check under the budget profile and compare with its threshold."""

    def run() -> None:
        name, profile = request.function.__name__, budget(request.config)
        if not training_pool.started(name):
            # Side by side, the unit checks' worker is closed first: its memory goes to the training workers.
            start_training(training_pool, request.session, make_room=worker.close)
        finished = training_pool.result(name)
        if training_pool.parallel:
            for line in finished.log:
                print(line)
        request.node.stash[FULL_LIMIT] = finished.full_limit
        if finished.error is not None:
            raise finished.error
        curve, calibrated = finished.value, load_thresholds(profile)[name]
        request.config.stash[CURVES][name] = curve
        accuracy, limit = curve.test_accuracy[-1], calibrated["threshold"]
        request.config.stash[LEADERBOARD].append(leaderboard_entry(name, accuracy, limit))
        summary = (f"test accuracy {accuracy:.1%} after {len(curve.test_accuracy)} epochs in {sum(curve.seconds):.0f}s "
                   f"({profile} profile, {profile_device(profile)}); the threshold is {limit:.1%}")
        if note := initialisation_note(curve, calibrated):
            summary += f"\n{note}"
        request.node.user_properties.append(("feedback", summary))
        if accuracy < limit:
            part = load_profile(profile)[name].student_file
            failed = [o.name for o in in_rubric_order(list(request.config.stash[OUTCOMES].values()))
                      if o.part == part and not o.passed and o.visibility == "visible"]  # hidden ones stay hidden
            raise AssertionError(shortfall_feedback(curve, calibrated, part, failed))

    return run


@check
def test_train_resnet18_cifar10(learns):
    """resnet18 built from your BasicBlock learns CIFAR-10 with the grader's training loop."""
    learns()


@check
def test_train_densenet_cifar10(learns):
    """A DenseNet built from your DenseLayer and Transition learns CIFAR-10 with the grader's loop."""
    learns()


@check
def test_train_mobilenet_cifar10(learns):
    """MobileNet built from your DepthwiseSeparableConv learns CIFAR-10 with the grader's loop."""
    learns()


@check
def test_train_se_resnet18_cifar10(learns):
    """se_resnet18 built from your SEBasicBlock learns CIFAR-10 with the grader's loop."""
    learns()


@check
def test_train_student_loop_cifar10(learns):
    """Your train_one_epoch trains the grader's CNN on CIFAR-10."""
    learns()


@check
def test_train_resnet18_mnist(learns):
    """A narrow resnet18 on 1-channel input, from your BasicBlock, learns MNIST."""
    learns()


@check
def test_train_lenet5_mnist(learns):
    """The given LeNet5 learns MNIST with your train_one_epoch."""
    learns()
