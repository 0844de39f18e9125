"""Requests that run the student's train_one_epoch and evaluate once on the spies of `loop_fixtures`
(on a simulated GPU for `device_moves`)."""
from __future__ import annotations

import math
from typing import Any

import torch

from .contract import DeviceReply, EpochReply, EvaluateReply, Returned
from .loop_fixtures import Loader, RecordingLoss, SpyOptimizer, SpyScheduler, loop_model, record_forward_calls
from .session import Session
from .simulated_gpu import DEVICE, SimulatedGPU, on_host


def describe_number(value: Any) -> Returned:
    """What a loop function returned: its exact type's name and, if it converts, its float value."""
    try:
        number = float(value)
    except Exception:
        number = None
    if number is not None and not math.isfinite(number):
        number = str(number)
    return {"type": type(value).__name__, "value": number}


def train_epoch(session: Session, state: dict, batches: list, use_scheduler: bool) -> EpochReply:
    train = session.module("train")
    model = loop_model()
    model.load_state_dict(state)
    model.eval()  # so that a loop that never calls model.train() shows
    calls = record_forward_calls(model)
    optimizer = SpyOptimizer(model.parameters())
    scheduler = SpyScheduler(optimizer) if use_scheduler else None
    loader = Loader(batches)
    criterion = RecordingLoss()
    returned = session.run_student("loop", "train_one_epoch", lambda: train.train_one_epoch(
        model, loader, optimizer, criterion, torch.device("cpu"), scheduler))
    return {
        "returned": describe_number(returned),
        "state": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "applied_gradients": optimizer.applied_gradients,
        "fresh_gradients": optimizer.fresh_gradients,
        "batch_losses": criterion.values,
        "scheduler_steps": None if scheduler is None else scheduler.steps_taken,
        "forward_calls": calls,
    }


def evaluate(session: Session, state: dict, batches: list) -> EvaluateReply:
    train = session.module("train")
    model = loop_model()
    model.load_state_dict(state)
    model.train()  # so that a loop that never calls model.eval() shows
    calls = record_forward_calls(model)
    loader = Loader(batches)
    returned = session.run_student("loop", "evaluate", lambda: train.evaluate(model, loader, torch.device("cpu")))
    return {
        "returned": describe_number(returned),
        "state": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "has_gradients": any(p.grad is not None for p in model.parameters()),
        "forward_calls": calls,
    }


def device_moves(session: Session, state: dict, batches: list, function: str) -> DeviceReply:
    """Run train_one_epoch or evaluate with a CUDA `device` simulated on the CPU, the model on it and the
    batches in host memory, as `fit` hands them over; what a real GPU would have refused."""
    train = session.module("train")
    model = loop_model()
    model.load_state_dict(state)
    loader = Loader([(on_host(x), on_host(y)) for x, y in batches])
    gpu = SimulatedGPU(session.impl)
    if function == "train_one_epoch":
        optimizer, criterion = SpyOptimizer(model.parameters()), RecordingLoss()
        gpu.watch(model, criterion)
        call = lambda: train.train_one_epoch(model, loader, optimizer, criterion, DEVICE, SpyScheduler(optimizer))
    else:
        gpu.watch(model)
        call = lambda: train.evaluate(model, loader, DEVICE)
    with gpu:
        session.run_student("loop", f"{function}, given device=torch.device('cuda') (simulated on the CPU),", call)
    return {"findings": gpu.findings, "batches_run": gpu.batches_run}
