"""train.py: train_one_epoch and evaluate, run by the worker on a small model the grader owns.

The judge runs the reference loop on the same weights, batches, optimizer and scheduler
and compares what the two loops did. The last batch is ragged, so a mean loss that is not
weighted by batch size shows. The device checks run each function once more with a CUDA
device simulated on the CPU (`worker/simulated_gpu.py`), so that batches left in host memory
show on a grader without a GPU.
"""
from __future__ import annotations

import math

import pytest
import torch

from .rubric import check
from .worker.contract import DeviceReply
from .worker.loop_fixtures import RecordingLoss, SpyOptimizer, SpyScheduler, loop_model

BATCH_SIZES = (8, 8, 3)
# The fixture's BN scales and shifts are this large, so that every step's gradient has a norm of 50 to 70
# (3 to 6 at scale 10): clipping at any usual maximum norm changes it, and shows.
BN_SCALE = 100.0


@pytest.fixture(scope="module")
def loop_data() -> dict:
    """Initial weights (with non-trivial BN statistics, large BN scales) and three ragged batches of (N, 1, 8, 8)
    inputs."""
    g = torch.Generator().manual_seed(7)
    model = loop_model()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        # Of the batch means' order: evaluation (running statistics) then classifies differently from train mode.
        model[1].running_mean.copy_(torch.randn(4, generator=g))
        model[1].weight.mul_(BN_SCALE)
        model[1].bias.mul_(BN_SCALE)
    batches = [(torch.randn(n, 1, 8, 8, generator=g), torch.randint(0, 10, (n,), generator=g)) for n in BATCH_SIZES]
    return {"state": {k: v.clone() for k, v in model.state_dict().items()}, "batches": batches}


def reference_epoch_state(reference, loop_data: dict) -> dict:
    """The weights and BN statistics after one reference epoch on the fixtures the student's loop gets."""
    model = loop_model()
    model.load_state_dict(loop_data["state"])
    model.eval()
    optimizer = SpyOptimizer(model.parameters())
    reference("train").train_one_epoch(model, loop_data["batches"], optimizer, RecordingLoss(), "cpu",
                                       SpyScheduler(optimizer))
    return model.state_dict()


def all_close(a: list, b: list, tolerance: float = 1e-5) -> bool:
    return len(a) == len(b) and all(
        (x is None and y is None) or (x is not None and y is not None and torch.allclose(x, y, atol=tolerance, rtol=1e-4))
        for x, y in zip(a, b))


@check
def test_train_one_epoch_uses_train_mode(student, loop_data):
    """train_one_epoch puts the model in training mode and computes gradients for every batch."""
    calls = student.train_epoch(loop_data["state"], loop_data["batches"], use_scheduler=False)["forward_calls"]
    assert [c["batch"] for c in calls] == list(BATCH_SIZES), (
        f"train_one_epoch ran forward on batches of sizes {[c['batch'] for c in calls]}; the loader gives "
        f"{list(BATCH_SIZES)}, each once")
    assert all(c["training"] for c in calls), "the model was in eval mode during training: call model.train() first"
    assert all(c["grad_enabled"] for c in calls), "train_one_epoch ran forward with gradients disabled"


@check
def test_train_one_epoch_clears_gradients(student, loop_data):
    """Each optimizer step applies exactly the gradient of its own batch: old gradients are cleared, and
    nothing clips or rescales them between backward() and step()."""
    run = student.train_epoch(loop_data["state"], loop_data["batches"], use_scheduler=False)
    applied, fresh = run["applied_gradients"], run["fresh_gradients"]
    assert len(applied) == len(BATCH_SIZES), f"the optimizer stepped {len(applied)} times for {len(BATCH_SIZES)} batches"
    for step, (used, computed) in enumerate(zip(applied, fresh), start=1):
        assert any(g is not None for g in computed), f"no gradient was computed before optimizer step {step}"
        if not all_close(used, computed):
            raise AssertionError(f"at step {step} {gradient_change(used, computed, fresh[:step])}")


def flat(gradients: list) -> torch.Tensor:
    return torch.cat([g.flatten() for g in gradients if g is not None] or [torch.zeros(0)])


