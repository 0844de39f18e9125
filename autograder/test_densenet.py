"""densenet.py: DenseLayer and Transition, and the DenseNet the given code builds from them.

By the spec's rule (`block_checks.BIAS_RULE`) every convolution of both is bias-free,
DenseLayer's 3x3 and Transition's 1x1 included, though no batch norm follows them directly.
"""
from __future__ import annotations

import torch
from hypothesis import strategies as st

from . import spec_blocks
from .block_checks import (BIAS_RULE, SpecCase, assert_computes_spec_cases, assert_gradients_flow,
                           assert_matches_reference, assert_parameter_count_as_reference, assert_shapes_property,
                           seeded_input)
from .probes import close
from .rubric import check


def dense_layer_parameters(cin: int, growth: int, bn_size: int) -> int:
    inner = bn_size * growth
    return 2 * cin + cin * inner + 2 * inner + 9 * inner * growth


@st.composite
def dense_inputs(draw: st.DrawFn) -> dict:
    return {"in_channels": draw(st.integers(1, 24)), "growth": draw(st.integers(1, 12)),
            "bn_size": draw(st.integers(1, 4)), "batch": draw(st.integers(1, 3)),
            "height": draw(st.integers(1, 13)), "width": draw(st.integers(1, 13))}


@check
def test_dense_layer_output_shape(student):
    """DenseLayer maps (N, in, H, W) to (N, in + growth_rate, H, W) with finite values."""
    assert_shapes_property(
        student, "densenet", lambda c: ("DenseLayer", c["in_channels"], c["growth"], c["bn_size"]),
        lambda c: (c["batch"], c["in_channels"] + c["growth"], c["height"], c["width"]), dense_inputs())


@check
def test_dense_layer_parameter_count(student):
    """DenseLayer has exactly the parameters of BN, 1x1 conv to bn_size*growth, BN, 3x3 conv to growth."""
    for cin, growth, bn_size in [(24, 12, 4), (16, 8, 2), (3, 5, 1)]:
        layer = student.build("densenet", "DenseLayer", cin, growth, bn_size)
        count, expected = layer.parameter_count(), dense_layer_parameters(cin, growth, bn_size)
        hint = ""
        if count in (expected + growth, expected + growth + bn_size * growth):
            hint = f" Its convolutions have biases: {BIAS_RULE}."
        assert count == expected, f"{layer.description} has {count:,} parameters, the spec implies {expected:,}.{hint}"


@check
def test_dense_layer_keeps_its_input(student):
    """DenseLayer's output starts with its input, unchanged, followed by the new feature maps."""
    for cin, growth in [(6, 4), (16, 12)]:
        layer = student.build("densenet", "DenseLayer", cin, growth)
        x = torch.randn(2, cin, 5, 5)
        y = layer.forward(x, train=True)
        assert y.dim() == 4 and y.shape[0] == 2, f"{layer.description} returned shape {tuple(y.shape)} for {tuple(x.shape)}"
        if y.shape[1] == growth:
            raise AssertionError(f"{layer.description} returned only the {growth} new feature maps: "
                                 "the concatenation is missing the input (torch.cat([x, new_features], dim=1))")
        assert y.shape[:2] == (2, cin + growth), f"{layer.description} returned {tuple(y.shape)} for input {tuple(x.shape)}"
        if close(y[:, -cin:], x) and not close(y[:, :cin], x):
            raise AssertionError(f"{layer.description} puts its input after the new features; the spec puts it first")
        assert close(y[:, :cin], x, 0), f"{layer.description}: the first {cin} output channels should be the input, unchanged"


def dense_layer_spec_cases() -> list[SpecCase]:
    return [SpecCase((cin, growth, bn_size), spec_blocks.dense_layer(cin, growth, bn_size),
                     seeded_input(cin, lambda: torch.randn(4, cin, 6, 6)))
            for cin, growth, bn_size in [(8, 4, 4), (12, 6, 2)]]


