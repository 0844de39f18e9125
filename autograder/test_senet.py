"""senet.py: SEBlock and SEBasicBlock, and se_resnet18."""
from __future__ import annotations

import torch
from hypothesis import strategies as st

from . import spec_blocks
from .block_checks import (SpecCase, assert_computes_spec_cases, assert_gradients_flow, assert_matches_reference,
                           assert_parameter_count_as_reference, assert_shapes_property, basic_block_parameters,
                           block_inputs, seeded_input, strided)
from .probes import chosen_parameters, close
from .rubric import check


def se_parameters(channels: int, reduction: int) -> int:
    """Two linears with biases: channels -> max(1, channels // reduction) -> channels."""
    hidden = max(1, channels // reduction)
    return channels * hidden + hidden + hidden * channels + channels


def away_from_zero(shape: tuple) -> torch.Tensor:
    """Random values at least 0.1 from zero, so output / input is well defined."""
    x = torch.randn(shape)
    return x + 0.1 * torch.sign(x) + 0.1 * (x == 0)


@check
def test_se_block_output_shape(student):
    """SEBlock returns a tensor of its input's shape, with finite values."""
    cases = st.fixed_dictionaries({
        "in_channels": st.integers(1, 40), "reduction": st.integers(1, 16), "batch": st.integers(1, 3),
        "height": st.integers(1, 9), "width": st.integers(1, 9)})
    assert_shapes_property(
        student, "senet", lambda c: ("SEBlock", c["in_channels"], c["reduction"]),
        lambda c: (c["batch"], c["in_channels"], c["height"], c["width"]), cases)


@check
def test_se_block_parameter_count(student):
    """SEBlock has two linears with biases through max(1, channels // reduction) units (SE(64) has 580)."""
    for channels, reduction in [(64, 16), (8, 16), (30, 4), (5, 1)]:
        block = student.build("senet", "SEBlock", channels, reduction)
        count, expected = block.parameter_count(), se_parameters(channels, reduction)
        assert count == expected, (
            f"{block.description} has {count:,} parameters; two linears with biases through "
            f"max(1, {channels} // {reduction}) = {max(1, channels // reduction)} hidden units have {expected:,}")


@check
def test_se_block_zero_excitation_halves_the_input(student):
    """With all excitation weights and biases zero, SEBlock returns exactly 0.5 * x (sigmoid(0) = 0.5)."""
    block = student.build("senet", "SEBlock", 16, 4)
    block.load({p["name"]: torch.zeros(p["shape"]) for p in block.parameters()})
    x = away_from_zero((2, 16, 5, 4))
    y = block.forward(x)
    hint = ""
    if close(y, torch.zeros_like(x)):
        hint = " It returned zeros: is the sigmoid missing after the second linear?"
    elif close(y, x):
        hint = " It returned x unchanged: the channel scale is not applied."
    elif close(y, 1.5 * x):
        hint = " It returned x + 0.5 * x: SEBlock returns only the rescaled input; the residual belongs to SEBasicBlock."
    assert close(y, 0.5 * x), f"{block.description} with zero excitation weights should return 0.5 * x.{hint}"


@check
def test_se_block_scale_is_per_channel(student):
    """SEBlock multiplies each channel by one factor in (0, 1), the same at every spatial position."""
    for channels, reduction in [(16, 4), (12, 16)]:
        block = student.build("senet", "SEBlock", channels, reduction, seed=channels)
        # Values of the check's own: an initialisation that saturates the sigmoid would put scales at exactly 1.
        block.load(chosen_parameters(block.parameters(), channels))
        x = away_from_zero((3, channels, 6, 5))
        y = block.forward(x)
        assert y.shape == x.shape, f"{block.description} returned shape {tuple(y.shape)} for input {tuple(x.shape)}"
        ratio = (y / x).flatten(2)
        spread = (ratio.max(dim=2).values - ratio.min(dim=2).values).max().item()
        assert spread < 1e-4, (
            f"{block.description}: output / input varies across the spatial positions of a channel (by {spread:.3g}); "
            "the squeeze should average each channel over H and W, giving one scale per channel")
        assert ratio.min() > 0 and ratio.max() < 1, (
            f"{block.description}: channel scales lie in [{ratio.min():.3g}, {ratio.max():.3g}]; a sigmoid keeps them in (0, 1)")


def se_block_spec_cases() -> list[SpecCase]:
    """Channels offset by up to +-15, so the first linear's outputs pass 6 and go far below 0."""
    return [SpecCase((channels, reduction), spec_blocks.se_block(channels, reduction),
                     seeded_input(channels, lambda: torch.randn(3, channels, 5, 5)
                                  + 5 * torch.randn(3, channels, 1, 1)))
            for channels, reduction in [(16, 4), (6, 1)]]


@check
def test_se_block_computes_the_spec(student):
    """With weights the check sets, SEBlock computes x * sigmoid(linear(ReLU(linear(mean over H, W of x)))).
    Back-propagated in train mode, its gradients for the input and every weight are the spec's too."""
    assert_computes_spec_cases(student, "senet", "SEBlock", se_block_spec_cases())


@check
def test_se_block_matches_reference(student, reference):
    """Given the reference's weights (linear or 1x1 conv alike), SEBlock computes the spec's squeeze and excitation."""
    for channels, reduction in [(16, 4), (6, 1)]:
        block = student.build("senet", "SEBlock", channels, reduction)
        assert_matches_reference(block, reference("senet").SEBlock(channels, reduction), torch.randn(3, channels, 5, 5))


@check
def test_se_basic_block_output_shape(student):
    """SEBasicBlock maps (N, in, H, W) to (N, out, ceil(H/stride), ceil(W/stride)) with finite values."""
    cases = block_inputs().map(lambda c: {**c, "reduction": 4})
    assert_shapes_property(
        student, "senet",
        lambda c: ("SEBasicBlock", c["in_channels"], c["out_channels"], c["stride"], c["reduction"]),
        lambda c: (c["batch"], c["out_channels"], strided(c["height"], c["stride"]), strided(c["width"], c["stride"])),
        cases)


@check
def test_se_basic_block_parameter_count(student):
    """SEBasicBlock has a BasicBlock's parameters plus an SEBlock(out_channels, reduction)'s."""
    for cin, cout, stride, reduction in [(64, 64, 1, 16), (32, 64, 2, 16), (8, 8, 2, 4)]:
        block = student.build("senet", "SEBasicBlock", cin, cout, stride, reduction)
        count = block.parameter_count()
        expected = basic_block_parameters(cin, cout, stride) + se_parameters(cout, reduction)
        assert count == expected, f"{block.description} has {count:,} parameters, the spec implies {expected:,}"


def se_basic_block_spec_cases() -> list[SpecCase]:
    return [SpecCase((cin, cout, stride, 4), spec_blocks.se_basic_block(cin, cout, stride, 4),
                     seeded_input(cin + cout, lambda: 4 * torch.randn(4, cin, 8, 8)))
            for cin, cout, stride in [(8, 8, 1), (8, 16, 2)]]


@check
def test_se_basic_block_computes_the_spec(student):
    """With weights and BN statistics the check sets, SEBasicBlock rescales the main path before adding the shortcut.
    Back-propagated in train mode, its gradients for the input and every weight are the spec's too."""
    assert_computes_spec_cases(student, "senet", "SEBasicBlock", se_basic_block_spec_cases())


@check
def test_se_basic_block_matches_reference(student, reference):
    """Given the reference's weights, SEBasicBlock rescales the main path before adding the shortcut."""
    for cin, cout, stride in [(8, 8, 1), (8, 16, 2)]:
        torch.manual_seed(cin + cout)
        block = student.build("senet", "SEBasicBlock", cin, cout, stride, 4)
        reference_block = reference("senet").SEBasicBlock(cin, cout, stride, 4)
        assert_matches_reference(block, reference_block, torch.randn(4, cin, 8, 8))


@check
def test_se_basic_block_gradient_flow(student):
    """One backward pass through SEBasicBlock reaches every parameter and the input."""
    torch.manual_seed(0)
    assert_gradients_flow(lambda seed: student.build("senet", "SEBasicBlock", 8, 16, 2, 4, seed=seed),
                          torch.randn(4, 8, 8, 8))


@check
def test_se_resnet18_parameter_counts(student, reference):
    """se_resnet18 has the spec's parameter count at the defaults and when narrow with reduction 4."""
    for kwargs in [{}, {"width": 8, "reduction": 4, "in_channels": 1}]:
        assert_parameter_count_as_reference(student, reference("senet"), "senet", "se_resnet18", **kwargs)