def gradient_change(used: list, computed: list, fresh_so_far: list[list]) -> str:
    """How the gradients the optimizer applied differ from what this batch's backward() computed, in words."""
    if all(g is None or g.abs().max() == 0 for g in used):
        return ("every gradient was zero or missing: are the gradients cleared between loss.backward() and "
                "optimizer.step()?")
    summed = [None if any(f[i] is None for f in fresh_so_far) else sum(f[i] for f in fresh_so_far)
              for i in range(len(computed))]
    if len(fresh_so_far) > 1 and all_close(used, summed):
        return ("the optimizer applied more than this batch's gradient: old gradients accumulate. Clear them before "
                "every backward pass (optimizer.zero_grad()).")
    missing = sum((a is None) != (c is None) for a, c in zip(used, computed))
    if missing:
        return (f"{missing} parameters' gradients were set or removed between loss.backward() and optimizer.step(); "
                "the spec back-propagates and steps, nothing in between.")
    applied, own = flat(used), flat(computed)
    if applied.shape == own.shape and own.norm() > 0:
        factor = (torch.dot(applied, own) / torch.dot(own, own)).item()
        if 0 < factor < 1 and torch.allclose(applied, factor * own, atol=1e-5, rtol=1e-4):
            return (f"the optimizer applied this batch's gradient scaled by {factor:.3g}, from a total norm of "
                    f"{own.norm().item():.3g} to {applied.norm().item():.3g}: it was clipped (clip_grad_norm_) "
                    "between loss.backward() and optimizer.step(). The spec back-propagates and steps, nothing in "
                    "between.")
    largest = max(((a - c).abs().max().item() for a, c in zip(used, computed) if a is not None), default=0.0)
    return (f"the gradients the optimizer applied differ from what loss.backward() computed for this batch by up to "
            f"{largest:.3g}: something changes them between backward() and step() (clipping by value, rescaling, "
            "noise?). The spec back-propagates and steps, nothing in between.")


@check
def test_train_one_epoch_steps_scheduler_per_batch(student, loop_data):
    """train_one_epoch steps a given scheduler once per batch, and works without one."""
    with_scheduler = student.train_epoch(loop_data["state"], loop_data["batches"], use_scheduler=True)
    steps = with_scheduler["scheduler_steps"]
    assert steps == len(BATCH_SIZES), (
        f"the scheduler was stepped {steps} times in an epoch of {len(BATCH_SIZES)} batches; the spec steps it "
        "once per batch, after optimizer.step()" + (" (not once per epoch)" if steps == 1 else ""))
    student.train_epoch(loop_data["state"], loop_data["batches"], use_scheduler=False)


@check
def test_train_one_epoch_returns_weighted_mean_loss(student, loop_data):
    """train_one_epoch returns the mean loss per sample, each batch weighted by its size, as a Python float."""
    run = student.train_epoch(loop_data["state"], loop_data["batches"], use_scheduler=False)
    losses, returned = run["batch_losses"], run["returned"]
    assert len(losses) == len(BATCH_SIZES), f"the criterion was called {len(losses)} times for {len(BATCH_SIZES)} batches"
    # Judged against the losses of the student's own run, so that a bug elsewhere in the loop does not cost these points.
    expected = sum(l * n for l, n in zip(losses, BATCH_SIZES)) / sum(BATCH_SIZES)
    value = returned["value"]
    assert isinstance(value, float), f"train_one_epoch returned a {returned['type']} that is not a number"
    hint = ""
    if math.isclose(value, sum(losses) / len(losses), rel_tol=1e-4):
        hint = " That is the plain mean of the batch losses: weight each batch's loss by its size."
    elif math.isclose(value, sum(losses), rel_tol=1e-4):
        hint = " That is the sum of the batch losses, not a mean per sample."
    assert math.isclose(value, expected, rel_tol=1e-4), (
        f"train_one_epoch returned {value:.6f}; the size-weighted mean of its batch losses is {expected:.6f}.{hint}")
    assert returned["type"] == "float", f"train_one_epoch returned a {returned['type']}; return a Python float (.item())"


@check
def test_train_one_epoch_matches_reference(student, reference, loop_data):
    """One epoch of train_one_epoch ends with the same weights and BN statistics as the reference loop."""
    got = student.train_epoch(loop_data["state"], loop_data["batches"], use_scheduler=True)["state"]
    expected = reference_epoch_state(reference, loop_data)
    differing = [k for k in expected if not torch.allclose(got[k].double(), expected[k].double(), atol=1e-5, rtol=1e-4)]
    assert not differing, (f"after one epoch, {differing} differ from what the reference loop produces from the same "
                           "weights, data, optimizer and scheduler")


def reference_accuracy(loop_data: dict) -> tuple[float, list[float]]:
    """The overall accuracy of the fixture weights, and each batch's accuracy."""
    model = loop_model()
    model.load_state_dict(loop_data["state"])
    model.eval()
    with torch.no_grad():
        hits = [(model(x).argmax(1) == y).float() for x, y in loop_data["batches"]]
    return torch.cat(hits).mean().item(), [h.mean().item() for h in hits]


