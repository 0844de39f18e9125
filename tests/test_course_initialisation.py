"""The course's initialisation: correct styles start a training check from the same weights, whatever they did."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from autograder.judge.worker_client import Worker, WorkerCrashed
from autograder.training import Curve, train_and_measure
from autograder.training_profiles import load_profile
from autograder.training_feedback import initialisation_note
from autograder.worker.course_initialisation import initialise
from autograder.worker.package_loader import load_module
from autograder.worker.tracing import parameter_order

from .submissions.build import SOLUTIONS, build_variant

X = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(5))


def started(model: nn.Module, seed: int = 0) -> tuple[list[torch.Tensor], dict]:
    """The model's parameters in order of first use once the course initialised it, and what it reported."""
    report = initialise(model, X, seed)
    parameters = dict(model.named_parameters())
    return [parameters[name].detach().clone() for name in parameter_order(model.eval(), X)], report


def resnet18(folder: Path, package: str, build_seed: int) -> nn.Module:
    torch.manual_seed(build_seed)
    return load_module(folder, package, "resnet").resnet18(width=4)


@pytest.mark.parametrize("style", ["own_initialisations", "raw_parameters", "sequential_modules"])
def test_correct_styles_start_from_the_solutions_weights(style: str, tmp_path: Path):
    """A zero-init residual BN, raw parameters registered out of order, nn.Sequential: each starts exactly where the
    solution starts for the same grading seed, though each was built after another seed."""
    reference, reference_report = started(resnet18(SOLUTIONS, "course_init_solution", build_seed=1))
    variant = build_variant(style, tmp_path / style)
    mine, report = started(resnet18(variant, f"course_init_{style}", build_seed=2))
    assert report == reference_report and not report["kept"]
    assert len(mine) == len(reference)
    for index, (a, b) in enumerate(zip(mine, reference)):
        assert torch.equal(a, b), f"parameter {index} in order of use differs from the solution's"


def test_the_grading_seed_draws_the_kernels_and_the_rule_sets_the_rest():
    model = resnet18(SOLUTIONS, "course_init_seeds", build_seed=0)
    first, _ = started(model, seed=0)
    again, _ = started(model, seed=0)
    other, report = started(model, seed=1)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    kernels = [i for i, p in enumerate(first) if p.dim() > 1]
    assert all(not torch.equal(first[i], other[i]) for i in kernels)
    bound = [1 / p[0].numel() ** 0.5 for p in first if p.dim() > 1]
    assert all(p.abs().max() <= b for p, b in zip((p for p in first if p.dim() > 1), bound))
    bn = next(m for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    assert torch.equal(bn.weight, torch.ones_like(bn.weight)) and torch.equal(bn.bias, torch.zeros_like(bn.bias))
    assert torch.equal(model.classifier.bias, torch.zeros(10)) and report["layout"]["bias"] == 1


class Unusual(nn.Module):
    """A conv with a bias the spec has not, a GroupNorm, a learnable scalar gate and a parameter never used."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, bias=True)
        self.norm = nn.GroupNorm(2, 4)
        self.gate = nn.Parameter(torch.tensor(0.3))
        self.unused = nn.Parameter(torch.full((4,), 7.0))
        with torch.no_grad():
            self.conv.bias.fill_(5.0)
            self.norm.weight.fill_(0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(x))) * self.gate


def test_a_layout_of_its_own_is_placed_by_role_and_the_rest_kept():
    model = Unusual()
    report = initialise(model, X, seed=0)
    assert report["layout"] == {"kernel 4x3x3x3": 1, "bias": 1, "norm scale": 1, "norm shift": 1}
    assert report["kept"] == ["gate", "unused"]
    assert torch.equal(model.conv.bias, torch.zeros(4)) and torch.equal(model.norm.weight, torch.ones(4))
    assert model.gate.item() == pytest.approx(0.3) and torch.equal(model.unused, torch.full((4,), 7.0))
    assert model.training, "initialise leaves the model in the mode it found it in"


def test_the_feedback_says_how_a_network_started():
    reference = {"layout": {"kernel 4x3x3x3": 1, "norm scale": 1, "norm shift": 1}}
    same = Curve(layout=dict(reference["layout"]))
    assert initialisation_note(same, reference) is None
    own = Curve(layout={"kernel 4x3x3x3": 1, "bias": 1, "norm scale": 1, "norm shift": 1}, kept=["gate"])
    note = initialisation_note(own, reference)
    assert "bias: 1 (the reference 0)" in note and "course's rule by role" in note
    assert "kept your own initial values" in note and "gate" in note


class ReplacedWorker(Worker):
    """A worker whose code the submission replaced: it builds anything and answers training_initialise with `reply`."""

    def __init__(self, reply: object) -> None:
        super().__init__()
        self.reply = reply

    def construct(self, target: tuple[str, str], op: str, **args: object) -> object:
        return 1

    def request(self, op: str, **args: object) -> object:
        return self.reply if op == "training_initialise" else None


@pytest.mark.parametrize("reply", [None, {"layout": {"kernel 3x3": "many"}, "kept": []},
                                   {"layout": {"kernel 3x3": 4}, "kept": "conv1.weight"}])
def test_a_malformed_initialisation_reply_is_a_crashed_worker_not_a_grader_error(reply: object) -> None:
    check = load_profile("smoke")["test_train_resnet18_mnist"]
    with pytest.raises(WorkerCrashed, match="malformed reply"):
        train_and_measure(ReplacedWorker(reply), check, seed=0, device="cpu", threads=1)
