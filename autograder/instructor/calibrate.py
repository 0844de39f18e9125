"""Calibrate the training checks' thresholds on the reference solution.

    python -m autograder.instructor.calibrate --budget cpu --seeds 5

Trains the solution for every training check of the profile once per seed (seed 0 is the
one grading uses) and writes, per check, the threshold, the accuracies it comes from, seed
0's test accuracy per epoch (shown beside a student's when their run falls short), the margin
rule, the date, the torch version and device, and what it was calibrated on (the hash
of the grading images and of the check's settings) into thresholds.json. A grading whose
images or settings differ refuses those thresholds with a visible autograder error.

    python -m autograder.instructor.calibrate --verify     # do the thresholds hold for the images and settings now?

Each profile names its rule (`threshold_rule` in training_profiles.toml):
- "spread" (the default; the profiles that grade): threshold = min(mean - 3 * std,
  lowest - 0.02), rounded down to 0.005. Under a normal model of seed-to-seed spread, the
  solution lands below mean - 3 std about 1 time in 700; the 0.02 floor keeps a margin when a
  few seeds happen to agree closely.
- "learning" (smoke: a run too short to rank implementations): halfway from chance (0.1, ten
  classes) to the lowest seed, rounded down to 0.005. It tells a network that learns from one
  that cannot: another correct coding style initialises in another order, which such a short
  run spreads as widely as another seed, and the "spread" rule failed one (17.5% against 19%).
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from datetime import date
from pathlib import Path

import torch

from ..judge.results import write_atomically
from ..judge.worker_client import SubprocessWorker
from ..training import train_and_measure
from data_scripts.subsets import prepared_sha256

from ..training_profiles import (THRESHOLDS_FILE, calibrated_on, calibration_problem, load_profile, load_thresholds,
                                profile_device, profile_names, threshold_rule)

REPO = Path(__file__).resolve().parents[2]
CHANCE = 0.1  # every check has ten classes
RULES = {"spread": "min(mean - 3 * std, lowest - 0.02), rounded down to 0.005",
         "learning": "halfway from chance (0.1) to the lowest seed, rounded down to 0.005"}


def threshold(accuracies: list[float], rule: str = "spread") -> float:
    if rule == "learning":
        bound = CHANCE + (min(accuracies) - CHANCE) / 2
    else:
        mean, std = statistics.mean(accuracies), statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
        bound = min(mean - 3 * std, min(accuracies) - 0.02)
    return math.floor(bound / 0.005) * 0.005


def verify() -> int:
    """Print whether every profile's thresholds hold for the grading images, the prepared subsets and the
    settings now; 1 if any does not (setup.sh runs this, so a mismatch fails the image build)."""
    problems = []
    for budget in profile_names():
        checks, _ = load_profile(budget)
        thresholds = load_thresholds(budget)
        if profile_device(budget) != "cpu" and not thresholds:
            print(f"{budget}: no thresholds, so gradings will not choose it (calibrate it on a {profile_device(budget)} "
                  f"machine: python -m autograder.instructor.calibrate --budget {budget})")
            continue
        problems += [problem for check in checks.values()
                     if (problem := calibration_problem(budget, check, thresholds.get(check.name),
                                                        prepared_sha256(check.dataset)))]
    for problem in problems:
        print(f"error: {problem}")
    if not problems:
        print("the thresholds of every calibrated profile hold for the grading images and settings now")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", default="cpu", choices=profile_names(),
                        help="the training profile to calibrate (default: cpu)")
    parser.add_argument("--seeds", type=int, default=5, help="training runs per check, seeds 0 to N-1 (default: 5)")
    parser.add_argument("--solutions", type=Path, default=REPO / "solutions",
                        help="the implementation whose accuracies set the thresholds (default: solutions/)")
    parser.add_argument("--checks", nargs="+", help="recalibrate only these checks, keeping the others")
    parser.add_argument("--verify", action="store_true",
                        help="calibrate nothing: say whether the thresholds hold for the images and settings now")
    args = parser.parse_args(argv)
    if args.verify:
        return verify()
    checks, threads = load_profile(args.budget)
    rule, device = threshold_rule(args.budget), profile_device(args.budget)
    if device == "cuda" and not torch.cuda.is_available():
        print(f"error: the {args.budget} profile trains on CUDA, which this machine lacks: calibrate it on a GPU machine")
        return 2
    if args.checks:
        checks = {name: checks[name] for name in args.checks}
    worker = SubprocessWorker(args.solutions.resolve())
    entries = {}
    try:
        for name, check in checks.items():
            accuracies, seconds, curves = [], [], []
            for seed in range(args.seeds):
                curve = train_and_measure(worker, check, seed=seed, device=device, threads=threads)
                accuracies.append(round(curve.test_accuracy[-1], 4))
                seconds.append(round(sum(curve.seconds), 1))
                curves.append([round(a, 4) for a in curve.test_accuracy])
            entries[name] = {"threshold": round(threshold(accuracies, rule), 3), "accuracies": accuracies,
                             "curve": curves[0], "seconds": seconds, "rule": RULES[rule],
                             "date": date.today().isoformat(),
                             "torch": torch.__version__, "device": device} | calibrated_on(check)
            print(f"{name:36s} threshold {entries[name]['threshold']:.3f}  accuracies {accuracies}  "
                  f"seconds {seconds}", flush=True)
    finally:
        worker.close()
    document = json.loads(THRESHOLDS_FILE.read_text()) if THRESHOLDS_FILE.exists() else {}
    document[args.budget] = document.get(args.budget, {}) | entries
    write_atomically(THRESHOLDS_FILE, document)
    print(f"wrote {THRESHOLDS_FILE} [{args.budget}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
