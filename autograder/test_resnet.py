"""resnet.py: BasicBlock, and the ResNets the given code builds from it."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from . import spec_blocks
from .block_checks import (BIAS_RULE, SpecCase, assert_computes_spec_cases, assert_gradients_flow,
                           assert_matches_reference, assert_parameter_count_as_reference, assert_shapes_property,
                           basic_block_parameters, seeded_input, strided)
from .probes import chosen_parameters, close, student_bn_state, zeroed_kernels
from .rubric import check


@check
def test_basic_block_output_shape(student):
    """BasicBlock maps (N, in, H, W) to (N, out, ceil(H/stride), ceil(W/stride)) with finite values."""
    assert_shapes_property(
        student, "resnet", lambda c: ("BasicBlock", c["in_channels"], c["out_channels"], c["stride"]),
        lambda c: (c["batch"], c["out_channels"], strided(c["height"], c["stride"]), strided(c["width"], c["stride"])))


@check
def test_basic_block_parameter_count(student):
    """BasicBlock has exactly the parameters the spec implies (e.g. 73,984 for (64, 64, 1))."""
    for cin, cout, stride in [(64, 64, 1), (64, 128, 2), (16, 16, 2), (8, 24, 1), (3, 5, 1)]:
        block = student.build("resnet", "BasicBlock", cin, cout, stride)
        count, expected = block.parameter_count(), basic_block_parameters(cin, cout, stride)
        projecting = stride != 1 or cin != cout
        hint = ""
        if projecting and count == expected - cin * cout - 2 * cout:
            hint = " The projection shortcut (1x1 conv + BN) is missing."
        elif not projecting and count > expected:
            hint = " With stride 1 and equal widths the shortcut must be the identity, with no parameters."
        elif count == expected + 2 * cout + (cout if projecting else 0):
            hint = f" Its convolutions have biases: {BIAS_RULE}."
        assert count == expected, f"{block.description} has {count:,} parameters, the spec implies {expected:,}.{hint}"


@check
def test_basic_block_structure(student):
    """BasicBlock's kernels: two 3x3, and a 1x1 for the shortcut only when projecting; the stride on the first 3x3.

    Kernels are counted from the parameters' shapes, so raw nn.Parameters applied with F.conv2d
    count too; biases and strides can be read only from nn.Conv2d modules, so only theirs are checked.
    """
    for cin, cout, stride in [(8, 8, 1), (8, 16, 2), (8, 16, 1), (8, 8, 2)]:
        block = student.build("resnet", "BasicBlock", cin, cout, stride)
        kernels = [p["shape"][2:] for p in block.parameters() if len(p["shape"]) == 4]
        assert kernels.count([3, 3]) == 2, f"{block.description} has {kernels.count([3, 3])} 3x3 kernels, the spec has 2"
        projecting = stride != 1 or cin != cout
        assert kernels.count([1, 1]) == int(projecting), (
            f"{block.description} has {kernels.count([1, 1])} 1x1 kernels; the shortcut should be "
            + ("a 1x1 conv + BN (stride or width changes)" if projecting else "the identity"))
        convs = [m for m in block.modules() if m.get("kind") == "conv2d"]
        with_bias = [m["path"] for m in convs if m["bias"]]
        assert not with_bias, f"{block.description}: {with_bias} have a bias, against {BIAS_RULE}"
        order = block.trace(torch.randn(2, cin, 6, 6))
        threes = sorted((m for m in convs if m["kernel_size"] == [3, 3] and m["path"] in order),
                        key=lambda m: order.index(m["path"]))
        if len(threes) == 2:
            strides = [m["stride"][0] for m in threes]
            assert strides == [stride, 1], (
                f"{block.description}: its 3x3 convolutions, in the order forward uses them, have strides {strides}; "
                f"the spec puts stride {stride} on the first and 1 on the second")


@check
def test_basic_block_identity_shortcut(student):
    """With BN as the identity and the 3x3 convs zeroed, BasicBlock(c, c, 1) returns ReLU(x)."""
    for channels in (4, 16):
        block = student.build("resnet", "BasicBlock", channels, channels, 1)
        block.load(zeroed_kernels(block.parameters(), 3) | student_bn_state(block, "identity"))
        x = torch.randn(2, channels, 6, 5)
        y = block.forward(x)
        hint = "The output should be ReLU(main path + x)."
        if close(y, x):
            hint = "It returned x unchanged: is the ReLU applied before the addition instead of after it?"
        elif close(y, torch.zeros_like(x)):
            hint = "It returned zeros: the identity shortcut x is not added to the main path."
        assert close(y, F.relu(x)), f"{block.description} with its main path zeroed does not return ReLU(x). {hint}"


@check
def test_basic_block_projection_shortcut(student):
    """When stride or width changes, the shortcut is a strided 1x1 conv (+ BN) added before the final ReLU."""
    for cin, cout, stride in [(4, 8, 2), (4, 8, 1), (6, 6, 2)]:
        block = student.build("resnet", "BasicBlock", cin, cout, stride)
        parameters = block.parameters()
        block.load(zeroed_kernels(parameters, 3) | student_bn_state(block, "identity"))
        ones = [p for p in parameters if len(p["shape"]) == 4 and p["shape"][2:] == [1, 1]]
        assert len(ones) == 1, (
            f"{block.description} needs a projection shortcut (1x1 conv, stride {stride}, then BN): found "
            f"{len(ones)} 1x1 convolution weights")
        weight = block.state()[ones[0]["name"]]
        x = torch.randn(2, cin, 7, 7)
        expected = F.relu(F.conv2d(x, weight, stride=stride))
        assert close(block.forward(x), expected), (
            f"{block.description} with its main path zeroed should return ReLU(BN(conv1x1(x, stride {stride})))")


def basic_block_spec_cases() -> list[SpecCase]:
    """Inputs of scale 4: an activation on the identity shortcut sees values beyond 6 too."""
    return [SpecCase((cin, cout, stride), spec_blocks.basic_block(cin, cout, stride),
                     seeded_input(cin + cout + stride, lambda: 4 * torch.randn(4, cin, 8, 8)))
            for cin, cout, stride in [(8, 8, 1), (8, 16, 2), (6, 12, 1)]]


@check
def test_basic_block_computes_the_spec(student):
    """With weights and BN statistics the check sets, BasicBlock computes ReLU(BN(conv(ReLU(BN(conv x)))) + shortcut).
    Back-propagated in train mode, its gradients for the input and every weight are the spec's too."""
    assert_computes_spec_cases(student, "resnet", "BasicBlock", basic_block_spec_cases())


