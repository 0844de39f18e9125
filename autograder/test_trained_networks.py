"""Networks the students trained themselves (rubric.toml's [trained]; collected only where a course enables it).

Each network is a check: its checkpoint (checkpoints/NAME.pt, the state_dict `fit(..., checkpoint=NAME)` saves) is
loaded into the student's own architecture in the worker, never unpickled here, and run on the grading test
images on the CPU; the accuracy measured here must reach the course's. The feedback sets it beside the accuracy
the student's history (checkpoints/NAME.json) claims; a difference larger than the grading images' sampling
explains is listed for the instructor (`judge/trained_history.py`).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from data_scripts.subsets import load_subset

from .grading_setup import CLAIMS, LEADERBOARD, threads
from .judge.results import leaderboard_entry
from .judge.trained_history import claim_differs, read_history
from .judge.worker_client import Submission
from .rubric import TrainedNetwork, trained_networks
from .training import refuse_code_that_hung

DATASET_NAMES = {"cifar10": "CIFAR-10", "mnist": "MNIST"}


@pytest.mark.parametrize("network", trained_networks().networks, ids=lambda network: network.name)
def test_trained_network(network: TrainedNetwork, student: Submission, request: pytest.FixtureRequest) -> None:
    """A network you trained reaches the course's test accuracy"""
    folder = Path(request.config.getoption("impl")).resolve() / "checkpoints"
    weights, limit = folder / f"{network.name}.pt", trained_networks().max_bytes
    assert weights.is_file(), (
        f"checkpoints/{network.name}.pt is not in the graded folder: not submitted, or refused when your upload was "
        f"unpacked (the upload report at the top says why). Train it on a GPU with fit(..., "
        f"checkpoint={network.name!r}) in train.py (the README shows the cell), then submit checkpoints/"
        f"{network.name}.pt and .json with your code.")
    assert weights.stat().st_size <= limit, (
        f"checkpoints/{network.name}.pt is {weights.stat().st_size / 2**20:.1f} MiB, over the course's limit of "
        f"{limit / 2**20:.0f} MiB per checkpoint: save the state_dict alone, as fit(..., checkpoint=...) does")
    history, problem = read_history(folder / f"{network.name}.json")
    refuse_code_that_hung(student.worker, [network.module], "runs")
    images, labels = load_subset(network.dataset, "test")
    logits = student.worker.construct(
        (network.module, network.factory), "trained_predict", name=network.name, module=network.module,
        factory=network.factory, kwargs=network.kwargs, images=images, threads=threads(request.config))
    assert logits.shape == (len(labels), 10), (
        f"your {network.factory} returned logits of shape {tuple(logits.shape)} for {len(labels)} test images")
    accuracy = (logits.argmax(dim=1) == labels).float().mean().item()
    request.config.stash[LEADERBOARD].append(leaderboard_entry(f"trained {network.name}", accuracy, network.accuracy))
    lines = [f"{network.name}: {accuracy:.1%} measured here on {len(labels):,} {DATASET_NAMES[network.dataset]} "
             f"grading test images; the course asks {network.accuracy:.1%}."]
    if history is not None:
        claimed = history.test_accuracy[-1]
        lines.append(f"Your history claims {claimed:.1%} after {len(history.test_accuracy)} epochs.")
        if claim_differs(accuracy, claimed, len(labels)):
            request.config.stash[CLAIMS].append({"network": network.name, "measured": accuracy, "claimed": claimed})
            lines.append("The two differ by more than the grading images' sampling explains: this is reported to "
                         "your instructor. Were the checkpoint and its history saved by the same run?")
    request.node.user_properties.append(("feedback", "\n".join(lines)))
    assert problem is None, f"checkpoints/{network.name}.json, the training history, is needed: {problem}"
    assert accuracy >= network.accuracy, f"below the {network.accuracy:.1%} the course asks"
