"""The visible computes-the-spec checks can see what they name: on the weights and inputs they use,
every departure they know (another activation at any place, another pooling, SE elsewhere) gives
an output other than the spec's, and other than every departure named before it, in at least one
of the check's configurations."""
from __future__ import annotations

from typing import Callable

import pytest
import torch

from autograder import spec_blocks
from autograder.probes import close


def seeded(seed: int, make: Callable[[], torch.Tensor]) -> torch.Tensor:
    torch.manual_seed(seed)
    return make()


# Each check's configurations and inputs, seeded as in autograder/test_*.py.
CHECKS = {
    "test_basic_block_computes_the_spec": [
        (spec_blocks.basic_block(cin, cout, stride), seeded(cin + cout + stride, lambda: 4 * torch.randn(4, cin, 8, 8)))
        for cin, cout, stride in [(8, 8, 1), (8, 16, 2), (6, 12, 1)]],
    "test_dense_layer_computes_the_spec": [
        (spec_blocks.dense_layer(cin, growth, bn_size), seeded(cin, lambda: torch.randn(4, cin, 6, 6)))
        for cin, growth, bn_size in [(8, 4, 4), (12, 6, 2)]],
    "test_transition_computes_the_spec": [
        (spec_blocks.transition(cin, cout), seeded(cin + cout, lambda: torch.randn(3, cin, 6, 6)))
        for cin, cout in [(8, 4), (6, 6)]],
    "test_depthwise_separable_computes_the_spec": [
        (spec_blocks.depthwise_separable(cin, cout, stride), seeded(cin + stride, lambda: torch.randn(4, cin, 7, 7)))
        for cin, cout, stride in [(8, 16, 2), (6, 6, 1)]],
    "test_se_block_computes_the_spec": [
        (spec_blocks.se_block(channels, reduction),
         seeded(channels, lambda: torch.randn(3, channels, 5, 5) + 5 * torch.randn(3, channels, 1, 1)))
        for channels, reduction in [(16, 4), (6, 1)]],
    "test_se_basic_block_computes_the_spec": [
        (spec_blocks.se_basic_block(cin, cout, stride, 4), seeded(cin + cout, lambda: 4 * torch.randn(4, cin, 8, 8)))
        for cin, cout, stride in [(8, 8, 1), (8, 16, 2)]],
}


@pytest.mark.parametrize("check", CHECKS)
def test_every_named_departure_is_told_apart(check: str) -> None:
    configurations = CHECKS[check]

    def outputs(**choices) -> list[torch.Tensor]:
        """Eval- and train-mode outputs of every configuration, on the weights the check uses."""
        return [spec.compute(spec.weights(0), x, train, **choices) for spec, x in configurations for train in (False, True)]

    seen = [("the spec", outputs())]
    for description, choices in configurations[0][0].candidates():
        departed = outputs(**choices)
        for earlier, output in seen:
            assert not all(close(a, e) for a, e in zip(departed, output)), (
                f"{check}: on its weights and inputs, {description} gives the output of {earlier}")
        seen.append((description, departed))
