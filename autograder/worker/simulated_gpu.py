"""A CUDA device simulated on the CPU: a loop that never moves its batches to `device` shows without a GPU.

The loop gets `torch.device("cuda")` as its device, and batches marked as host memory (`OnHost`);
the model's parameters, and every tensor made on `device` or moved there, count as device memory.
While the simulation runs, `.to(device)` and `.cuda()` turn a host tensor into a device one and
`.cpu()` does the reverse, factories asked for `device` make CPU tensors, and `.device` says where a
tensor would be. An operation that combines host and device tensors (a real GPU refuses it with
"Expected all tensors to be on the same device") is noted at the line of the student's code that
called it. Everything is still computed on the CPU, so the loop's arithmetic is unchanged.
"""
from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

from .contract import DeviceFinding

DEVICE = torch.device("cuda")
HOST = torch.device("cpu")
MOVES = (torch.Tensor.to, torch.Tensor.cuda, torch.Tensor.cpu)
# Legal across devices on a real GPU: a copy into a tensor, and assignment into a slice (a copy too).
CROSS_DEVICE = (torch.Tensor.copy_, torch.Tensor.__setitem__)
MOST_FINDINGS = 5


class OnHost(torch.Tensor):
    """A tensor in host memory: the loader's batches, and whatever is computed from them there."""


def on_host(tensor: torch.Tensor) -> OnHost:
    return tensor.as_subclass(OnHost)


def _target(func: Any, args: tuple, kwargs: dict) -> tuple[torch.device | None, torch.dtype | None]:
    """Where a move sends its tensor (None: nowhere new) and the dtype it asks for."""
    if func is torch.Tensor.cuda:
        return DEVICE, None
    if func is torch.Tensor.cpu:
        return HOST, None
    device, dtype, *_ = torch._C._nn._parse_to(*args[1:], **kwargs)
    return device, dtype


def _asks_for_device(kwargs: dict) -> bool:
    device = kwargs.get("device")
    return device is not None and torch.device(device).type == DEVICE.type


class SimulatedGPU(TorchFunctionMode):
    """Within `with SimulatedGPU(impl):`, tensors move as on a GPU; `findings` lists what a GPU would refuse,
    each at the line of the student's files (under `impl`) that led to it."""

    def __init__(self, impl: Path) -> None:
        super().__init__()
        self.impl = impl
        self.findings: list[DeviceFinding] = []
        self.batches_run = 0  # forward calls of the watched model: a loop that does nothing moves nothing

    def watch(self, model: nn.Module, criterion: nn.Module | None = None) -> None:
        """Note a model given inputs, or a criterion given targets, that never reached the device."""
        model.register_forward_pre_hook(lambda _, inputs: self._note_host(inputs[:1], "input", count=True))
        if criterion is not None:
            criterion.register_forward_pre_hook(lambda _, inputs: self._note_host(inputs[1:2], "targets"))

    def _note_host(self, tensors: tuple, what: str, count: bool = False) -> None:
        self.batches_run += count
        if tensors and isinstance(tensors[0], OnHost):
            self._note(what, "")

    def _note(self, what: str, op: str) -> None:
        if len(self.findings) >= MOST_FINDINGS:  # enough said: reading the stack is the costly part
            return
        frames = [f for f in traceback.extract_stack() if Path(f.filename).resolve().is_relative_to(self.impl)]
        where = f"{Path(frames[-1].filename).name}, line {frames[-1].lineno}" if frames else "?"
        if all(f["where"] != where for f in self.findings):
            self.findings.append({"what": what, "op": op, "where": where,
                                  "code": (frames[-1].line or "").strip() if frames else ""})

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func == torch.Tensor.device.__get__:
            return HOST if isinstance(args[0], OnHost) else DEVICE
        if func in MOVES:
            device, dtype = _target(func, args, kwargs)
            if device is not None and device.type in (DEVICE.type, HOST.type):
                return self._move(args[0], device, dtype)
        elif func is torch.Tensor.pin_memory:
            return args[0]
        elif func is torch.Tensor.numpy and not isinstance(args[0], OnHost):
            self._note("numpy", "numpy")
        elif func not in CROSS_DEVICE:
            tensors = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor) and t.dim() > 0]
            if any(isinstance(t, OnHost) for t in tensors) and not all(isinstance(t, OnHost) for t in tensors):
                self._note("mixed", getattr(func, "__name__", str(func)))
        if _asks_for_device(kwargs):
            kwargs = kwargs | {"device": HOST}
        return func(*args, **kwargs)

    @staticmethod
    def _move(tensor: torch.Tensor, device: torch.device, dtype: torch.dtype | None) -> torch.Tensor:
        moved = tensor.as_subclass(torch.Tensor)
        if dtype is not None:
            moved = moved.to(dtype)
        if device.type == HOST.type:
            return on_host(moved)
        if isinstance(tensor, OnHost):
            return moved.clone()  # a transfer copies: a change to the device copy leaves the batch alone
        return tensor if dtype is None else moved  # already on the device: the same tensor, as .to returns
