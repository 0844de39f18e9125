"""mobilenet.py: DepthwiseSeparableConv, and the MobileNet the given code builds from it."""
from __future__ import annotations

import torch

from . import spec_blocks
from .block_checks import (BIAS_RULE, SpecCase, assert_computes_spec_cases, assert_gradients_flow,
                           assert_matches_reference, assert_parameter_count_as_reference, assert_shapes_property,
                           block_inputs, seeded_input, strided)
from .rubric import check


def separable_parameters(cin: int, cout: int) -> int:
    """Depthwise 3x3 (one filter per channel), BN, pointwise 1x1, BN; no conv biases."""
    return 9 * cin + 2 * cin + cin * cout + 2 * cout


@check
def test_depthwise_separable_output_shape(student):
    """DepthwiseSeparableConv maps (N, in, H, W) to (N, out, ceil(H/stride), ceil(W/stride))."""
    assert_shapes_property(
        student, "mobilenet", lambda c: ("DepthwiseSeparableConv", c["in_channels"], c["out_channels"], c["stride"]),
        lambda c: (c["batch"], c["out_channels"], strided(c["height"], c["stride"]), strided(c["width"], c["stride"])),
        block_inputs())


@check
def test_depthwise_separable_parameter_count(student):
    """DepthwiseSeparableConv has exactly the spec's parameters (the depthwise 3x3 on 32 channels has 288)."""
    for cin, cout, stride in [(32, 64, 1), (64, 128, 2), (5, 3, 1)]:
        block = student.build("mobilenet", "DepthwiseSeparableConv", cin, cout, stride)
        count, expected = block.parameter_count(), separable_parameters(cin, cout)
        hint = ""
        if count == expected - 9 * cin + 9 * cin * cin:
            hint = " The 3x3 convolution mixes channels: it needs groups=in_channels to be depthwise."
        elif count == expected + cin + cout:
            hint = f" Its convolutions have biases: {BIAS_RULE}."
        assert count == expected, f"{block.description} has {count:,} parameters, the spec implies {expected:,}.{hint}"


@check
def test_depthwise_conv_is_per_channel(student):
    """The 3x3 convolution is depthwise (each filter sees one channel) with the stride; the 1x1 one is pointwise.

    What a filter sees is read from the kernels' shapes (raw nn.Parameters count too); strides
    only from nn.Conv2d modules.
    """
    for cin, cout, stride in [(8, 16, 2), (6, 6, 1)]:
        block = student.build("mobilenet", "DepthwiseSeparableConv", cin, cout, stride)
        kernels = [p["shape"] for p in block.parameters() if len(p["shape"]) == 4]
        threes = [k for k in kernels if k[2:] == [3, 3]]
        ones = [k for k in kernels if k[2:] == [1, 1]]
        assert len(threes) == 1 and len(ones) == 1, (
            f"{block.description} should have one 3x3 depthwise and one 1x1 pointwise convolution; it has "
            f"{len(threes)} 3x3 and {len(ones)} 1x1 kernels")
        assert threes[0][:2] == [cin, 1], (
            f"{block.description}: the 3x3 kernel has shape {tuple(threes[0])}, so each filter sees {threes[0][1]} "
            f"channels; a depthwise convolution has groups=in_channels={cin}, shape ({cin}, 1, 3, 3) "
            "(was groups forgotten?)")
        assert ones[0][:2] == [cout, cin], (
            f"{block.description}: the 1x1 kernel has shape {tuple(ones[0])}; a pointwise convolution mixes all "
            f"{cin} channels into {cout}, shape ({cout}, {cin}, 1, 1)")
        for conv in (m for m in block.modules() if m.get("kind") == "conv2d"):
            expected = [stride, stride] if conv["kernel_size"] == [3, 3] else [1, 1]
            assert conv["stride"] == expected, (
                f"{block.description}: its {conv['kernel_size'][0]}x{conv['kernel_size'][1]} convolution has stride "
                f"{conv['stride']}; the spec puts the stride {stride} on the depthwise one and 1 on the pointwise one")


def depthwise_separable_spec_cases() -> list[SpecCase]:
    return [SpecCase((cin, cout, stride), spec_blocks.depthwise_separable(cin, cout, stride),
                     seeded_input(cin + stride, lambda: torch.randn(4, cin, 7, 7)))
            for cin, cout, stride in [(8, 16, 2), (6, 6, 1)]]


@check
def test_depthwise_separable_computes_the_spec(student):
    """With weights and BN statistics the check sets, the block computes ReLU(BN(pointwise(ReLU(BN(depthwise x))))).
    Back-propagated in train mode, its gradients for the input and every weight are the spec's too."""
    assert_computes_spec_cases(student, "mobilenet", "DepthwiseSeparableConv", depthwise_separable_spec_cases())


@check
def test_depthwise_separable_matches_reference(student, reference):
    """Given the reference's weights, the block computes depthwise-BN-ReLU-pointwise-BN-ReLU."""
    for cin, cout, stride in [(8, 16, 2), (6, 6, 1)]:
        torch.manual_seed(cin + stride)
        block = student.build("mobilenet", "DepthwiseSeparableConv", cin, cout, stride)
        reference_block = reference("mobilenet").DepthwiseSeparableConv(cin, cout, stride)
        assert_matches_reference(block, reference_block, torch.randn(4, cin, 7, 7))


@check
def test_depthwise_separable_gradient_flow(student):
    """One backward pass through DepthwiseSeparableConv reaches every parameter and the input."""
    torch.manual_seed(0)
    assert_gradients_flow(lambda seed: student.build("mobilenet", "DepthwiseSeparableConv", 8, 16, 2, seed=seed),
                          torch.randn(4, 8, 8, 8))


@check
def test_mobilenet_parameter_counts(student, reference):
    """MobileNet has the spec's parameter count at the defaults and at width_mult 0.25 on 1-channel input."""
    for kwargs in [{}, {"width_mult": 0.25, "in_channels": 1}]:
        assert_parameter_count_as_reference(student, reference("mobilenet"), "mobilenet", "MobileNet", **kwargs)