@check
def test_dense_layer_computes_the_spec(student):
    """With weights and BN statistics the check sets, DenseLayer appends conv3x3(ReLU(BN(conv1x1(ReLU(BN(x)))))).
    Back-propagated in train mode, its gradients for the input and every weight are the spec's too."""
    assert_computes_spec_cases(student, "densenet", "DenseLayer", dense_layer_spec_cases())


@check
def test_dense_layer_matches_reference(student, reference):
    """Given the reference's weights, DenseLayer computes BN-ReLU-conv1x1-BN-ReLU-conv3x3 and concatenates."""
    for cin, growth, bn_size in [(8, 4, 4), (12, 6, 2)]:
        torch.manual_seed(cin)
        layer = student.build("densenet", "DenseLayer", cin, growth, bn_size)
        assert_matches_reference(layer, reference("densenet").DenseLayer(cin, growth, bn_size), torch.randn(4, cin, 6, 6))


@check
def test_dense_layer_gradient_flow(student):
    """One backward pass through DenseLayer reaches every parameter and the input."""
    torch.manual_seed(0)
    assert_gradients_flow(lambda seed: student.build("densenet", "DenseLayer", 8, 4, seed=seed), torch.randn(4, 8, 6, 6))


@check
def test_transition_output_shape(student):
    """Transition maps (N, in, H, W) to (N, out, H // 2, W // 2) with finite values."""
    sizes = st.fixed_dictionaries({
        "in_channels": st.integers(1, 24), "out_channels": st.integers(1, 24), "batch": st.integers(1, 3),
        "height": st.integers(2, 15), "width": st.integers(2, 15)})
    assert_shapes_property(
        student, "densenet", lambda c: ("Transition", c["in_channels"], c["out_channels"]),
        lambda c: (c["batch"], c["out_channels"], c["height"] // 2, c["width"] // 2), sizes)


@check
def test_transition_parameter_count(student):
    """Transition has exactly the parameters of a BN and a bias-free 1x1 convolution."""
    for cin, cout in [(24, 12), (7, 3)]:
        layer = student.build("densenet", "Transition", cin, cout)
        count, expected = layer.parameter_count(), 2 * cin + cin * cout
        hint = f" Its convolution has a bias: {BIAS_RULE}." if count == expected + cout else ""
        assert count == expected, f"{layer.description} has {count:,} parameters, the spec implies {expected:,}.{hint}"


def transition_spec_cases() -> list[SpecCase]:
    return [SpecCase((cin, cout), spec_blocks.transition(cin, cout),
                     seeded_input(cin + cout, lambda: torch.randn(3, cin, 6, 6)))
            for cin, cout in [(8, 4), (6, 6)]]


@check
def test_transition_computes_the_spec(student):
    """With weights and BN statistics the check sets, Transition computes avg_pool2d(conv1x1(ReLU(BN(x))), 2).
    Back-propagated in train mode, its gradients for the input and every weight are the spec's too."""
    assert_computes_spec_cases(student, "densenet", "Transition", transition_spec_cases())


@check
def test_transition_matches_reference(student, reference):
    """Given the reference's weights, Transition computes BN-ReLU-conv1x1 then 2x2 average pooling."""
    torch.manual_seed(0)
    layer = student.build("densenet", "Transition", 8, 4)
    assert_matches_reference(layer, reference("densenet").Transition(8, 4), torch.randn(3, 8, 6, 6))


@check
def test_densenet_parameter_counts(student, reference):
    """densenet_cifar has the spec's 1,000,618 parameters, and a small DenseNet on 1-channel input matches."""
    for factory, kwargs in [("densenet_cifar", {}), ("DenseNet", {"block_config": (2, 3), "growth_rate": 6, "in_channels": 1})]:
        assert_parameter_count_as_reference(student, reference("densenet"), "densenet", factory, **kwargs)
