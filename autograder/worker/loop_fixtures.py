"""The model, loader, optimizer and scheduler that the training-loop checks hand to `train_one_epoch`.

Both sides build them: the worker for the student's loop, the judge for the reference
loop, so the two runs start from the same weights and follow the same schedule. The
spies only record what the loop did; they change nothing about training.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import TensorDataset

from .contract import ForwardCall

LEARNING_RATE = 0.1


def loop_model() -> nn.Module:
    """A small CNN with batch norm (so train/eval mode matters) for (N, 1, 8, 8) inputs."""
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
        nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 10),
    )


class Loader:
    """Batches as ASSIGNMENT_SPEC.md's `loader`: iterable, with a length (batches per pass), a
    `batch_size` and a `dataset` whose length is the number of samples, like a DataLoader."""

    def __init__(self, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.batches = list(batches)
        self.batch_size = len(self.batches[0][1]) if self.batches else 0
        self.dataset = TensorDataset(torch.cat([x for x, _ in self.batches]),
                                                      torch.cat([y for _, y in self.batches]))

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)

    def __getattr__(self, name: str):
        raise AttributeError(f"the grader's loader has no attribute {name!r}: ASSIGNMENT_SPEC.md promises "
                             "a loader only batches, len(loader), loader.batch_size and len(loader.dataset)")


class SpyOptimizer(torch.optim.SGD):
    """SGD with momentum that notes, at every step, the gradients it applies and the gradients
    the latest backward pass computed (through tensor hooks). The two agree exactly when old
    gradients were cleared before that backward pass."""

    def __init__(self, params) -> None:
        params = list(params)
        super().__init__(params, lr=LEARNING_RATE, momentum=0.9)
        self.applied_gradients: list[list[torch.Tensor | None]] = []
        self.fresh_gradients: list[list[torch.Tensor | None]] = []
        self._fresh: list[torch.Tensor | None] = [None] * len(params)
        for i, p in enumerate(params):
            p.register_hook(lambda grad, i=i: self._fresh.__setitem__(i, grad.detach().clone()))

    def step(self, closure=None):  # type: ignore[override]
        self.applied_gradients.append([
            None if p.grad is None else p.grad.detach().clone()
            for group in self.param_groups for p in group["params"]
        ])
        self.fresh_gradients.append(self._fresh)
        self._fresh = [None] * len(self._fresh)
        return super().step(closure)


class RecordingLoss(nn.CrossEntropyLoss):
    """Cross-entropy (mean over the batch) that keeps each call's value."""

    def __init__(self) -> None:
        super().__init__()
        self.values: list[float] = []

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        loss = super().forward(logits, targets)
        self.values.append(loss.item())
        return loss


class SpyScheduler(torch.optim.lr_scheduler.LambdaLR):
    """Halves the learning rate at every step (so stepping too often or too rarely shows) and counts steps."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.steps_taken = 0
        super().__init__(optimizer, lambda step: 0.5**step)
        self.steps_taken = 0  # the constructor's own initial step() does not count

    def step(self, *args, **kwargs) -> None:  # type: ignore[override]
        self.steps_taken += 1
        super().step(*args, **kwargs)


def record_forward_calls(model: nn.Module) -> list[ForwardCall]:
    """Attach a hook noting, at every forward call, the mode, whether autograd is on, and the batch."""
    calls: list[ForwardCall] = []

    def hook(module: nn.Module, inputs: tuple) -> None:
        calls.append({"training": module.training, "grad_enabled": torch.is_grad_enabled(),
                      "batch": int(inputs[0].shape[0]) if inputs and hasattr(inputs[0], "shape") else -1})

    model.register_forward_pre_hook(hook)
    return calls
