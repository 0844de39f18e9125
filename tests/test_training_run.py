"""Training through the worker: the judge gets logits and measures accuracy itself."""
from __future__ import annotations

import inspect
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from autograder import training_profiles
from autograder.judge.worker_client import StudentError, SubprocessWorker
from autograder.training import train_and_measure
from autograder.training_profiles import TrainingCheck, default_settings, load_profile, profile_names
from autograder.worker.training_run import Settings
from data_scripts.prepare import main as prepare
from solutions import train as solution_train

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
    settings = default_settings() | {"epochs": 3, "batch_size": 32, "lr": 0.05, "crop_padding": 0, "flip": False}
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


@pytest.mark.parametrize("budget", profile_names())
def test_profiles_name_known_datasets_and_settings(budget: str) -> None:
    """Every check of every profile gives the worker's training run all its settings, and no others."""
    checks = load_profile(budget)
    assert checks
    for check in checks.values():
        assert check.dataset in ("cifar10", "mnist") and check.settings["epochs"] >= 1
        assert check.student_loop or check.module
        assert asdict(Settings(**check.settings)) == check.settings


def test_a_profile_entry_with_an_unknown_setting_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profiles = tmp_path / "training_profiles.toml"
    profiles.write_text(training_profiles.PROFILES_FILE.read_text().replace(
        "epochs = 10, batch_size = 128, lr = 0.2 }", "epochs = 10, batch_size = 128, lr = 0.2, nesterof = false }", 1))
    monkeypatch.setattr(training_profiles, "PROFILES_FILE", profiles)
    with pytest.raises(ValueError, match="nesterof"):
        load_profile("cpu")


def test_the_labs_fit_trains_with_the_graders_default_settings() -> None:
    """A student's own run of `fit` and a grading run differ in size only, not in how they train."""
    defaults = {name: p.default for name, p in inspect.signature(solution_train.fit).parameters.items()}
    graders = default_settings()
    assert {k: defaults[k] for k in ("weight_decay", "momentum", "label_smoothing")} == {
        k: graders[k] for k in ("weight_decay", "momentum", "label_smoothing")}
    source = inspect.getsource(solution_train.fit)
    assert graders["nesterov"] and "nesterov=True" in source
    assert f"pct_start={graders['pct_start']}" in source


def test_the_gpu_profiles_networks_train_through_the_same_code_on_cpu(small_subsets: Path) -> None:
    """No GPU here: the gpu profile's full-width networks run its code path on CPU, 32 images for one epoch."""
    checks = load_profile("gpu")
    worker = SubprocessWorker(REPO / "solutions")
    try:
        for check in checks.values():
            tiny = replace(check, train=32, test=16, settings=check.settings | {"epochs": 1, "batch_size": 16})
            curve = train_and_measure(worker, tiny, seed=0, device="cpu", threads=1)
            assert len(curve.test_accuracy) == 1 and 0 <= curve.test_accuracy[0] <= 1, (check.name, curve)
    finally:
        worker.close()
