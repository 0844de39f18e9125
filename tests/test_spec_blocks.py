"""The visible computes-the-spec checks can see what they name: on the weights and inputs they use,
every departure they know (another activation at any place, another pooling, SE elsewhere) gives
an output other than the spec's, and other than every departure named before it, in at least one
of the check's configurations."""
from __future__ import annotations

from typing import Callable

import pytest
import torch

from autograder.block_checks import SpecCase
from autograder.probes import close
from autograder.test_densenet import dense_layer_spec_cases, transition_spec_cases
from autograder.test_mobilenet import depthwise_separable_spec_cases
from autograder.test_resnet import basic_block_spec_cases
from autograder.test_senet import se_basic_block_spec_cases, se_block_spec_cases

# Each check's own configurations and inputs (the lists its check file grades with).
CHECKS: dict[str, Callable[[], list[SpecCase]]] = {
    "test_basic_block_computes_the_spec": basic_block_spec_cases,
    "test_dense_layer_computes_the_spec": dense_layer_spec_cases,
    "test_transition_computes_the_spec": transition_spec_cases,
    "test_depthwise_separable_computes_the_spec": depthwise_separable_spec_cases,
    "test_se_block_computes_the_spec": se_block_spec_cases,
    "test_se_basic_block_computes_the_spec": se_basic_block_spec_cases,
}


@pytest.mark.parametrize("check", CHECKS)
def test_every_named_departure_is_told_apart(check: str) -> None:
    cases = CHECKS[check]()

    def outputs(**choices) -> list[torch.Tensor]:
        """Eval- and train-mode outputs of every configuration, on the weights the check uses."""
        return [case.spec.compute(case.spec.weights(0), case.x, train, **choices)
                for case in cases for train in (False, True)]

    seen = [("the spec", outputs())]
    for description, choices in cases[0].spec.candidates():
        departed = outputs(**choices)
        for earlier, output in seen:
            assert not all(close(a, e) for a, e in zip(departed, output)), (
                f"{check}: on its weights and inputs, {description} gives the output of {earlier}")
        seen.append((description, departed))