@check
def test_basic_block_matches_reference(student, reference):
    """Given the reference's weights, BasicBlock computes exactly what the spec describes."""
    for cin, cout, stride in [(8, 8, 1), (8, 16, 2), (6, 12, 1)]:
        torch.manual_seed(cin + cout + stride)
        block = student.build("resnet", "BasicBlock", cin, cout, stride)
        assert_matches_reference(block, reference("resnet").BasicBlock(cin, cout, stride), torch.randn(4, cin, 8, 8))


@check
def test_basic_block_gradient_flow(student):
    """One backward pass through BasicBlock reaches every parameter and the input."""
    for cin, cout, stride in [(8, 8, 1), (8, 16, 2)]:
        torch.manual_seed(0)
        assert_gradients_flow(lambda seed: student.build("resnet", "BasicBlock", cin, cout, stride, seed=seed),
                              torch.randn(4, cin, 8, 8))


# With the weights the check sets (kernels at PyTorch's default scale, every BN the identity), in eval
# mode, the gradient reaching an 18-layer ResNet's input is 5e-3 to 1.3e-2 of the output gradient with
# skip connections, and 4e-9 to 1.1e-8 without them (5 seeds at widths 4 to 64; see
# tests/test_validity_trained.py).
STEM_GRADIENT_BOUND = 1e-4


@check
def test_resnet18_gradient_reaches_the_stem(student):
    """In resnet18, the skip connections carry the gradient back to the input without vanishing."""
    torch.manual_seed(0)
    model = student.build("resnet", "resnet18", width=8)
    model.load(chosen_parameters(model.parameters(), 0) | student_bn_state(model, "identity"))
    x = torch.randn(4, 3, 16, 16)
    grad_output = torch.randn(4, 10)
    result = model.backward(x, grad_output, train=False)
    ratio = (result["input_grad"].norm() / grad_output.norm()).item() if result["input_grad"] is not None else 0.0
    assert ratio >= STEM_GRADIENT_BOUND, (
        f"resnet18, with weights this check sets, passes its input a gradient {ratio:.1e} times the output's, below "
        f"{STEM_GRADIENT_BOUND:.0e}: the gradient vanishes on its way down, as in a network without skip connections")


@check
def test_resnet_parameter_counts(student, reference):
    """resnet18 has 11,173,962 parameters at the defaults; resnet34 and narrow variants match the spec."""
    for factory, kwargs in [("resnet18", {}), ("resnet34", {}), ("resnet18", {"width": 8, "in_channels": 1})]:
        assert_parameter_count_as_reference(student, reference("resnet"), "resnet", factory, **kwargs)
