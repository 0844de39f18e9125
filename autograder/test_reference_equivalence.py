"""Hidden until the due date: given the reference's weights, each block computes what the reference computes.

The reference's convolution and linear weights are transplanted into the student's block by
shape and call order (probes.transplant), so any attribute names and any module structure
pass; the outputs must then agree in eval and train mode. These checks are the only ones
that need the reference solution's blocks, and are left out of the student release.
"""
from __future__ import annotations

import torch

from .block_checks import assert_matches_reference
from .rubric import check


@check
def test_basic_block_matches_reference(student, reference):
    """Given the reference's weights, BasicBlock computes exactly what the spec describes."""
    for cin, cout, stride in [(8, 8, 1), (8, 16, 2), (6, 12, 1)]:
        torch.manual_seed(cin + cout + stride)
        block = student.build("resnet", "BasicBlock", cin, cout, stride)
        assert_matches_reference(block, reference("resnet").BasicBlock(cin, cout, stride), torch.randn(4, cin, 8, 8))


@check
def test_dense_layer_matches_reference(student, reference):
    """Given the reference's weights, DenseLayer computes BN-ReLU-conv1x1-BN-ReLU-conv3x3 and concatenates."""
    for cin, growth, bn_size in [(8, 4, 4), (12, 6, 2)]:
        torch.manual_seed(cin)
        layer = student.build("densenet", "DenseLayer", cin, growth, bn_size)
        assert_matches_reference(layer, reference("densenet").DenseLayer(cin, growth, bn_size), torch.randn(4, cin, 6, 6))


@check
def test_transition_matches_reference(student, reference):
    """Given the reference's weights, Transition computes BN-ReLU-conv1x1 then 2x2 average pooling."""
    torch.manual_seed(0)
    layer = student.build("densenet", "Transition", 8, 4)
    assert_matches_reference(layer, reference("densenet").Transition(8, 4), torch.randn(3, 8, 6, 6))


@check
def test_depthwise_separable_matches_reference(student, reference):
    """Given the reference's weights, the block computes depthwise-BN-ReLU-pointwise-BN-ReLU."""
    for cin, cout, stride in [(8, 16, 2), (6, 6, 1)]:
        torch.manual_seed(cin + stride)
        block = student.build("mobilenet", "DepthwiseSeparableConv", cin, cout, stride)
        reference_block = reference("mobilenet").DepthwiseSeparableConv(cin, cout, stride)
        assert_matches_reference(block, reference_block, torch.randn(4, cin, 7, 7))


@check
def test_se_block_matches_reference(student, reference):
    """Given the reference's weights (linear or 1x1 conv alike), SEBlock computes the spec's squeeze and excitation."""
    for channels, reduction in [(16, 4), (6, 1)]:
        block = student.build("senet", "SEBlock", channels, reduction)
        assert_matches_reference(block, reference("senet").SEBlock(channels, reduction), torch.randn(3, channels, 5, 5))


@check
def test_se_basic_block_matches_reference(student, reference):
    """Given the reference's weights, SEBasicBlock rescales the main path before adding the shortcut."""
    for cin, cout, stride in [(8, 8, 1), (8, 16, 2)]:
        torch.manual_seed(cin + cout)
        block = student.build("senet", "SEBasicBlock", cin, cout, stride, 4)
        reference_block = reference("senet").SEBasicBlock(cin, cout, stride, 4)
        assert_matches_reference(block, reference_block, torch.randn(4, cin, 8, 8))
