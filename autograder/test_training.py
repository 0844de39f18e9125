"""Training checks: the student's blocks, and the student's loop, must actually learn.

Each check trains in the worker under the budget profile's settings (training_profiles.toml)
and passes when the final test accuracy, measured here, reaches the calibrated threshold
(thresholds.json). Blocks train with the grader's loop and the loop trains the grader's CNN,
so a failure points at one or the other.
"""
from __future__ import annotations

import pytest

from .rubric import check

pytestmark = pytest.mark.training


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
