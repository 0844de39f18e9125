"""Every shipped threshold is its profile's rule applied to the accuracies stored beside it:
none is set by hand (calibrate.py's docstring states the rules and their model). Each records the
images, settings and training code it was calibrated on: a grading on other images or settings
refuses it, and `calibrate --verify` (setup.sh, CI) fails on any change to the training code."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import training_profiles
from autograder.instructor import calibrate
from autograder.instructor.calibrate import (FALSE_FAIL, RULES, check_p_below, check_threshold, load_samples,
                                             p_below, styles_apart, threshold, verify)
from autograder.training_profiles import (THRESHOLDS_FILE, TRAINING_CODE, calibrated_on, calibration_problem,
                                          cpu_profile_names, load_profile, load_thresholds, profile_names, profile_needs,
                                          threshold_rule)
from autograder.worker.contract import StudentError
from data_scripts.prepare import main as prepare
from data_scripts.subsets import load_manifest

from .submissions.build import copy_solution

REPO = Path(__file__).resolve().parent.parent
CALIBRATED = [budget for budget in profile_names() if load_thresholds(budget)]


def test_every_cpu_profile_ships_calibrated() -> None:
    """A grading may choose any CPU profile; the gpu profile only once calibrated on a GPU (none ships)."""
    assert set(cpu_profile_names()) <= set(CALIBRATED)


SPREAD = [0.46, 0.44, 0.45, 0.47, 0.43, 0.455, 0.445, 0.465, 0.435, 0.45, 0.46, 0.44, 0.452, 0.448, 0.441, 0.459,
          0.47, 0.43, 0.451, 0.449]  # 20 samples around 45%, std 1.2 points


def test_the_spread_rule_is_a_prediction_bound_at_one_in_ten_thousand() -> None:
    limit = threshold(SPREAD, "spread")
    assert p_below(SPREAD, limit) <= FALSE_FAIL < p_below(SPREAD, limit + 0.005), "not the highest such threshold"
    assert limit <= min(SPREAD) - 0.02 and round(limit / 0.005, 6).is_integer()
    assert threshold([0.5] * 20, "spread") == pytest.approx(0.48)  # no spread: lowest - 0.02
    assert threshold(SPREAD[:3], "spread") < threshold(SPREAD, "spread"), "three samples claim as much as twenty"


def samples_of(implementation: str, accuracies: list[float]) -> list[dict]:
    return [{"implementation": implementation, "seed": seed, "accuracy": a} for seed, a in enumerate(accuracies)]


def test_a_style_below_the_whole_solution_is_bounded_over_its_own_seeds() -> None:
    """Zero-init residual BN trained resnet18_mnist to 77-86% where the solution reached 95-97%: pooled, one such
    sample barely moves the bound, and most of that style's uploads would fail."""
    slower = [0.785, 0.784, 0.839, 0.767, 0.864, 0.809, 0.843, 0.772, 0.859, 0.798]
    like = samples_of("solution", SPREAD) + samples_of("other_orders", [0.44])
    assert styles_apart(like) == [] and check_threshold(like, "spread") == threshold([*SPREAD, 0.44], "spread")
    apart = samples_of("solution", SPREAD) + samples_of("zero_init", [v - 0.4 for v in slower])
    assert styles_apart(apart) == ["zero_init"]
    limit = check_threshold(apart, "spread")
    assert limit == threshold([v - 0.4 for v in slower], "spread") < threshold(SPREAD, "spread")
    assert p_below([v - 0.4 for v in slower], limit) <= FALSE_FAIL and check_p_below(apart, limit) <= FALSE_FAIL
    unlucky = samples_of("solution", SPREAD) + samples_of("explicit_attributes", [0.425, *SPREAD[1:10]])
    assert styles_apart(unlucky) == [], "a style whose other seeds are the solution's is one unlucky seed 0"
    assert check_threshold(unlucky, "spread") == threshold([*SPREAD, 0.425, *SPREAD[1:10]], "spread")


def test_the_learning_rule_is_never_above_halfway_from_chance() -> None:
    assert threshold(SPREAD, "learning") == pytest.approx(0.265)  # halfway from 0.1 to 0.43, below the spread bound
    assert threshold(SPREAD, "learning") <= threshold(SPREAD, "spread")


