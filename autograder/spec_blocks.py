"""What ASSIGNMENT_SPEC.md says each student block computes, written out with torch.nn.functional.

A visible check loads weights of its own choosing into the student's block (`probes.transplant`)
and every BN with wide statistics (`probes.bn_values(..., "wide")`), then compares the block's
output with `BlockSpec.compute`. Each activation of the spec, and each other choice students
get wrong (the pooling, the squeeze, where SE sits), is a keyword of `compute`, so when the
outputs differ `BlockSpec.departure` can tell the student what their block computes instead.
The same check then back-propagates a fixed gradient through both (`BlockSpec.gradients`); a
path cut from autograd leaves the output as it was, and `BlockSpec.cut` names the usual ones.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from .probes import bn_values, close

Activation = Callable[[torch.Tensor], torch.Tensor]
Weights = list[torch.Tensor]


def identity(x: torch.Tensor) -> torch.Tensor:
    return x


def detached(x: torch.Tensor) -> torch.Tensor:
    """A path cut from autograd: what `.detach()`, `.data` or a tensor rebuilt from numbers do."""
    return x.detach()


def relu_detached(x: torch.Tensor) -> torch.Tensor:
    return F.relu(x).detach()


def sigmoid_detached(x: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(x).detach()


# What students write where the spec has an activation (or has none), by the name a hint uses.
ACTIVATIONS: dict[str, Activation] = {
    "ReLU": F.relu, "no activation": identity, "ReLU6 (or hardtanh(0, 6))": F.relu6, "leaky ReLU": F.leaky_relu,
    "GELU": F.gelu, "ELU": F.elu, "SiLU": F.silu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
    "hard sigmoid": F.hardsigmoid,
}


@dataclass(frozen=True)
class Place:
    """Where an activation sits (or where a student may add one), and what the spec applies there."""

    where: str
    spec: Activation = F.relu


@dataclass(frozen=True)
class BlockSpec:
    """One block in one configuration: the spec's words, its layers' weight shapes in call order,
    `compute(weights, x, train, **choices)`, its activation places and its other known departures."""

    statement: str
    shapes: list[tuple[int, ...]]
    compute: Callable[..., torch.Tensor]
    places: dict[str, Place]
    departures: dict[str, dict] = field(default_factory=dict)
    cuts: dict[str, dict] = field(default_factory=dict)  # paths cut from autograd: the output stays the spec's

    def weights(self, seed: int) -> Weights:
        """Random weights of the spec's shapes: He-scaled kernels and matrices, biases of scale 0.5."""
        g = torch.Generator().manual_seed(seed)
        return [torch.randn(s, generator=g) * (math.sqrt(2 / math.prod(s[1:])) if len(s) > 1 else 0.5)
                for s in self.shapes]

    def candidates(self) -> Iterator[tuple[str, dict]]:
        """Every named departure: each other activation at each place, at all ReLU places at once, then the rest."""
        relu_places = [key for key, place in self.places.items() if place.spec is F.relu]
        spec_names = {fn: name for name, fn in ACTIVATIONS.items()}
        for name, fn in ACTIVATIONS.items():
            for key, place in self.places.items():
                if fn is not place.spec:
                    yield f"{name} {place.where}, where the spec has {spec_names[place.spec]}", {key: fn}
            if fn is not F.relu and len(relu_places) > 1:
                yield f"{name} everywhere the spec has ReLU", dict.fromkeys(relu_places, fn)
        yield from self.departures.items()

    def gradients(self, weights: Weights, x: torch.Tensor, upstream: torch.Tensor,
                  **choices: Callable) -> tuple[torch.Tensor, Weights]:
        """The gradients of sum(output * upstream) in train mode for the input and each weight (zeros where
        none reaches)."""
        leaves = [w.detach().clone().requires_grad_() for w in weights]
        x = x.detach().clone().requires_grad_()
        self.compute(leaves, x, True, **choices).backward(upstream)
        return (x.grad if x.grad is not None else torch.zeros_like(x),
                [w.grad if w.grad is not None else torch.zeros_like(w) for w in leaves])

    def running_statistics(self, weights: Weights, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Each BN's running mean and variance after one train-mode `compute`, from the statistics the check
        sets (`bn_values(..., "wide")`): what nn.BatchNorm2d's defaults (momentum 0.1) leave there."""
        with BatchNormCalls() as calls:
            self.compute(weights, x, True)
        return [(call[1], call[2]) for call in calls.arguments]

    def cut(self, weights: Weights, x: torch.Tensor, upstream: torch.Tensor,
            matches: Callable[[torch.Tensor, Weights], bool]) -> str | None:
        """The named cut path whose gradients `matches` accepts, if any."""
        return next((description for description, choices in self.cuts.items()
                     if matches(*self.gradients(weights, x, upstream, **choices))), None)

    def departure(self, weights: Weights, x: torch.Tensor, train: bool, actual: torch.Tensor) -> str | None:
        """The named departure whose output `actual` equals, if any."""
        for description, choices in self.candidates():
            if close(actual, self.compute(weights, x, train, **choices)):
                return description
        return None


class BatchNormCalls(TorchFunctionMode):
    """Notes the arguments of every F.batch_norm call made inside it; a train-mode call updates the running
    statistics it was given in place."""

    def __init__(self) -> None:
        super().__init__()
        self.arguments: list[tuple] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is F.batch_norm:
            self.arguments.append(args)
        return func(*args, **(kwargs or {}))


def bn(x: torch.Tensor, train: bool) -> torch.Tensor:
    """A default BatchNorm2d holding the values every BN of this width gets from the check."""
    v = bn_values(x.shape[1], "wide")
    return F.batch_norm(x, v["running_mean"], v["running_var"], v["weight"], v["bias"], training=train)


def residual(weights: Weights, x: torch.Tensor, train: bool, *, stride: int, se: Callable | None = None,
             se_at: str = "main path", relu1: Activation = F.relu, main_out: Activation = identity,
             shortcut_out: Activation = identity, relu_out: Activation = F.relu) -> torch.Tensor:
    """BasicBlock: ReLU(BN(conv3x3(ReLU(BN(conv3x3_stride(x))))) + shortcut(x)); with `se`, SEBasicBlock."""
    conv1, conv2, *projection = weights
    out = relu1(bn(F.conv2d(x, conv1, stride=stride, padding=1), train))
    if se and se_at == "after the first BN-ReLU":
        out = se(out)
    out = bn(F.conv2d(out, conv2, padding=1), train)
    if se and se_at == "main path":
        out = se(out)
    shortcut = bn(F.conv2d(x, projection[0], stride=stride), train) if projection else x
    out = main_out(out) + shortcut_out(shortcut)
    if se and se_at == "after the addition":
        out = se(out)
    return relu_out(out)


RESIDUAL_CUTS = {"the shortcut cut from autograd (detached)": {"shortcut_out": detached},
                 "the main path cut from autograd (detached)": {"main_out": detached}}
RESIDUAL_PLACES = {
    "relu1": Place("after the first BN"),
    "main_out": Place("at the end of the main path, before the addition", identity),
    "shortcut_out": Place("on the shortcut, before the addition", identity),
    "relu_out": Place("after the addition"),
}


def basic_block(in_channels: int, out_channels: int, stride: int) -> BlockSpec:
    projecting = stride != 1 or in_channels != out_channels
    return BlockSpec(
        "main path 3x3 conv (stride) -> BN -> ReLU -> 3x3 conv -> BN; shortcut the identity, or 1x1 conv (stride) "
        "-> BN when projecting; output ReLU(main + shortcut)",
        [(out_channels, in_channels, 3, 3), (out_channels, out_channels, 3, 3)]
        + [(out_channels, in_channels, 1, 1)] * projecting,
        partial(residual, stride=stride), RESIDUAL_PLACES, cuts=RESIDUAL_CUTS)


def squeeze_excite(weights: Weights, x: torch.Tensor, train: bool = False, *,
                   squeeze: Callable = partial(torch.mean, dim=(2, 3)), relu: Activation = F.relu,
                   gate: Activation = torch.sigmoid) -> torch.Tensor:
    """SEBlock: x * sigmoid(linear(ReLU(linear(mean over H, W of x)))), one scale per channel."""
    fc1_weight, fc1_bias, fc2_weight, fc2_bias = weights
    s = gate(F.linear(relu(F.linear(squeeze(x), fc1_weight, fc1_bias)), fc2_weight, fc2_bias))
    return x * s[:, :, None, None]


def mean_detached(x: torch.Tensor) -> torch.Tensor:
    return x.detach().mean(dim=(2, 3))


SE_CUTS = {"a stop-gradient on the excitation (the scale s detached)": {"gate": sigmoid_detached},
           "the squeeze cut from autograd (x detached before the mean)": {"squeeze": mean_detached}}
SE_PLACES = {"relu": Place("between the two linears"), "gate": Place("at the end of the excitation", torch.sigmoid)}
SE_SQUEEZES = {
    "a max-pooling squeeze where the spec averages over H and W": {"squeeze": partial(torch.amax, dim=(2, 3))},
    "a sum over H and W where the spec's squeeze averages": {"squeeze": partial(torch.sum, dim=(2, 3))},
}


def se_shapes(channels: int, reduction: int) -> list[tuple[int, ...]]:
    hidden = max(1, channels // reduction)
    return [(hidden, channels), (hidden,), (channels, hidden), (channels,)]


def se_block(channels: int, reduction: int) -> BlockSpec:
    return BlockSpec(
        "squeeze by the mean over H and W; excitation linear -> ReLU -> linear -> sigmoid; output x * s per channel",
        se_shapes(channels, reduction), squeeze_excite, SE_PLACES, SE_SQUEEZES, SE_CUTS)


def se_residual(weights: Weights, x: torch.Tensor, train: bool, *, stride: int, se_at: str = "main path",
                relu_hidden: Activation = F.relu, se_gate: Activation = torch.sigmoid,
                se_squeeze: Callable = partial(torch.mean, dim=(2, 3)), **residual_choices: Activation) -> torch.Tensor:
    """SEBasicBlock: BasicBlock with SEBlock applied to the main path after its second BN."""
    *block, fc1_weight, fc1_bias, fc2_weight, fc2_bias = weights
    se = partial(squeeze_excite, [fc1_weight, fc1_bias, fc2_weight, fc2_bias], relu=relu_hidden, gate=se_gate,
                 squeeze=se_squeeze)
    return residual(block, x, train, stride=stride, se=se, se_at=se_at, **residual_choices)


def se_basic_block(in_channels: int, out_channels: int, stride: int, reduction: int) -> BlockSpec:
    plain = basic_block(in_channels, out_channels, stride)
    return BlockSpec(
        "BasicBlock's main path (3x3 conv -> BN -> ReLU -> 3x3 conv -> BN) rescaled by SEBlock, then "
        "ReLU(SE(main) + shortcut)",
        plain.shapes + se_shapes(out_channels, reduction), partial(se_residual, stride=stride),
        RESIDUAL_PLACES | {"relu_hidden": Place("between SE's two linears")},
        {f"SE {where}, where the spec applies it to the main path before the addition": {"se_at": where}
         for where in ("after the first BN-ReLU", "after the addition")},
        RESIDUAL_CUTS | {"a stop-gradient on SE's scale s (detached)": {"se_gate": sigmoid_detached},
                         "SE's squeeze cut from autograd (detached before the mean)": {"se_squeeze": mean_detached}})


def dense(weights: Weights, x: torch.Tensor, train: bool, *, relu1: Activation = F.relu,
          relu2: Activation = F.relu, kept: Activation = identity) -> torch.Tensor:
    """DenseLayer: cat([x, conv3x3(ReLU(BN(conv1x1(ReLU(BN(x))))))], dim=1)."""
    conv1, conv2 = weights
    new_features = F.conv2d(relu2(bn(F.conv2d(relu1(bn(x, train)), conv1), train)), conv2, padding=1)
    return torch.cat([kept(x), new_features], dim=1)


def dense_layer(in_channels: int, growth_rate: int, bn_size: int) -> BlockSpec:
    inner = bn_size * growth_rate
    return BlockSpec(
        "BN -> ReLU -> 1x1 conv -> BN -> ReLU -> 3x3 conv, concatenated after the input",
        [(inner, in_channels, 1, 1), (growth_rate, inner, 3, 3)], dense,
        {"relu1": Place("after the first BN"), "relu2": Place("after the second BN")},
        cuts={"the input's copy in the concatenation cut from autograd (detached)": {"kept": detached},
              "the new features cut from the input (detached after the first BN-ReLU)": {"relu1": relu_detached}})


def sum_pool2d(x: torch.Tensor, kernel: int) -> torch.Tensor:
    return F.avg_pool2d(x, kernel) * kernel * kernel


def pooled_projection(weights: Weights, x: torch.Tensor, train: bool, *, relu: Activation = F.relu,
                      pool: Callable = F.avg_pool2d, pool_before_relu: bool = False) -> torch.Tensor:
    """Transition: avg_pool2d(conv1x1(ReLU(BN(x))), 2)."""
    (conv,) = weights
    if pool_before_relu:
        return F.conv2d(relu(pool(bn(x, train), 2)), conv)
    return pool(F.conv2d(relu(bn(x, train)), conv), 2)


def transition(in_channels: int, out_channels: int) -> BlockSpec:
    return BlockSpec(
        "BN -> ReLU -> 1x1 conv -> 2x2 average pool with stride 2", [(out_channels, in_channels, 1, 1)],
        pooled_projection, {"relu": Place("after the BN")},
        {"max pooling where the spec averages": {"pool": F.max_pool2d},
         "a 2x2 sum where the spec averages": {"pool": sum_pool2d},
         "the pooling before the ReLU, where the spec pools last": {"pool_before_relu": True}},
        {"the convolution cut from the input (detached after the BN-ReLU)": {"relu": relu_detached}})


def separable(weights: Weights, x: torch.Tensor, train: bool, *, stride: int, relu1: Activation = F.relu,
              relu2: Activation = F.relu) -> torch.Tensor:
    """DepthwiseSeparableConv: ReLU(BN(conv1x1(ReLU(BN(depthwise conv3x3_stride(x))))))."""
    depthwise, pointwise = weights
    x = relu1(bn(F.conv2d(x, depthwise, stride=stride, padding=1, groups=x.shape[1]), train))
    return relu2(bn(F.conv2d(x, pointwise), train))


def depthwise_separable(in_channels: int, out_channels: int, stride: int) -> BlockSpec:
    return BlockSpec(
        "depthwise 3x3 conv (stride) -> BN -> ReLU -> pointwise 1x1 conv -> BN -> ReLU",
        [(in_channels, 1, 3, 3), (out_channels, in_channels, 1, 1)], partial(separable, stride=stride),
        {"relu1": Place("after the depthwise convolution's BN"), "relu2": Place("after the pointwise convolution's BN")},
        cuts={"the pointwise part cut from the depthwise part (detached after the first BN-ReLU)":
              {"relu1": relu_detached}})
