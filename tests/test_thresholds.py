"""Every shipped threshold is its profile's rule applied to the accuracies stored beside it:
none is set by hand (calibrate.py's docstring states the rules). Each records the images and
settings it was calibrated on, and a grading on others refuses it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.instructor.calibrate import RULES, threshold
from autograder.training_profiles import (THRESHOLDS_FILE, calibration_problem, cpu_profile_names, load_profile,
                                          load_thresholds, profile_names, threshold_rule)
from data_scripts.prepare import main as prepare
from data_scripts.subsets import load_manifest

REPO = Path(__file__).resolve().parent.parent
CALIBRATED = [budget for budget in profile_names() if load_thresholds(budget)]


def test_every_cpu_profile_ships_calibrated() -> None:
    """A grading may choose any CPU profile; the gpu profile only once calibrated on a GPU (none ships)."""
    assert set(cpu_profile_names()) <= set(CALIBRATED)


def test_the_rules_on_known_accuracies() -> None:
    accuracies = [0.30, 0.28, 0.26]  # mean 0.28, std 0.02
    assert threshold(accuracies, "spread") == pytest.approx(0.22)  # mean - 3 std beats lowest - 0.02
    assert threshold([0.5, 0.5], "spread") == pytest.approx(0.48)  # no spread: lowest - 0.02
    assert threshold(accuracies, "learning") == pytest.approx(0.18)  # halfway from 0.1 to 0.26


@pytest.mark.parametrize("budget", CALIBRATED)
def test_every_threshold_follows_its_profiles_rule(budget: str) -> None:
    rule = threshold_rule(budget)
    assert rule in RULES
    calibrated = json.loads(THRESHOLDS_FILE.read_text()).get(budget, {})
    assert set(calibrated) == set(load_profile(budget)), f"{budget}: calibrate every check of the profile"
    for name, entry in calibrated.items():
        assert entry["rule"] == RULES[rule], f"{budget} {name} was calibrated under another rule"
        assert entry["threshold"] == round(threshold(entry["accuracies"], rule), 3), (
            f"{budget} {name}: the threshold is not the rule applied to its accuracies")


@pytest.mark.parametrize("budget", CALIBRATED)
def test_every_threshold_holds_for_the_shipped_images_and_settings(budget: str) -> None:
    for check in load_profile(budget).values():
        assert calibration_problem(budget, check, load_thresholds(budget).get(check.name), None) is None


def test_thresholds_from_other_images_or_settings_are_refused() -> None:
    budget = "smoke"
    check = load_profile(budget)["test_train_lenet5_mnist"]
    shipped = load_thresholds(budget)[check.name]
    for key, words in (("data_sha256", "calibrated on other images"), ("settings_sha256", "with other settings")):
        problem = calibration_problem(budget, check, shipped | {key: "0" * 64}, None)
        assert words in problem and "python -m autograder.instructor.calibrate --budget smoke" in problem, problem
    assert "no calibrated threshold" in calibration_problem(budget, check, None, None)


def test_a_grading_on_other_prepared_images_is_an_autograder_error(raw_dir: Path, tmp_path: Path) -> None:
    """Subsets prepared from another list of images: the training check says so, and trains nothing."""
    assert prepare(["--raw-dir", str(raw_dir), "--out", str(tmp_path), "--datasets", "mnist"]) == 0
    manifest = tmp_path / "mnist" / "manifest.json"
    manifest.write_text(json.dumps(load_manifest("mnist", tmp_path) | {"grading_images_sha256": "0" * 64}))
    results = tmp_path / "results.json"
    subprocess.run([sys.executable, "-m", "pytest", "autograder", "--impl", "solutions", "--budget", "smoke",
                    "-k", "test_train_lenet5_mnist", "-q", "-p", "no:cacheprovider", "--threads", "1",
                    "--results-json", str(results)], cwd=REPO, env={**os.environ, "CNNLAB_DATA_DIR": str(tmp_path)},
                   capture_output=True, text=True, timeout=600)
    (test,) = json.loads(results.read_text())["tests"]
    assert test["score"] == 0
    assert test["output"].startswith("autograder error") and "run `python -m data_scripts.prepare`" in test["output"], (
        test["output"])
