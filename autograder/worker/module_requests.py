"""Requests on one student block or network: build it, run it, and describe it."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from . import tracing
from .contract import BackwardReply, ModuleInfo, ParameterInfo, StudentError
from .session import Session


def import_module(session: Session, module: str) -> None:
    """Import the graded folder's `module` on its own, so that a hang there is told from one in its code."""
    session.module(module)


def build(session: Session, module: str, name: str, args: list, kwargs: dict, seed: int) -> int:
    return session.keep(session.build(module, name, args, kwargs, seed))


def _forward(session: Session, handle: int, x: torch.Tensor, train: bool) -> torch.Tensor:
    model = session.get(handle)
    session.run_student("forward", "train()/eval()", lambda: model.train(train))
    y = session.run_student("forward", "forward", lambda: model(x))
    if not isinstance(y, torch.Tensor):
        raise StudentError("forward", f"forward returned a {type(y).__name__}, not a tensor", "")
    return y


def forward(session: Session, handle: int, x: torch.Tensor, train: bool) -> torch.Tensor:
    with torch.no_grad():
        return _forward(session, handle, x, train).as_subclass(torch.Tensor).detach().clone()


def backward(session: Session, handle: int, x: torch.Tensor, grad_output: torch.Tensor, train: bool) -> BackwardReply:
    model = session.get(handle)
    for p in model.parameters():
        p.grad = None
    x = x.clone().requires_grad_(True)
    y = _forward(session, handle, x, train)
    if y.shape != grad_output.shape:
        raise StudentError("forward", f"forward returned shape {tuple(y.shape)}, expected "
                                      f"{tuple(grad_output.shape)}", "")
    if not y.requires_grad:
        raise StudentError("backward", "the output does not depend on any parameter or on the input "
                                       "through autograd (was it detached, or computed under no_grad?)", "")
    session.run_student("backward", "backward", lambda: y.backward(grad_output))
    return {
        "output": y.detach().as_subclass(torch.Tensor).clone(),
        "input_grad": None if x.grad is None else x.grad.clone(),
        "param_grads": {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()},
    }


def parameters(session: Session, handle: int) -> list[ParameterInfo]:
    return [{"name": n, "shape": list(p.shape), "requires_grad": p.requires_grad}
            for n, p in session.get(handle).named_parameters()]


def modules(session: Session, handle: int) -> list[ModuleInfo]:
    summary = []
    for path, module in session.get(handle).named_modules():
        entry: ModuleInfo = {"path": path, "type": type(module).__name__,
                             "params": {n: list(p.shape) for n, p in module.named_parameters(recurse=False)}}
        if isinstance(module, nn.Conv2d):
            entry.update(kind="conv2d", groups=module.groups, stride=list(module.stride),
                         padding=list(module.padding) if not isinstance(module.padding, str) else module.padding,
                         kernel_size=list(module.kernel_size), bias=module.bias is not None)
        elif isinstance(module, nn.BatchNorm2d):
            entry.update(kind="batchnorm2d", eps=module.eps, momentum=module.momentum, affine=module.affine,
                         track_running_stats=module.track_running_stats)
        elif isinstance(module, nn.Linear):
            entry.update(kind="linear", bias=module.bias is not None)
        summary.append(entry)
    return summary


def trace(session: Session, handle: int, x: torch.Tensor, train: bool) -> list[str]:
    session.run_student("forward", "train()/eval()", lambda: session.get(handle).train(train))
    return session.run_student("forward", "forward", lambda: tracing.call_order(session.get(handle), x))


def parameter_order(session: Session, handle: int, x: torch.Tensor, train: bool) -> list[str]:
    session.run_student("forward", "train()/eval()", lambda: session.get(handle).train(train))
    return session.run_student("forward", "forward", lambda: tracing.parameter_order(session.get(handle), x))


def state(session: Session, handle: int) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in session.get(handle).state_dict().items()}


def load(session: Session, handle: int, tensors: dict[str, Any]) -> None:
    model = session.get(handle)
    named = dict(model.named_parameters()) | dict(model.named_buffers())
    with torch.no_grad():
        for name, value in tensors.items():
            if name not in named or named[name].shape != value.shape:
                raise KeyError(f"cannot load {name} {tuple(value.shape)}")
            named[name].copy_(value)
