"""The course's initialisation: every training check's network starts from values the course chooses.

How a block initialises its weights is the student's choice (ASSIGNMENT_SPEC.md, "Initialisation"), so a
training check gives every parameter its starting value before the first step. A parameter's value depends
only on the grading seed and on its *place*: its role and its rank among the network's parameters of that
role, in the order forward first uses them. So any upload whose layers pair one to one with the reference
solution's (the same roles, used in the same order: the pairing the unit checks use) starts from exactly the
reference's starting weights, whatever its coding style, and correct styles differ only in their arithmetic.

A role is told by the torch function a parameter is first passed to, never by its name:
- a kernel or matrix (the weight of a convolution or F.linear), by its shape without trailing 1s (a 1x1
  convolution and a linear map are one role): uniform in +-1/sqrt(fan_in), PyTorch's default scale;
- a convolution's or linear map's bias: 0;
- a normalisation's scale: 1; its shift: 0 (BatchNorm, GroupNorm, LayerNorm, InstanceNorm).
A parameter forward never uses, or first uses in anything else (a scalar gate, a hand-written norm's
`x * gamma`), cannot be placed: it keeps the student's value, and the check's feedback names it.
"""
from __future__ import annotations

import hashlib
import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .tracing import first_uses

# Argument names by position, for functions whose parameters may come positionally.
_LAYERS = {torch.conv1d: ("input", "weight", "bias"), torch.conv2d: ("input", "weight", "bias"),
           torch.conv3d: ("input", "weight", "bias"), F.linear: ("input", "weight", "bias"),
           torch.conv_transpose1d: ("input", "weight", "bias"), torch.conv_transpose2d: ("input", "weight", "bias"),
           torch.conv_transpose3d: ("input", "weight", "bias")}
_NORMS = {F.batch_norm: ("input", "running_mean", "running_var", "weight", "bias"),
          F.instance_norm: ("input", "running_mean", "running_var", "weight", "bias"),
          F.group_norm: ("input", "num_groups", "weight", "bias"), F.layer_norm: ("input", "normalized_shape", "weight", "bias"),
          torch.batch_norm: ("input", "weight", "bias"), torch.group_norm: ("input", "num_groups", "weight", "bias"),
          torch.layer_norm: ("input", "normalized_shape", "weight", "bias")}
RULE = ("kernels and matrices uniform in +-1/sqrt(fan_in) (PyTorch's default scale), normalisation scales 1 and "
        "shifts 0, biases 0")


def role(func: Callable, slot: str | int, shape: torch.Size) -> str | None:
    """A parameter's role from its first use: "kernel 8x3x3x3", "bias", "norm scale", "norm shift", or None."""
    for family, table in (("layer", _LAYERS), ("norm", _NORMS)):
        names = table.get(func)
        if names is None:
            continue
        argument = names[slot] if isinstance(slot, int) and slot < len(names) else slot
        if family == "norm" and argument in ("weight", "bias"):
            return "norm scale" if argument == "weight" else "norm shift"
        if argument == "bias":
            return "bias"
        if argument == "weight" and len(shape) >= 2:
            dims = list(shape)
            while len(dims) > 2 and dims[-1] == 1:
                dims.pop()
            return "kernel " + "x".join(map(str, dims))
    return None


def course_value(place: tuple[str, int], shape: torch.Size, seed: int) -> torch.Tensor:
    """The starting value of the parameter at `place` (its role, its rank in that role) for the grading `seed`."""
    kind, rank = place
    if kind == "norm scale":
        return torch.ones(shape)
    if kind in ("norm shift", "bias"):
        return torch.zeros(shape)
    dims = [int(d) for d in kind.removeprefix("kernel ").split("x")]
    digest = hashlib.sha256(f"{seed}/{kind}/{rank}".encode()).digest()
    generator = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)
    bound = 1 / math.sqrt(math.prod(dims[1:]))
    return ((torch.rand(dims, generator=generator) * 2 - 1) * bound).reshape(shape)


def initialise(model: nn.Module, x: torch.Tensor, seed: int) -> dict:
    """Give every parameter of `model` that can be placed its course value (traced on the batch `x`, in eval
    mode so that no BN statistic moves). What it did: {"layout": role -> count, "kept": names kept}."""
    training = model.training
    model.eval()
    try:
        uses = first_uses(model, x)
    finally:
        model.train(training)
    parameters = dict(model.named_parameters())
    kinds = {name: role(func, slot, parameters[name].shape) for name, (func, slot) in uses.items()}
    layout: dict[str, int] = {}
    with torch.no_grad():
        for name, kind in kinds.items():
            if kind is not None:
                rank = layout.get(kind, 0)
                layout[kind] = rank + 1
                parameters[name].copy_(course_value((kind, rank), parameters[name].shape, seed))
    return {"layout": layout, "kept": [name for name in parameters if kinds.get(name) is None]}
