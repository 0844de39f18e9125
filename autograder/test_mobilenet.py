"""mobilenet.py: DepthwiseSeparableConv, and the MobileNet the given code builds from it."""
from __future__ import annotations

import torch

from .block_checks import (BIAS_RULE, assert_gradients_flow, assert_parameter_count_as_reference,
                           assert_shapes_property, block_inputs, strided)
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
    """The 3x3 convolution is depthwise (groups == in_channels) with the stride; the 1x1 one is pointwise."""
    for cin, cout, stride in [(8, 16, 2), (6, 6, 1)]:
        block = student.build("mobilenet", "DepthwiseSeparableConv", cin, cout, stride)
        convs = [m for m in block.modules() if m.get("kind") == "conv2d"]
        threes = [m for m in convs if m["kernel_size"] == [3, 3]]
        ones = [m for m in convs if m["kernel_size"] == [1, 1]]
        assert len(threes) == 1 and len(ones) == 1, (
            f"{block.description} should have one 3x3 depthwise and one 1x1 pointwise convolution; it has "
            f"{len(threes)} 3x3 and {len(ones)} 1x1")
        assert threes[0]["groups"] == cin, (
            f"{block.description}: the 3x3 convolution has groups={threes[0]['groups']}; a depthwise convolution "
            f"has groups=in_channels={cin} (was groups forgotten?)")
        assert threes[0]["stride"] == [stride, stride], (
            f"{block.description}: the depthwise convolution should have stride {stride}, it has {threes[0]['stride']}")
        assert ones[0]["groups"] == 1 and ones[0]["stride"] == [1, 1], (
            f"{block.description}: the pointwise convolution should mix all channels with stride 1")


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
