"""Training checks: the student's blocks, and the student's loop, must actually learn.

Each check trains in the worker under the budget profile's settings (training_profiles.toml)
and passes when the final test accuracy, measured here, reaches the calibrated threshold
(thresholds.json). Blocks train with the grader's loop and the loop trains the grader's CNN,
so a failure points at one or the other.
"""
from __future__ import annotations

from typing import Callable

import pytest
import torch

from data_scripts.subsets import prepared_sha256

from .grading_setup import CURVES, LEADERBOARD, OUTCOMES, budget, threads
from .judge.results import in_rubric_order, leaderboard_entry
from .judge.worker_client import Submission
from .rubric import check
from .training import refuse_code_that_hung, shortfall_feedback, train_and_measure
from .training_profiles import calibration_problem, cpu_profile_names, load_profile, load_thresholds, profile_device

pytestmark = pytest.mark.training
GRADING_SEED = 0


@pytest.fixture
def learns(student: Submission, request: pytest.FixtureRequest) -> Callable[[], None]:
    """Run the requesting training check under the budget profile and compare with its threshold."""

    def run() -> None:
        name, profile = request.function.__name__, budget(request.config)
        check, calibrated = load_profile(profile)[name], load_thresholds(profile).get(name)
        refuse_code_that_hung(student.worker, [m for m in (check.module, "train" if check.student_loop else None) if m],
                              "trains")
        problem = calibration_problem(profile, check, calibrated, prepared_sha256(check.dataset))
        if problem:
            raise RuntimeError(problem)
        device = profile_device(profile)
        if device == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"the {profile} profile trains on CUDA, which this machine lacks: choose a CPU profile "
                               f"({', '.join(cpu_profile_names())})")
        curve = train_and_measure(student.worker, check, seed=GRADING_SEED, device=device,
                                  threads=threads(request.config), log=lambda line: print(line, flush=True))
        request.config.stash[CURVES][name] = curve
        accuracy, limit = curve.test_accuracy[-1], calibrated["threshold"]
        request.config.stash[LEADERBOARD].append(leaderboard_entry(name, accuracy, limit))
        summary = (f"test accuracy {accuracy:.1%} after {len(curve.test_accuracy)} epochs in {sum(curve.seconds):.0f}s "
                   f"({profile} profile, {device}); the threshold is {limit:.1%}")
        request.node.user_properties.append(("feedback", summary))
        if accuracy < limit:
            part = check.student_file
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