@check
def test_evaluate_accuracy(student, loop_data):
    """evaluate returns the fraction of samples whose arg-max prediction is the target, as a Python float."""
    returned = student.evaluate(loop_data["state"], loop_data["batches"])["returned"]
    expected, per_batch = reference_accuracy(loop_data)
    value = returned["value"]
    assert isinstance(value, float), f"evaluate returned a {returned['type']} that is not a number"
    samples = sum(BATCH_SIZES)
    hint = ""
    if math.isclose(value, expected * samples, rel_tol=1e-6):
        hint = " That is the number of correct samples: divide by the number of samples."
    elif math.isclose(value, expected * 100, rel_tol=1e-6):
        hint = " That is a percentage: the spec asks for a fraction in [0, 1]."
    elif math.isclose(value, sum(per_batch) / len(per_batch), rel_tol=1e-6):
        hint = " That is the plain mean of batch accuracies: count correct samples over all samples."
    assert math.isclose(value, expected, rel_tol=1e-6, abs_tol=1e-9), (
        f"evaluate returned {value}; {expected:.6f} of the samples are classified correctly (in eval mode).{hint}")
    assert returned["type"] == "float", f"evaluate returned a {returned['type']}; return a Python float"


@check
def test_evaluate_changes_nothing(student, loop_data):
    """evaluate runs in eval mode without gradients and leaves weights and BN statistics unchanged."""
    result = student.evaluate(loop_data["state"], loop_data["batches"])
    calls = result["forward_calls"]
    assert calls and all(not c["training"] for c in calls), (
        "the model was in training mode during evaluate: call model.eval() (batch norm then updates its statistics)")
    assert all(not c["grad_enabled"] for c in calls), "evaluate ran forward with gradients enabled: use torch.no_grad()"
    changed = [k for k, v in loop_data["state"].items() if not torch.equal(result["state"][k], v)]
    assert not changed, f"evaluate changed {changed}; it must change no parameter and no BN statistic"
    assert not result["has_gradients"], "evaluate computed gradients (called backward); it must not"


SIMULATED = ("Run with device=torch.device('cuda'), a GPU simulated on the grader's CPU (the model on the device, the "
             "loader's batches in host memory, as fit hands them over): ")
ON_A_GPU = "on a GPU that raises \"Expected all tensors to be on the same device\""
OPERATORS = {"__eq__": "==", "__ne__": "!=", "__lt__": "<", "__le__": "<=", "__gt__": ">", "__ge__": ">=", "add": "+",
             "add_": "+=", "sub": "-", "mul": "*", "div": "/"}  # how torch names Python's operators


def device_problem(function: str, reply: DeviceReply) -> str | None:
    """What a GPU would have refused first, in the student's terms, and how many more lines did likewise;
    None when nothing was, and the model ran on every batch."""
    findings = reply["findings"]
    if not findings:
        ran = reply["batches_run"]
        return None if ran == len(BATCH_SIZES) else (
            f"{SIMULATED}{function} ran the model on {ran} batches; the loader gives {len(BATCH_SIZES)}, each once.")
    first = findings[0]
    at = f"at {first['where']} (`{first['code']}`)"
    operation = f"`{OPERATORS.get(first['op'], first['op'])}`"
    said = {
        "input": f"{function} gave the model inputs still in host memory {at}: {ON_A_GPU}",
        "targets": f"{function} gave the criterion targets still in host memory {at}: {ON_A_GPU}",
        "mixed": f"{operation} {at} combines a tensor on `device` with one still in host memory: {ON_A_GPU}",
        "numpy": f".numpy() {at} is called on a tensor on `device`, which on a GPU raises: use .item(), or .cpu() "
                 "first",
    }[first["what"]]
    more = f" ({len(findings) - 1} more such line{'s' * (len(findings) > 2)})" if len(findings) > 1 else ""
    return SIMULATED + said + more + "."


@check
def test_train_one_epoch_moves_batches_to_device(student, loop_data):
    """train_one_epoch moves inputs and targets to `device` (checked on a GPU simulated on the CPU)."""
    problem = device_problem("train_one_epoch", student.device_moves(loop_data["state"], loop_data["batches"],
                                                                      "train_one_epoch"))
    assert problem is None, (f"{problem} The spec: for every (inputs, targets) batch, train_one_epoch moves both to "
                             "`device` (inputs.to(device), targets.to(device)).")


@check
def test_evaluate_runs_where_the_model_is(student, loop_data):
    """evaluate works with the model on `device` and the batches in host memory (a GPU simulated on the CPU)."""
    problem = device_problem("evaluate", student.device_moves(loop_data["state"], loop_data["batches"], "evaluate"))
    assert problem is None, (f"{problem} `device` is where the model is: move each batch there, as train_one_epoch "
                             "does, or bring results back with .cpu() before combining them with tensors from the "
                             "loader.")
