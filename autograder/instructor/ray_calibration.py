"""Calibration runs as tasks of a Ray cluster: `python -m autograder.instructor.calibrate --ray ADDRESS`.

The implementations a calibration trains (the solution, the --also variants, the --power mutants) and the prepared
grading images travel once to each node (`cluster.ray_tasks`). Every run is one task holding as many CPUs as its
torch threads (one GPU under a GPU profile), so a node never runs more threads than it has; it trains exactly as a
local run does (`train_and_measure` in a worker of its own) and sends back its curve, its node and the node's CPU
model. calibrate stores each sample in its resumable record as it arrives. A task whose node dies runs again on
another node; Ctrl-C cancels every task, and a cancelled run's worker is killed with it.
"""
from __future__ import annotations

import hashlib
import io
import os
import tarfile
from dataclasses import asdict
from pathlib import Path
from typing import Iterator

from data_scripts.subsets import ROOT_VARIABLE, dataset_root

from ..cluster.ray_tasks import RayTasks, cpu_model, unpacked_once
from ..judge.worker_client import SubprocessWorker
from ..training import Curve, train_and_measure
from ..training_profiles import load_profile
from ..worker.contract import StudentError


def without_caches(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    return None if "__pycache__" in info.name else info


def shipped(folders: dict[str, Path]) -> bytes:
    """One tar of every implementation (implementations/NAME) and the prepared grading images (prepared/)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, folder in sorted(folders.items()):
            archive.add(folder, arcname=f"implementations/{name}", filter=without_caches)
        archive.add(dataset_root(), arcname="prepared", filter=without_caches)
    return buffer.getvalue()


def train_on_node(archive: list, digest: str, budget: str, run: dict, device: str) -> dict:
    """The Ray task: train one calibration run on this node; its curve (or what the implementation raised), the node
    and the node's CPU model."""
    import ray

    source = unpacked_once(archive, digest) / "source"
    os.environ[ROOT_VARIABLE] = str(source / "prepared")
    check = load_profile(budget)[run["check"]]
    worker = SubprocessWorker(source / "implementations" / run["implementation"], dies_with_parent=True)
    try:
        trained = {"curve": asdict(train_and_measure(worker, check, seed=run["seed"], device=device,
                                                     threads=run["threads"]))}
    except StudentError as error:  # the implementation's doing, not the node's: no retry would change it
        trained = {"raised": [error.kind, error.summary]}
    finally:  # done, failed or cancelled: the worker goes with the run
        worker.close()
    return trained | {"node": ray.get_runtime_context().get_node_id(), "cpu": cpu_model()}


class RayCalibration:
    """Calibration runs on the Ray cluster at `address` ("auto": the one this machine belongs to)."""

    def __init__(self, address: str) -> None:
        self.tasks = RayTasks(address)

    def train(self, budget: str, runs: list, folders: dict[str, Path],
              device: str) -> Iterator[tuple[object, Curve | StudentError | None, dict | str]]:
        """Submit every run; yield (run, its curve or what its implementation raised, {"node", "cpu"}) as each
        arrives, or (run, None, why) for a run whose retries are spent (it stays missing from the record: a rerun
        trains it)."""
        ray = self.tasks.ray
        archive = shipped({name: folders[name] for name in sorted({run.implementation for run in runs})})
        digest = hashlib.sha256(archive).hexdigest()[:16]
        archive_ref = ray.put(archive)
        task = ray.remote(train_on_node)
        for run in runs:
            options = {"num_cpus": run.threads, "max_retries": 3} | ({"num_gpus": 1} if device == "cuda" else {})
            self.tasks.submit(task.options(**options), run, [archive_ref], digest, budget, asdict(run), device)
        for run, result, error in self.tasks.arrivals():
            if error is not None:
                yield run, None, f"{type(error).__name__}: {error}"[:500]
            else:
                trained = Curve(**result["curve"]) if "curve" in result else StudentError(*result["raised"], "")
                yield run, trained, {"node": result["node"], "cpu": result["cpu"]}

    def cancel(self) -> None:
        self.tasks.cancel()

    def close(self) -> None:
        self.tasks.close()
