"""Training through the worker: the judge gets logits and measures accuracy itself."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from autograder.remote import StudentError, SubprocessWorker
from autograder.training import train_and_measure
from autograder.training_profiles import TrainingCheck, load_profile
from data_scripts.prepare import main as prepare

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def small_subsets(raw_dir: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch_module) -> Path:
    out = tmp_path_factory.mktemp("subsets")
    assert prepare(["--raw-dir", str(raw_dir), "--out", str(out)]) == 0  # the checks here take the first 600 and 200
    monkeypatch_module.setenv("CNNLAB_DATA_DIR", str(out))
    return out


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def lenet(student_loop: bool = False, module: str | None = "baseline") -> TrainingCheck:
    settings = {"epochs": 3, "batch_size": 32, "lr": 0.05, "crop_padding": 0, "flip": False}
    return TrainingCheck("test_lenet", "mnist", None if student_loop else module, "LeNet5", {},
                         student_loop, 600, 200, settings)


def test_lenet5_learns_mnist_through_the_worker(small_subsets: Path) -> None:
    worker = SubprocessWorker(REPO / "solutions")
    lines: list[str] = []
    try:
        curve = train_and_measure(worker, lenet(), seed=0, device="cpu", threads=1, log=lines.append)
    finally:
        worker.close()
    assert len(curve.test_accuracy) == len(lines) == 3
    assert curve.test_accuracy[-1] > 0.5, curve
    assert curve.train_loss[-1] < curve.train_loss[0]


def test_the_students_loop_trains_the_graders_cnn(small_subsets: Path) -> None:
    worker = SubprocessWorker(REPO / "solutions")
    try:
        curve = train_and_measure(worker, lenet(student_loop=True), seed=0, device="cpu", threads=1)
    finally:
        worker.close()
    assert curve.test_accuracy[-1] > 0.3, curve


def test_a_skeleton_loop_fails_with_the_students_message(small_subsets: Path) -> None:
    worker = SubprocessWorker(REPO / "assignment")
    try:
        with pytest.raises(StudentError, match="train_one_epoch is yours to write"):
            train_and_measure(worker, lenet(student_loop=True), seed=0, device="cpu", threads=1)
    finally:
        worker.close()


def test_profiles_name_known_datasets_and_settings() -> None:
    checks, threads = load_profile("cpu")
    assert threads >= 1 and checks
    for check in checks.values():
        assert check.dataset in ("cifar10", "mnist") and check.settings["epochs"] >= 1
        assert check.student_loop or check.module


def test_the_gpu_profiles_networks_train_through_the_same_code_on_cpu(small_subsets: Path) -> None:
    """No GPU here: the gpu profile's full-width networks run its code path on CPU, 32 images for one epoch."""
    checks, _ = load_profile("gpu")
    worker = SubprocessWorker(REPO / "solutions")
    try:
        for check in checks.values():
            tiny = replace(check, train=32, test=16, settings=check.settings | {"epochs": 1, "batch_size": 16})
            curve = train_and_measure(worker, tiny, seed=0, device="cpu", threads=1)
            assert len(curve.test_accuracy) == 1 and 0 <= curve.test_accuracy[0] <= 1, (check.name, curve)
    finally:
        worker.close()
