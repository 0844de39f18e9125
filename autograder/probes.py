"""Judge-side tools for black-box probes: they rewrite a module's weights by shape and role,
never by attribute name, so any correct coding style passes.

- `bn_state(..., "identity")` makes every BatchNorm2d compute y = x (in eval mode);
  `"random"` gives every BN of the same width the same random affine map, so which BN is
  which does not matter; `"wide"` does too, with scales and shifts large enough that what
  follows a BN sees values beyond 6 and far below 0 (ReLU6, leaky ReLU, GELU differ from ReLU there).
- `zeroed_kernels` zeroes all convolution weights of a given kernel size.
- `chosen_parameters` gives every parameter seeded values of the check's own, so that a check that
  needs gradients to flow does not depend on the student's initialisation (which the contract leaves
  to them: a zero-initialised last BN of a residual branch is a standard choice).
- `transplant` copies conv/linear weights given in the spec's order of use into the student's
  module, pairing them by shape (a 1x1 conv and a linear count as the same) and by the order its
  forward first uses its own parameters (traced with a TorchFunctionMode, so raw nn.Parameters
  registered in any order pair as well as modules); `reference_weights` lists a reference
  module's in that order.
"""
from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from .judge.worker_client import RemoteModule
from .worker.tracing import parameter_order


class ProbeError(AssertionError):
    """The student's module does not have the layers the probe needs; the message says how it differs."""


BNKind = Literal["identity", "random", "wide"]


def bn_values(channels: int, kind: BNKind) -> dict[str, torch.Tensor]:
    """The affine parameters and running statistics every BN of width `channels` gets for `kind`."""
    if kind == "identity":
        return {"weight": torch.ones(channels), "bias": torch.zeros(channels),
                "running_mean": torch.zeros(channels), "running_var": torch.ones(channels)}
    g = torch.Generator().manual_seed(1000 + channels)
    if kind == "wide":
        # Normalized values times 2 to 4, shifted by about +-3: a BN's outputs span roughly -15 to 15.
        return {"weight": torch.rand(channels, generator=g) * 2 + 2, "bias": torch.randn(channels, generator=g) * 3,
                "running_mean": torch.randn(channels, generator=g) * 0.5,
                "running_var": torch.rand(channels, generator=g) + 0.5}
    return {"weight": torch.rand(channels, generator=g) + 0.5, "bias": torch.randn(channels, generator=g) * 0.2,
            "running_mean": torch.randn(channels, generator=g) * 0.2,
            "running_var": torch.rand(channels, generator=g) + 0.5}


def bn_state(modules: list[dict], names: set[str], kind: BNKind) -> dict[str, torch.Tensor]:
    """State entries setting every affine BatchNorm2d in `modules` (a `.modules()` summary) to `kind`.

    `names` are the module's parameter and buffer names, so a BN that tracks no running
    statistics just gets fewer entries.
    """
    state = {}
    for module in modules:
        if module.get("kind") != "batchnorm2d" or "weight" not in module["params"]:
            continue
        prefix = f"{module['path']}." if module["path"] else ""
        for key, value in bn_values(module["params"]["weight"][0], kind).items():
            if prefix + key in names:
                state[prefix + key] = value
    return state


