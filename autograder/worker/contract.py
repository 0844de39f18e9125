"""What the judge and the worker say to each other: one definition both sides import.

A request is {"op": NAME, "args": {...}} (the names are `serve.HANDLERS`' keys); a reply is
{"ok": value} or {"error": ErrorReply}. The replies that are more than a tensor or a number
are typed here, so a key written on one side and read on the other is checked in one place.
"""
from __future__ import annotations

from typing import Any, Literal, TypedDict

import torch


class StudentError(Exception):
    """Student code raised, could not be imported or built, hung, or killed its worker.

    `kind` says at which step (import, build, forward, backward, loop, train, timeout, crash, ...);
    `trace` is the traceback cut down to the student's frames ("" when there is none).
    """

    def __init__(self, kind: str, summary: str, trace: str) -> None:
        super().__init__(summary)
        self.kind, self.summary, self.trace = kind, summary, trace


class ErrorReply(TypedDict):
    kind: str
    summary: str
    trace: str


def describe_call(name: str, args: list | tuple, kwargs: dict[str, Any]) -> str:
    """`name(arg, ..., key=value)` as the student would write the call."""
    return f"{name}(" + ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())]) + ")"


class ParameterInfo(TypedDict):
    name: str
    shape: list[int]
    requires_grad: bool


class ModuleInfo(TypedDict, total=False):
    """One entry of `modules`: every submodule has path, type and params; the lab's layers say more."""

    path: str
    type: str
    params: dict[str, list[int]]  # its own parameters' shapes, by name
    kind: Literal["conv2d", "batchnorm2d", "linear"]
    groups: int
    stride: list[int]
    padding: list[int] | str
    kernel_size: list[int]
    bias: bool
    eps: float
    momentum: float | None
    affine: bool
    track_running_stats: bool


class BackwardReply(TypedDict):
    output: torch.Tensor
    input_grad: torch.Tensor | None
    param_grads: dict[str, torch.Tensor | None]


class Returned(TypedDict):
    """What a loop function returned: its exact type's name and its float value (None: does not convert)."""

    type: str
    value: float | str | None  # str: "nan" or "inf"


class ForwardCall(TypedDict):
    """One call of the loop model's forward, as the spies recorded it."""

    training: bool
    grad_enabled: bool
    batch: int


class EpochReply(TypedDict):
    """What the student's train_one_epoch did to the spies' model, optimizer, loss and scheduler."""

    returned: Returned
    state: dict[str, torch.Tensor]
    applied_gradients: list[list[torch.Tensor | None]]  # per optimizer step, per parameter: p.grad at step()
    fresh_gradients: list[list[torch.Tensor | None]]  # per step: what the latest backward pass computed
    batch_losses: list[float]
    scheduler_steps: int | None
    forward_calls: list[ForwardCall]


class DeviceFinding(TypedDict):
    """What a real GPU would refuse in a loop run on the simulated one (`simulated_gpu`): inputs in host
    memory given to the model, host targets given to the criterion, an operation on host and device
    tensors together, or .numpy() of a device tensor."""

    what: Literal["input", "targets", "mixed", "numpy"]
    op: str  # the operation, for "mixed"
    where: str  # the student's file and line, "train.py, line 33"
    code: str  # that line


class DeviceReply(TypedDict):
    findings: list[DeviceFinding]
    batches_run: int  # the model's forward calls


class EvaluateReply(TypedDict):
    returned: Returned
    state: dict[str, torch.Tensor]
    has_gradients: bool
    forward_calls: list[ForwardCall]
