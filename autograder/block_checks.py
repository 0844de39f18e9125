"""Checks that every block of the lab gets, written once: output shapes under hypothesis,
gradient flow, the spec's computation on weights the check sets, and agreement with the
reference once it carries the reference's weights."""
from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType
from typing import Callable

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from .judge.worker_client import RemoteModule, StudentError, StudentTimeout, Submission, WorkerCrashed
from .probes import (bn_values, chosen_parameters, close, paired_state, reference_bn_state, reference_weights,
                     student_bn_state, transplant, weight_pairs)
from .spec_blocks import BlockSpec

# The rule the parameter-count and structure checks apply to every convolution they count.
BIAS_RULE = ("ASSIGNMENT_SPEC.md's rule: every convolution of BasicBlock, DenseLayer, Transition, "
             "DepthwiseSeparableConv and SEBasicBlock's residual path has bias=False")

# Derandomized and without an example database: every grading run tries the same inputs.
PROPERTY = settings(max_examples=12, deadline=None, derandomize=True, database=None, report_multiple_bugs=False,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@st.composite
def block_inputs(draw: st.DrawFn, strides: tuple[int, ...] = (1, 2)) -> dict:
    """A block configuration and input: channels, stride, odd and even sizes, batches of 1 to 3."""
    return {
        "in_channels": draw(st.integers(1, 24)), "out_channels": draw(st.integers(1, 24)),
        "stride": draw(st.sampled_from(strides)), "batch": draw(st.integers(1, 3)),
        "height": draw(st.integers(1, 13)), "width": draw(st.integers(1, 13)),
    }


def basic_block_parameters(cin: int, cout: int, stride: int) -> int:
    """Spec count: two bias-free 3x3 convs and two BNs, plus a 1x1 conv and BN when projecting
    (SEBasicBlock's residual path has the same)."""
    main = 9 * cin * cout + 2 * cout + 9 * cout * cout + 2 * cout
    return main + (cin * cout + 2 * cout if stride != 1 or cin != cout else 0)


def strided(size: int, stride: int) -> int:
    return math.ceil(size / stride)


def assert_shapes_property(
    student: Submission, module: str, make_args: Callable[[dict], tuple],
    expected_shape: Callable[[dict], tuple], strategy: st.SearchStrategy = block_inputs(),
) -> None:
    """For many configurations: output shape as the spec says, finite values; batch 1 runs in eval mode."""
    crashed: list[StudentError] = []

    @PROPERTY
    @given(case=strategy)
    def run(case: dict) -> None:
        if crashed:
            # A worker restart takes seconds; shrinking would restart it for every smaller example.
            raise crashed[0]
        try:
            run_case(case)
        except (WorkerCrashed, StudentTimeout) as error:
            crashed.append(error)
            raise

    def run_case(case: dict) -> None:
        args = make_args(case)
        block = student.build(module, *args)
        x = torch.randn(case["batch"], case["in_channels"], case["height"], case["width"])
        train = case["batch"] > 1
        y = block.forward(x, train=train)
        where = f"{block.description} on input {tuple(x.shape)} in {'train' if train else 'eval'} mode"
        assert tuple(y.shape) == expected_shape(case), (
            f"{where} returned shape {tuple(y.shape)}; the spec gives {expected_shape(case)}")
        assert torch.isfinite(y).all(), f"{where} returned NaN or infinite values"

    run()


def assert_gradients_flow(build: Callable[[int], RemoteModule], x: torch.Tensor, seeds: tuple[int, ...] = (0, 1, 2)) -> None:
    """One backward pass reaches every parameter (finite gradient) and the input.

    The block carries parameter values the check chooses (`probes.chosen_parameters`): a correct
    block that zero-initialises a BN scale or a linear cuts no gradient the spec's computation has.
    A parameter outside the autograd graph fails at once. An all-zero gradient can also come from
    a correct block whose ReLUs all start dead, so it fails only if it stays zero for the values
    chosen with every one of `seeds`.
    """
    always_zero: set[str] | None = None
    for seed in seeds:
        block = build(seed)
        block.load(chosen_parameters(block.parameters(), seed))
        grad_output = torch.randn_like(block.forward(x, train=True))
        result = block.backward(x, grad_output, train=True)
        grads = result["param_grads"]
        missing = [n for n, g in grads.items() if g is None]
        assert not missing, f"{block.description}: no gradient reached {missing}; are they used in forward, or detached?"
        broken = [n for n, g in grads.items() if not torch.isfinite(g).all()]
        assert not broken, f"{block.description}: the gradients of {broken} are not finite"
        grad = result["input_grad"]
        assert grad is not None and grad.numel() and grad.abs().max() > 0, (
            f"{block.description}: no gradient reaches the input; is x detached or the block cut off from it?")
        zero = {n for n, g in grads.items() if g.numel() == 0 or g.abs().max() == 0}
        always_zero = zero if always_zero is None else always_zero & zero
        if not always_zero:
            return
    assert not always_zero, (
        f"{block.description}: the gradients of {sorted(always_zero)} are all zero for {len(seeds)} different "
        "initialisations; is their output used?")


@dataclass(frozen=True)
class SpecCase:
    """One configuration of a computes-the-spec check: the block's arguments, the spec, a seeded input.
    The check files list theirs in `*_spec_cases()`; tests/test_spec_blocks.py reads the same lists."""

    args: tuple
    spec: BlockSpec
    x: torch.Tensor


def seeded_input(seed: int, make: Callable[[], torch.Tensor]) -> torch.Tensor:
    torch.manual_seed(seed)
    return make()


def assert_computes_spec_cases(student: Submission, module: str, name: str, cases: list[SpecCase]) -> None:
    """`name` from `module`, built with each case's arguments, computes the case's spec on its input."""
    for case in cases:
        assert_computes_spec(student.build(module, name, *case.args), case.spec, case.x)


def assert_computes_spec(student: RemoteModule, spec: BlockSpec, x: torch.Tensor, seed: int = 0) -> None:
    """Every BN is the spec's (`assert_default_batch_norms`). With weights the check chooses and every BN's
    statistics wide (what follows a BN sees values beyond 6 and far below 0), the block's output is the
    spec's computation in eval and train mode, the train-mode forward leaves the spec's running statistics
    (`assert_running_statistics`), and its gradients are the spec's (`assert_backpropagates_spec`). A
    failure quotes the spec, and names the student's departure when it is one the lab's students make."""
    modules = student.modules()
    assert_default_batch_norms(student.description, modules)
    weights = spec.weights(seed)
    pairs = weight_pairs(student, weights, x)
    student.load(paired_state(weights, pairs) | student_bn_state(student, "wide"))
    for train in (False, True):
        actual = student.forward(x, train=train)
        expected = spec.compute(weights, x, train)
        if close(actual, expected):
            continue
        departure = spec.departure(weights, x, train, actual) if actual.shape == expected.shape else None
        raise AssertionError(
            f"{student.description} in {'train' if train else 'eval'} mode, given weights set by this check, "
            f"{difference(actual, expected)}. The spec: {spec.statement}."
            + (f" Its output is the spec's computation with {departure}." if departure else ""))
    assert_running_statistics(student, modules, spec.running_statistics(weights, x))
    assert_backpropagates_spec(student, spec, weights, x, {name: index for name, (index, _) in pairs.items()})


SPEC_BN = ("the spec's BN is nn.BatchNorm2d with its defaults: eps 1e-05, momentum 0.1, a learnable scale and shift, "
           "running statistics")
BN_MOMENTUM, BN_EPS = 0.1, 1e-5


def bn_name(module: dict) -> str:
    return f"BatchNorm2d {module['path']!r}" if module["path"] else "the block itself (a BatchNorm2d)"


def assert_default_batch_norms(description: str, modules: list[dict]) -> None:
    """Every nn.BatchNorm2d of the block keeps the defaults the contract names: eps, momentum, affine
    parameters and running statistics. Each setting leaves a train-mode output nearly or exactly as it was;
    they show in eval mode, after training."""
    for module in modules:
        if module.get("kind") != "batchnorm2d":
            continue
        found = []
        if module["momentum"] is None:
            found.append("momentum None (a cumulative average of every batch so far)")
        elif not math.isclose(module["momentum"], BN_MOMENTUM):
            tensorflow = (f": PyTorch's momentum weighs the new batch, so TensorFlow's {module['momentum']:g} is "
                          f"PyTorch's {1 - module['momentum']:.2g}" if module["momentum"] > 0.5 else "")
            found.append(f"momentum {module['momentum']:g}{tensorflow}")
        if not math.isclose(module["eps"], BN_EPS):
            found.append(f"eps {module['eps']:g}")
        if not module["affine"]:
            found.append("no learnable scale and shift (affine=False)")
        if not module["track_running_stats"]:
            found.append("no running statistics (track_running_stats=False: evaluation then normalizes each batch "
                         "by its own statistics)")
        assert not found, f"{description}: {bn_name(module)} has {' and '.join(found)}; {SPEC_BN}."


def assert_running_statistics(student: RemoteModule, modules: list[dict],
                              expected: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    """After one train-mode forward from the statistics the check set, each BatchNorm2d holds the running mean
    and variance of one of the spec's BNs of its width: those of nn.BatchNorm2d's momentum 0.1 and unbiased
    batch variance, whatever the module's settings say (a functional batch_norm call brings its own)."""
    state = student.state()
    for module in modules:
        prefix = f"{module['path']}." if module["path"] else ""
        mean, var = state.get(prefix + "running_mean"), state.get(prefix + "running_var")
        if module.get("kind") != "batchnorm2d" or mean is None or var is None:
            continue
        candidates = [(m, v) for m, v in expected if m.shape == mean.shape]
        if any(close(mean, m) and close(var, v) for m, v in candidates):
            continue
        start = bn_values(len(mean), "wide")["running_mean"]
        found = ""
        if candidates and not any(close(mean, m) for m, _ in candidates):
            momentum = implied_momentum(mean, start, [m for m, _ in candidates])
            if momentum is not None:
                found = f" Its running mean moved as a momentum of {momentum:.3g} would move it."
        raise AssertionError(
            f"{student.description}: after one train-mode forward, the running statistics of {bn_name(module)} are "
            f"not those of any BN of the spec; {SPEC_BN}, which a train-mode forward moves a tenth of the way to the "
            f"batch's mean and unbiased variance.{found}")


def implied_momentum(mean: torch.Tensor, start: torch.Tensor, expected: list[torch.Tensor]) -> float | None:
    """The momentum that takes `start` to `mean` toward the batch mean of one of the spec's BNs (which moved to
    `expected` with momentum 0.1), if one explains it to the check's tolerance."""
    for spec_mean in expected:
        step = (spec_mean - start) / BN_MOMENTUM
        if step.norm() == 0:
            continue
        momentum = (torch.dot(mean - start, step) / torch.dot(step, step)).item()
        if close(mean, start + momentum * step):
            return momentum
    return None


def assert_backpropagates_spec(student: RemoteModule, spec: BlockSpec, weights: list[torch.Tensor], x: torch.Tensor,
                               pairs: dict[str, int], seed: int = 1) -> None:
    """In train mode, a fixed upstream gradient back-propagated through the block gives the spec's gradients for
    the input and for every convolution and linear weight: no path of the spec is cut from autograd."""
    torch.manual_seed(seed)
    upstream = torch.randn_like(spec.compute(weights, x, True))
    expected_input, expected_weights = spec.gradients(weights, x, upstream)
    result = student.backward(x, upstream, train=True)
    actual_input = result["input_grad"] if result["input_grad"] is not None else torch.zeros_like(x)
    actual_weights = {name: torch.zeros(expected_weights[index].shape) if result["param_grads"].get(name) is None
                      else result["param_grads"][name].reshape(expected_weights[index].shape)
                      for name, index in pairs.items()}
    differing = [("the input", actual_input, expected_input)] if not close(actual_input, expected_input) else []
    differing += [(f"{name} (the spec's {tuple(expected_weights[index].shape)} weight)", actual_weights[name],
                   expected_weights[index]) for name, index in pairs.items()
                  if not close(actual_weights[name], expected_weights[index])]
    if not differing:
        return
    what, actual, expected = differing[0]
    cut = spec.cut(weights, x, upstream, lambda input_grad, weight_grads: close(actual_input, input_grad) and all(
        close(actual_weights[name], weight_grads[index]) for name, index in pairs.items()))
    none = " (none reaches it)" if not actual.abs().max() else ""
    raise AssertionError(
        f"{student.description}, given weights set by this check, computes the spec's output but back-propagates "
        f"differently: the gradient with respect to {what}{none} differs from the spec's by up to "
        f"{(actual - expected).abs().max().item():.3g}"
        + (f". It is the spec's gradient with {cut}" if cut else "")
        + ". A .detach(), .data, torch.no_grad() or a tensor rebuilt from numbers cuts a path of the spec from "
          "autograd, and training then never updates what lies behind it.")


def assert_matches_reference(
    student: RemoteModule, reference: nn.Module, x: torch.Tensor, hint: Callable[[torch.Tensor], str] = lambda y: "",
) -> None:
    """With the reference's weights and the same random BN statistics, outputs equal the reference's."""
    student.load(transplant(student, reference_weights(reference, x), x) | student_bn_state(student, "random"))
    reference_bn_state(reference, "random")
    for train in (False, True):
        reference.train(train)
        with torch.no_grad():
            expected = reference(x)
        actual = student.forward(x, train=train)
        mode = "train" if train else "eval"
        assert close(actual, expected), (
            f"{student.description} in {mode} mode, given the reference's weights, {difference(actual, expected)}"
            f". {hint(actual)}".rstrip(". ") + ".")


def difference(actual: torch.Tensor, expected: torch.Tensor) -> str:
    """How `actual` departs from the spec's `expected` output, in words."""
    if actual.shape != expected.shape:
        return f"returned shape {tuple(actual.shape)} where the spec's computation gives {tuple(expected.shape)}"
    return f"differs from the spec's computation by up to {(actual - expected).abs().max().item():.3g}"


def assert_parameter_count_as_reference(student: Submission, reference: ModuleType, module: str, factory: str,
                                        **kwargs) -> None:
    """The student's `module.factory(**kwargs)` has as many parameters as the reference's. The reference
    is built on the meta device: no memory and no initialisation, even for a default-width ResNet-34."""
    with torch.device("meta"):
        expected = sum(p.numel() for p in getattr(reference, factory)(**kwargs).parameters())
    model = student.build(module, factory, **kwargs)
    count = model.parameter_count()
    assert count == expected, f"{model.description} has {count:,} parameters; the spec implies {expected:,}"