def reference_bn_state(model: nn.Module, kind: BNKind) -> None:
    """Apply the same BN settings to a local (reference) module."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                for key, value in bn_values(module.num_features, kind).items():
                    getattr(module, key).copy_(value)


def student_bn_state(student: RemoteModule, kind: BNKind) -> dict[str, torch.Tensor]:
    names = set(student.state())
    return bn_state(student.modules(), names, kind)


def zeroed_kernels(parameters: list[dict], kernel: int) -> dict[str, torch.Tensor]:
    """Zero tensors for every 4-D weight with a kernel x kernel window (from a `.parameters()` list)."""
    return {p["name"]: torch.zeros(p["shape"]) for p in parameters
            if len(p["shape"]) == 4 and p["shape"][2:] == [kernel, kernel]}


# PyTorch's own scale for conv and linear weights (kaiming_uniform_ with a=sqrt(5): std 1/sqrt(3 fan_in)).
DEFAULT_GAIN = 1 / math.sqrt(3)


def chosen_parameters(parameters: list[dict], seed: int) -> dict[str, torch.Tensor]:
    """Seeded values for every parameter of a `.parameters()` list, whatever the student initialised:
    kernels and matrices normal with PyTorch's default scale, vectors (BN scales and shifts, biases)
    uniform in [0.5, 1.5], so none is zero."""
    g = torch.Generator().manual_seed(seed)
    return {p["name"]: torch.randn(p["shape"], generator=g) * DEFAULT_GAIN / math.sqrt(math.prod(p["shape"][1:]))
            if len(p["shape"]) > 1 else torch.rand(p["shape"], generator=g) + 0.5 for p in parameters}


def _role(shape: list[int] | torch.Size) -> tuple:
    """A weight's role for pairing: its shape without trailing 1s (1x1 conv == linear). A bias is told
    by its one dimension, not its name: raw nn.Parameters applied with F.linear have names of their own."""
    dims = list(shape)
    while len(dims) > 2 and dims[-1] == 1:
        dims.pop()
    return tuple(dims)


def _owner(name: str) -> str:
    """The path of the module that holds parameter `name` ("" for the block itself)."""
    return name.rpartition(".")[0]


def reference_weights(reference: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """A reference module's conv and linear weights (not its BNs') in the order its forward uses them."""
    reference.eval()
    parameters = dict(reference.named_parameters())
    return [parameters[name] for name in parameter_order(reference, x)
            if not isinstance(reference.get_submodule(_owner(name)), nn.BatchNorm2d)]


def weight_pairs(student: RemoteModule, weights: list[torch.Tensor], x: torch.Tensor) -> dict[str, tuple[int, list]]:
    """Student parameter name -> (the index in `weights` (conv and linear, in the spec's order of use) it holds,
    its own shape), paired by role and by the order the student's forward first uses its own."""
    kinds = {m["path"]: m.get("kind") for m in student.modules()}
    shapes = {p["name"]: p["shape"] for p in student.parameters()}
    student_weights = [(name, shapes[name]) for name in student.parameter_order(x)
                       if kinds[_owner(name)] != "batchnorm2d"]
    groups: dict[tuple, list] = {}
    for name, shape in student_weights:
        groups.setdefault(_role(shape), []).append(name)
    pairs = {}
    for index, tensor in enumerate(weights):
        matches = groups.get(_role(tensor.shape), [])
        if not matches:
            raise ProbeError(
                f"{student.description}: its convolution and linear weights do not match the spec's layers: it has "
                f"{[tuple(s) for _, s in student_weights]}, the spec's layers have "
                f"{[tuple(t.shape) for t in weights]}")
        name = matches.pop(0)
        pairs[name] = index, shapes[name]
    leftover = [n for names in groups.values() for n in names]
    if leftover:
        raise ProbeError(f"{student.description} has weights the spec's layers do not: {leftover}")
    return pairs


def paired_state(weights: list[torch.Tensor], pairs: dict[str, tuple[int, list]]) -> dict[str, torch.Tensor]:
    """Student state entries holding `weights`, as `weight_pairs` paired them."""
    return {name: weights[index].detach().reshape(shape).clone() for name, (index, shape) in pairs.items()}


def transplant(student: RemoteModule, weights: list[torch.Tensor], x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Student state entries holding `weights` (conv and linear, in the spec's order of use)."""
    return paired_state(weights, weight_pairs(student, weights, x))


def close(actual: torch.Tensor, expected: torch.Tensor, tolerance: float = 1e-4) -> bool:
    """Same shape and equal up to `tolerance` relative to the expected values' scale."""
    if actual.shape != expected.shape:
        return False
    scale = max(1.0, expected.abs().max().item())
    return bool(torch.isfinite(actual).all()) and (actual - expected).abs().max().item() <= tolerance * scale