@pytest.mark.parametrize("budget", CALIBRATED)
def test_every_threshold_follows_its_profiles_rule(budget: str) -> None:
    rule = threshold_rule(budget)
    assert rule in RULES
    calibrated = json.loads(THRESHOLDS_FILE.read_text()).get(budget, {})
    assert set(calibrated) == set(load_profile(budget)), f"{budget}: calibrate every check of the profile"
    for name, entry in calibrated.items():
        assert entry["rule"] == RULES[rule], f"{budget} {name} was calibrated under another rule"
        assert entry["accuracies"] == [sample["accuracy"] for sample in entry["samples"]], f"{budget} {name}"
        assert entry["threshold"] == round(check_threshold(entry["samples"], rule), 3), (
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


def test_the_course_profile_keeps_time_for_every_check_within_its_needs() -> None:
    """What a grading keeps for the checks to come (rubric.toml's unit_check_seconds, the calibrated training
    seconds) adds up to no more than the profile's measured needs: time shares never refuse the solution."""
    from autograder.grading_setup import expected_seconds

    for budget in cpu_profile_names():
        assert sum(expected_seconds(budget).values()) <= profile_needs(budget).seconds_one_cpu, budget


@pytest.mark.parametrize("edited", ["solutions/resnet.py", "autograder/worker/training_run.py"])
def test_verify_fails_on_training_code_changed_since_calibration(edited: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture) -> None:
    for name in [f"solutions/{p.name}" for p in (REPO / "solutions").glob("*.py")] + list(TRAINING_CODE):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes((REPO / name).read_bytes())
    monkeypatch.setattr(training_profiles, "REPO", tmp_path)
    assert verify() == 0, capsys.readouterr().out
    (tmp_path / edited).write_text((tmp_path / edited).read_text() + "\n# a change\n")
    assert verify() == 1
    out = capsys.readouterr().out
    assert f"calibrated on other training code ({edited} changed)" in out, out


def test_confirm_unchanged_records_code_that_trains_alike_and_refuses_code_that_does_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """A comment in the solution's train.py leaves LeNet-5's smoke run as recorded: confirmed, the threshold records
    the new code, and the resumable record's samples it came from move to it (one calibrated on other settings stays
    behind). A train_one_epoch that no longer steps its scheduler moves the curve: refused, nothing written."""
    for name in [f"solutions/{p.name}" for p in (REPO / "solutions").glob("*.py")] + list(TRAINING_CODE):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes((REPO / name).read_bytes())
    thresholds = tmp_path / "thresholds.json"
    thresholds.write_bytes(THRESHOLDS_FILE.read_bytes())
    monkeypatch.setattr(training_profiles, "REPO", tmp_path)
    monkeypatch.setattr(training_profiles, "THRESHOLDS_FILE", thresholds)
    train, check = tmp_path / "solutions" / "train.py", "test_train_lenet5_mnist"
    lenet = {check: load_profile("smoke")[check]}
    record = tmp_path / "smoke.jsonl"
    sample = {"implementation": "solution", "check": check, "seed": 3, "threads": 1, "accuracy": 0.6}
    before_edit = calibrated_on(lenet[check])
    record.write_text(json.dumps(sample | {"calibrated_on": before_edit}) + "\n" + json.dumps(
        sample | {"seed": 4, "calibrated_on": before_edit | {"settings_sha256": "other settings"}}) + "\n")
    train.write_text(train.read_text() + "\n# a comment\n")
    assert load_samples(record, {check: calibrated_on(lenet[check])}) == {}
    assert calibrate.confirm_unchanged("smoke", lenet, tmp_path / "solutions", thresholds, record) == 0, \
        capsys.readouterr().out
    assert "same curve" in capsys.readouterr().out
    confirmed = json.loads(thresholds.read_text())["smoke"][check]
    assert confirmed["training_code"]["solutions/train.py"] == training_profiles.training_code()["solutions/train.py"]
    assert confirmed["seconds"] > 0, "the lone run's seconds are recorded"
    carried = load_samples(record, {check: calibrated_on(lenet[check])})
    assert [run.seed for run in carried] == [3], "only the sample calibrated on the confirmed code moves"

    train.write_text(train.read_text().replace("            scheduler.step()\n", "            pass\n"))
    before = thresholds.read_bytes()
    recorded = record.read_bytes()
    assert calibrate.confirm_unchanged("smoke", lenet, tmp_path / "solutions", thresholds, record) == 1
    assert f"error: training moved for {check}" in capsys.readouterr().out
    assert thresholds.read_bytes() == before and record.read_bytes() == recorded


def test_power_runs_train_each_mutant_on_its_check_and_the_table_counts_the_seeds_below(tmp_path: Path) -> None:
    """`--power` folders are named MUTANT-CHECK; their accuracies stay out of the threshold, and the table gives the
    share of seeds below it, beside the smallest drop of the mean that the check hears nine times in ten."""
    checks = load_profile("smoke")
    folders = [tmp_path / "no_shortcut-resnet18_cifar10", tmp_path / "loop_never_steps-lenet5_mnist"]
    runs = calibrate.power_runs(checks, 3, folders)
    assert {(r.implementation, r.check) for r in runs} == {
        ("no_shortcut-resnet18_cifar10", "test_train_resnet18_cifar10"),
        ("loop_never_steps-lenet5_mnist", "test_train_lenet5_mnist")}
    assert sorted(r.seed for r in runs if r.check == "test_train_lenet5_mnist") == [0, 1, 2]
    drop = calibrate.detectable_drop(SPREAD, 0.40)
    moved = [a - drop for a in SPREAD]
    assert sum(a < 0.40 for a in moved) / len(moved) == pytest.approx(0.9, abs=0.1), "not nine times in ten"
    samples = [sample | {"threads": 1, "seconds": 30.0} for sample in samples_of("solution", SPREAD)]
    entry = {"threshold": 0.40, "accuracies": SPREAD, "samples": samples, "p_below": 1e-5,
             "power": {"no_shortcut-resnet18_cifar10": [0.38, 0.41, 0.35], "raises-resnet18_cifar10": [None, None]}}
    document = tmp_path / "thresholds.json"
    document.write_text(json.dumps({"smoke": {"test_train_resnet18_cifar10": entry}}))
    table = calibrate.table(["smoke"], document)
    assert "| smoke | resnet18_cifar10 | no_shortcut | 38.0% | 2 of 3 |" in table, table
    assert "| smoke | resnet18_cifar10 | raises | raises | 2 of 2 |" in table, table
    assert f"| {drop:.1%} |" in table.splitlines()[2], table
    assert "smoke: 20 runs, 600 CPU-seconds" in table, table


def test_a_power_run_that_raises_fails_its_check_and_correct_code_that_raises_stops_the_calibration(
        tmp_path: Path) -> None:
    """A one-bug implementation that crashes (DenseNet's layer returning only its new features does) fails its check
    on that seed, as a grading fails it, and the record keeps it; the same crash from correct code is no sample."""
    folder = copy_solution(tmp_path / "raises-lenet5_mnist")
    baseline = folder / "baseline.py"
    baseline.write_text(baseline.read_text() + "\n\ndef _raises(self, x):\n    raise RuntimeError('a broken LeNet-5')\n\n"
                        "LeNet5.forward = _raises\n")
    check = load_profile("smoke")["test_train_lenet5_mnist"]
    runs = calibrate.power_runs({check.name: check}, 1, [folder])
    fingerprint, record = {check.name: calibrated_on(check)}, tmp_path / "smoke.jsonl"
    samples = calibrate.calibrate("smoke", runs, {folder.name: folder}, fingerprint, 1, record,
                                  mutants=frozenset({folder.name}))
    assert samples[runs[0]]["accuracy"] is None and "a broken LeNet-5" in samples[runs[0]]["failed"], samples
    assert load_samples(record, fingerprint) == samples, "a rerun would train it again"
    record.unlink()
    with pytest.raises(StudentError, match="a broken LeNet-5"):
        calibrate.calibrate("smoke", runs, {folder.name: folder}, fingerprint, 1, record)
    assert load_samples(record, fingerprint) == {}
