"""In which order a model's forward uses its modules and parameters.

The worker runs these on student blocks; the judge runs them on the reference's blocks, so
the two orders are found the same way and can be paired (`probes.transplant`).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.overrides import TorchFunctionMode


def call_order(model: nn.Module, x: torch.Tensor) -> list[str]:
    """Paths of the modules owning parameters (and batch norms), in the order forward first calls them."""
    order: list[str] = []
    hooks = [
        module.register_forward_pre_hook(lambda m, i, path=path: order.append(path) if path not in order else None)
        for path, module in model.named_modules()
        if any(True for _ in module.parameters(recurse=False)) or isinstance(module, nn.BatchNorm2d)
    ]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return order


class _FirstUses(TorchFunctionMode):
    """Records, for each of `names`' tensors, the torch function that first receives it and the argument it is
    passed as (a keyword, or a position), in the order first received."""

    def __init__(self, names: dict[int, str]) -> None:
        super().__init__()
        self.names = names
        self.uses: dict[str, tuple[Callable, str | int]] = {}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        for slot, value in (*enumerate(args), *kwargs.items()):
            for item in value if isinstance(value, (list, tuple)) else (value,):
                name = self.names.get(id(item))
                if name is not None and name not in self.uses:
                    self.uses[name] = (func, slot)
        return func(*args, **kwargs)


def first_uses(model: nn.Module, x: torch.Tensor) -> dict[str, tuple[Callable, str | int]]:
    """Each parameter forward uses -> (the torch function it is first passed to, as which argument), in the order
    of first use, whatever holds it: an nn.Conv2d, or a raw nn.Parameter handed to F.conv2d, registered in any
    order. Run without autograd: a model in train mode updates its BN statistics."""
    recorder = _FirstUses({id(p): name for name, p in model.named_parameters()})
    with torch.no_grad(), recorder:
        model(x)
    return recorder.uses


def parameter_order(model: nn.Module, x: torch.Tensor) -> list[str]:
    """Names of the parameters forward uses, in the order it first uses them (`first_uses`)."""
    return list(first_uses(model, x))
