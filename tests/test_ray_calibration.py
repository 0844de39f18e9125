"""`calibrate --ray`: calibration runs as tasks of a real two-node Ray cluster on this machine (smoke profile, a few
cheap runs). The last test ends one of the nodes."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from autograder.cluster.ray_tasks import NODE_FOLDER

from .ray_cluster import RayCluster, processes_holding, runs_under
from .submissions.build import copy_solution

REPO = Path(__file__).resolve().parent.parent
MNIST_RESNET = "test_train_resnet18_mnist"  # smoke: about 6 s a run on one thread


def calibration_command(cluster: RayCluster, folder: Path, check: str, seeds: int) -> list[str]:
    return [sys.executable, "-m", "autograder.instructor.calibrate", "--ray", cluster.address, "--budget", "smoke",
            "--checks", check, "--seeds", str(seeds), "--threads", "1", "--samples", str(folder / "record"),
            "--thresholds", str(folder / "thresholds.json")]


def start_driver(command: list[str]) -> subprocess.Popen:
    # SIGINT at its default in the driver, whatever this test's launcher ignores: the Ctrl-C test sends it one.
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def record(folder: Path) -> list[dict]:
    path = folder / "record" / "smoke.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def calibration_workers() -> list[int]:
    """Training workers a Ray task started (their implementation lies in the nodes' unpacked folder)."""
    return processes_holding(NODE_FOLDER.encode(), b"autograder/worker")


def assert_no_worker_left() -> None:
    deadline = time.monotonic() + 30
    while calibration_workers() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert calibration_workers() == [], "a calibration worker outlived its task"


@pytest.fixture(scope="module", autouse=True)
def node_folders_removed():
    """The nodes' unpacked copies (on this one machine, one folder) go with the tests."""
    before = set((Path(tempfile.gettempdir()) / NODE_FOLDER).glob("*"))
    yield
    for folder in set((Path(tempfile.gettempdir()) / NODE_FOLDER).glob("*")) - before:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_run_trains_alike_on_every_node_of_one_cpu_type(ray_cluster: RayCluster, tmp_path: Path) -> None:
    """Seed 0 pinned to each node: the same CPU model, the same curve to the last test image. A --power
    implementation that raises sends back what it raised, for calibrate to record as a failed check."""
    ray = pytest.importorskip("ray")
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from autograder.instructor.ray_calibration import RayCalibration, shipped, train_on_node
    broken = copy_solution(tmp_path / "raises-resnet18_mnist")
    (broken / "resnet.py").write_text((broken / "resnet.py").read_text() + "\n\ndef _raises(self, x):\n"
                                      "    raise RuntimeError('a broken block')\n\n\nBasicBlock.forward = _raises\n")
    cluster = RayCalibration(ray_cluster.address)
    try:
        archive = shipped({"solution": REPO / "solutions", broken.name: broken})
        digest, reference = hashlib.sha256(archive).hexdigest()[:16], [ray.put(archive)]
        run = {"implementation": "solution", "check": MNIST_RESNET, "seed": 0, "threads": 1}
        nodes = [node["NodeID"] for node in ray.nodes() if node["Alive"]]
        task = ray.remote(train_on_node)
        results = ray.get([task.options(num_cpus=1, scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False))
                           .remote(reference, digest, "smoke", run, "cpu") for node in nodes], timeout=300)
        raised = ray.get(task.options(num_cpus=1).remote(reference, digest, "smoke",
                                                         run | {"implementation": broken.name}, "cpu"), timeout=300)
    finally:
        cluster.close()
    assert sorted(r["node"] for r in results) == sorted(nodes), "each run went to the node it was pinned to"
    assert len({r["cpu"] for r in results}) == 1
    curves = [r["curve"]["test_accuracy"] for r in results]
    assert curves[0] == curves[1], f"one run, two nodes of the same CPU type, two curves: {curves}"
    assert results[0]["curve"]["layout"], "the run started from the course's initialisation"
    assert "a broken block" in raised["raised"][1] and "curve" not in raised and raised["cpu"], raised


def test_ctrl_c_cancels_every_task_and_keeps_what_arrived(ray_cluster: RayCluster, tmp_path: Path) -> None:
    # Runs of several seconds, so that Ctrl-C cancels tasks mid-run: cancelling a one-second run as its reply
    # arrived once tripped an internal check of Ray 2.60's driver (task_manager.cc, CompletePendingTask).
    driver = start_driver(calibration_command(ray_cluster, tmp_path, MNIST_RESNET, seeds=20))
    deadline = time.monotonic() + 300
    while not record(tmp_path) and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    driver.send_signal(signal.SIGINT)
    output, _ = driver.communicate(timeout=180)
    kept = record(tmp_path)
    assert driver.returncode == 130 and "stopped by Ctrl-C" in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert 1 <= len(kept) < 20, f"{len(kept)} samples kept"
    assert not (tmp_path / "thresholds.json").exists(), "an interrupted calibration writes no thresholds"
    assert_no_worker_left()


def test_a_lost_node_costs_only_its_runs_and_a_rerun_trains_nothing(ray_cluster: RayCluster, tmp_path: Path) -> None:
    """The second node's raylet killed while it trains: its run trains again on the head; every seed is stored
    once, the thresholds are written, and the same command then trains nothing."""
    command = calibration_command(ray_cluster, tmp_path, MNIST_RESNET, seeds=4)
    driver = start_driver(command)
    raylet, deadline = ray_cluster.nodes[1].raylet(), time.monotonic() + 300
    while not runs_under(raylet, NODE_FOLDER.encode(), b"autograder/worker") and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    try:
        assert runs_under(raylet, NODE_FOLDER.encode(), b"autograder/worker"), "no run trained on the second node"
        os.kill(raylet, signal.SIGKILL)
        output, _ = driver.communicate(timeout=600)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    assert driver.returncode == 0, output[-4000:]
    seeds = sorted(sample["seed"] for sample in record(tmp_path))
    assert seeds == [0, 1, 2, 3], f"every seed once: {seeds}"
    written = json.loads((tmp_path / "thresholds.json").read_text())["smoke"][MNIST_RESNET]
    assert len(written["samples"]) == 4 and all(s["cpu"] for s in written["samples"])
    assert_no_worker_left()
    again = subprocess.run(command, cwd=REPO, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
    assert again.returncode == 0 and "0 runs to train (4 stored" in again.stdout, again.stdout[-3000:]
