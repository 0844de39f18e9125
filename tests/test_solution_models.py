"""The reference models: output shapes and the parameter counts ASSIGNMENT_SPEC.md implies."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from autograder.worker.package_loader import load_module

SOLUTIONS = Path(__file__).resolve().parent.parent / "solutions"


def solution(module: str):
    return load_module(SOLUTIONS, "reference_solution", module)


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


CIFAR = (3, 32, 32)
MNIST = (1, 28, 28)

# (module, factory, input shape, parameters): counts for the blocks follow the spec's formulas,
# e.g. BasicBlock(c, c) = 2 * 9c^2 conv weights + 2 * 2c BN parameters.
MODELS = [
    ("resnet", "resnet18", CIFAR, 11_173_962),
    ("resnet", "resnet34", CIFAR, 21_282_122),
    ("densenet", "densenet_cifar", CIFAR, 1_000_618),
    ("mobilenet", "MobileNet", CIFAR, 3_217_226),
    ("senet", "se_resnet18", CIFAR, 11_263_042),
    ("baseline", "Net", CIFAR, 62_006),
    ("baseline", "LeNet5", MNIST, 61_706),
    ("baseline", "AlexNet", MNIST, 751_370),
    ("baseline", "VGG", MNIST, 3_738_570),
]


@pytest.mark.parametrize("module, factory, shape, parameters", MODELS, ids=[m[1] for m in MODELS])
def test_model_forward_and_parameter_count(module: str, factory: str, shape: tuple, parameters: int) -> None:
    model = getattr(solution(module), factory)().eval()
    with torch.no_grad():
        logits = model(torch.randn(2, *shape))
    assert logits.shape == (2, 10)
    assert torch.isfinite(logits).all()
    assert parameter_count(model) == parameters


def test_resnet18_count_matches_spec_formula() -> None:
    """11,173,962 recomputed from the architecture, so the table above is not circular."""
    def conv(i, o, k): return i * o * k * k
    def bn(c): return 2 * c
    def block(i, o, s):
        main = conv(i, o, 3) + bn(o) + conv(o, o, 3) + bn(o)
        return main + (conv(i, o, 1) + bn(o) if s != 1 or i != o else 0)
    total = conv(3, 64, 3) + bn(64)
    channels = 64
    for width, stride in zip((64, 128, 256, 512), (1, 2, 2, 2)):
        total += block(channels, width, stride) + block(width, width, 1)
        channels = width
    total += channels * 10 + 10  # the linear classifier
    assert total == 11_173_962 == parameter_count(solution("resnet").resnet18())


@pytest.mark.parametrize("width", [8, 16])
def test_narrow_models_for_the_cpu_budget(width: int) -> None:
    for factory in (solution("resnet").resnet18, solution("senet").se_resnet18):
        model = factory(width=width, in_channels=1)
        assert model(torch.randn(2, *MNIST)).shape == (2, 10)
    assert solution("mobilenet").MobileNet(width_mult=0.25)(torch.randn(2, *CIFAR)).shape == (2, 10)


def test_fit_records_one_entry_per_epoch() -> None:
    train = solution("train")
    torch.manual_seed(0)
    x, y = torch.randn(64, *MNIST), torch.randint(0, 10, (64,))
    batches = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]
    lines: list[str] = []
    history = train.fit(solution("baseline").LeNet5(), batches, batches, epochs=3, lr=0.05, log=lines.append)
    assert len(history.train_loss) == len(history.test_accuracy) == len(lines) == 3
    assert history.train_loss[-1] < history.train_loss[0], "three epochs on 64 samples should lower the loss"
    assert all(0.0 <= a <= 1.0 for a in history.test_accuracy)
