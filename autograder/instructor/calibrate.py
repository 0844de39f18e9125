"""Calibrate the training checks' thresholds on correct implementations.

    python -m autograder.instructor.calibrate --budget cpu --seeds 10 --threads 1 2 --also VARIANT_DIR ...

Trains every training check of the profile on the reference solution once per seed and
thread count, and on each `--also` folder (a correct implementation in another style) for the
checks whose student file it writes differently, seed 0, the course's thread count; a variant whose
seed-0 run falls below every run of the solution trains over the same seeds too (see the model below).
Every run starts from the course's initialisation, as a grading does (`worker/course_initialisation.py`),
so what a correct upload may still differ in is drawn: the seed, the arithmetic's order (the thread
count; another CPU type reorders sums the same way) and the coding style. Per check it writes to
thresholds.json the threshold, every sample it comes from, the estimated probability that a correct
upload falls below it, the solution's seed-0 curve at the course's thread count (shown beside a student's
run that falls short) and layout (the roles the initialisation placed), the seconds that run takes alone
(the time a grading keeps for the check; trained once more alone at the end, unless on Ray, where every
task holds its own CPUs), and what it was calibrated on: the grading images, the
check's settings and the training code (the solution's files, the grader's training code, torch's release).
`--ray ADDRESS` trains the runs as tasks of a Ray cluster instead (`ray_calibration.py`).

    python -m autograder.instructor.calibrate --verify   # do the thresholds hold for the code and data now?
    python -m autograder.instructor.calibrate --table    # the calibration table of every profile
    python -m autograder.instructor.calibrate --budget cpu --confirm-unchanged   # after a change that trains alike

A change to the training code that leaves training as it was (a refactor, a comment, a given function
training never calls) need not cost a calibration: --confirm-unchanged trains the solution's seed-0 run of
each check at the course's thread count and, if every per-epoch accuracy equals the recorded curve's,
records the code now as what the thresholds were calibrated on, and each check's seconds as that lone run took
them (the calibration's runs go two at a time, which overstates a grading's); the resumable record's samples move
to the code now too, so a later --power or --checks run trains only what is missing. Any change in the arithmetic moves some
epoch's accuracy (a count of test images), so an equal curve is the evidence; a moved one asks for a
calibration.

The model: a correct upload's final accuracy is a draw from the normal distribution the
samples come from. The threshold is a prediction bound for one new draw,
mean - t(n-1, 1 - p) * std * sqrt(1 + 1/n) with p = 1/10,000 (Student's t: the mean and std
are themselves estimated from n samples), and never above the lowest sample less 0.02; rounded
down to 0.005. `p_below` is the model's probability that a correct upload lands below the
rounded threshold. A style apart (a correct variant whose seeds lie below the solution's by Welch's
one-sided t-test at p < 0.01, such as zero-init residual BN weights, which train slower on these short
schedules) is no draw from that distribution: the threshold is also never above the same bound over
that style's own seeds, and `p_below` is the highest of the pool's and the styles'. The profiles' rules (`threshold_rule` in training_profiles.toml):
- "spread" (the default; the profiles that grade): that bound.
- "learning" (smoke: a run too short to rank implementations): also never above halfway from
  chance (0.1) to the lowest sample; it tells a network that learns from one that cannot.
Power: `--power FOLDER ...` trains one-bug implementations (a folder named MUTANT-CHECK trains CHECK, without its
test_train_ prefix; `python -m tests.submissions.build --training-mutants OUT` makes the repository's) over the
same seeds at the course's thread count. Their accuracies never enter a threshold; the table shows, per check,
the share of each one's seeds that falls below the threshold, and the smallest drop of the mean accuracy that
the check hears nine times in ten (the pool's spread moved down until 90% of it lies below the threshold).
Runs are resumable: each sample is appended to `.calibration/<budget>.jsonl` as it ends, and a
rerun with the same training code, settings and images trains only what is missing.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import signal
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Iterator

import torch

from data_scripts.subsets import prepared_sha256

from ..cluster.ray_tasks import cpu_model
from ..judge.resources import available
from ..judge.results import write_atomically
from ..judge.worker_client import SubprocessWorker
from ..rubric import course_standard
from ..training import Curve, train_and_measure
from ..training_profiles import (THRESHOLDS_FILE, TrainingCheck, calibrated_on, calibration_problem, load_profile,
                                 load_thresholds, profile_device, profile_names, threshold_rule, training_code,
                                 training_code_changes)
from ..worker.contract import StudentError
from .ray_calibration import RayCalibration

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / ".calibration"
CHANCE = 0.1  # every check has ten classes
FALSE_FAIL = 1e-4  # the aimed probability that a correct upload falls below a threshold, per check
RULES = {"spread": "min(mean - t(n-1, 0.9999) * std * sqrt(1 + 1/n), lowest - 0.02), rounded down to 0.005",
         "learning": "min(the spread rule, halfway from chance (0.1) to the lowest), rounded down to 0.005"}


def prediction_scale(accuracies: list[float]) -> tuple[float, float, int]:
    """The mean, the scale of one new draw's deviation from it (std * sqrt(1 + 1/n)), and n."""
    n = len(accuracies)
    std = statistics.stdev(accuracies) if n > 1 else 0.0
    return statistics.mean(accuracies), std * math.sqrt(1 + 1 / n), n


def threshold(accuracies: list[float], rule: str = "spread") -> float:
    from scipy.stats import t  # an instructor's tool: Gradescope's image (calibrate --verify) never gets here

    mean, scale, n = prediction_scale(accuracies)
    bound = min(accuracies) - 0.02
    if n > 2:
        bound = min(bound, mean - t.ppf(1 - FALSE_FAIL, n - 1) * scale)
    if rule == "learning":
        bound = min(bound, CHANCE + (min(accuracies) - CHANCE) / 2)
    return math.floor(round(bound / 0.005, 6)) * 0.005


def p_below(accuracies: list[float], limit: float) -> float:
    """The model's probability that a correct upload's accuracy falls below `limit`."""
    from scipy.stats import t

    mean, scale, n = prediction_scale(accuracies)
    if n < 3 or scale == 0:
        return float("nan")
    return float(t.cdf((limit - mean) / scale, n - 1))


@dataclass(frozen=True)
class Run:
    implementation: str  # "solution", or an --also folder's name
    check: str
    seed: int
    threads: int


def student_files_differ(folder: Path, solutions: Path, check: TrainingCheck) -> bool:
    """Whether `folder` writes the student file that `check` trains differently from the solution."""
    name = check.student_file
    return (folder / name).exists() and (folder / name).read_bytes() != (solutions / name).read_bytes()


def mutant_check(folder: Path) -> str:
    """The check a --power folder named MUTANT-CHECK trains."""
    return "test_train_" + folder.name.rpartition("-")[2]


def power_runs(checks: dict[str, TrainingCheck], seeds: int, mutants: list[Path]) -> list[Run]:
    """Each --power folder on its check, over the seeds, at the course's thread count."""
    return [Run(folder.name, mutant_check(folder), seed, course_standard().threads)
            for folder in mutants if mutant_check(folder) in checks for seed in range(seeds)]


def planned_runs(checks: dict[str, TrainingCheck], seeds: int, threads: list[int], solutions: Path,
                 also: list[Path]) -> list[Run]:
    runs = [Run("solution", name, seed, count) for name in checks for count in threads for seed in range(seeds)]
    runs += [Run(folder.name, name, 0, course_standard().threads) for folder in also for name, check in checks.items()
             if student_files_differ(folder, solutions, check)]
    return runs


def suspected_styles(samples: list[dict]) -> list[str]:
    """The --also implementations of one check's samples whose seed-0 run fell below every run of the solution."""
    lowest = min(s["accuracy"] for s in samples if s["implementation"] == "solution")
    return sorted({s["implementation"] for s in samples
                   if s["implementation"] != "solution" and s["seed"] == 0 and s["accuracy"] < lowest})


def styles_apart(samples: list[dict]) -> list[str]:
    """The suspected styles that, trained over seeds, lie below the solution (Welch's one-sided t-test, p < 0.01):
    styles whose accuracies are no draws from the solution's distribution (torchvision's zero-init residual trains
    slower on these short schedules), so that each is bounded on its own. A suspect whose seeds do not lie below
    was an unlucky seed 0, and its samples stay in the pool with the others."""
    from scipy.stats import ttest_ind

    solution = [s["accuracy"] for s in samples if s["implementation"] == "solution"]
    own = {style: [s["accuracy"] for s in samples if s["implementation"] == style] for style in suspected_styles(samples)}
    return [style for style, accuracies in own.items()
            if len(accuracies) > 2 and ttest_ind(accuracies, solution, equal_var=False, alternative="less").pvalue < 0.01]


def apart_runs(runs: list[Run], samples: dict[Run, dict], seeds: int) -> list[Run]:
    """The further seeds of every suspected style, at the course's thread count."""
    threads = course_standard().threads
    return [Run(style, name, seed, threads) for name in dict.fromkeys(run.check for run in runs)
            for style in suspected_styles([samples[run] for run in runs if run.check == name]) for seed in range(1, seeds)]


def bounded_groups(samples: list[dict]) -> list[list[float]]:
    """The accuracies a check's threshold bounds: all its samples pooled, then each style apart's own (a mixture of
    styles is no normal distribution, and a style apart's false-fail rate is what counts for its uploads)."""
    own = [[s["accuracy"] for s in samples if s["implementation"] == style] for style in styles_apart(samples)]
    return [[s["accuracy"] for s in samples], *own]


def check_threshold(samples: list[dict], rule: str) -> float:
    """The threshold of one check: the rule's bound, never above it for any group of `bounded_groups`."""
    return min(threshold(accuracies, rule) for accuracies in bounded_groups(samples))


def check_p_below(samples: list[dict], limit: float) -> float:
    """The highest probability, over the groups of `bounded_groups`, that a correct upload falls below `limit`."""
    return max(p_below(accuracies, limit) for accuracies in bounded_groups(samples))


def load_samples(path: Path, fingerprint: dict) -> dict[Run, dict]:
    """The samples a previous run stored for the same training code, settings and images."""
    found = {}
    if path.exists():
        for line in path.read_text().splitlines():
            sample = json.loads(line)
            if sample.pop("calibrated_on") == fingerprint.get(sample["check"]):
                found[Run(sample["implementation"], sample["check"], sample["seed"], sample["threads"])] = sample
    return found


def recorded_seconds(recorded: dict[str, dict], run: Run) -> float:
    """What `run` took in the last calibration (`recorded`: its profile's thresholds.json entries): the median of its
    check's solution samples at its thread count."""
    samples = recorded.get(run.check, {}).get("samples", [])
    seconds = [s["seconds"] for s in samples if s["implementation"] == "solution" and s["threads"] == run.threads]
    return statistics.median(seconds) if seconds else 0.0


def sample_of(run: Run, trained: Curve | StudentError, where: dict) -> dict:
    """A run's sample: its final accuracy, seconds, per-epoch curve, the network's layout (`Curve.layout`) and where
    it trained (the node, and its CPU model). A --power run whose implementation raised fails its check on that seed,
    as a grading would fail it: no accuracy, and what it raised."""
    if isinstance(trained, StudentError):
        return asdict(run) | {"accuracy": None, "seconds": 0.0, "curve": [], "layout": {},
                              "failed": f"{trained.kind}: {trained.summary}"[:300]} | where
    return asdict(run) | {"accuracy": round(trained.test_accuracy[-1], 4), "seconds": round(sum(trained.seconds), 1),
                          "curve": [round(a, 4) for a in trained.test_accuracy], "layout": trained.layout} | where


def calibrate(budget: str, runs: list[Run], folders: dict[str, Path], fingerprint: dict, jobs: int,
              record: Path, cluster: RayCalibration | None = None,
              mutants: frozenset[str] = frozenset()) -> dict[Run, dict]:
    """Train every run not in the `record` yet, here (`jobs` torch threads at a time) or as tasks of `cluster`,
    appending each sample to the record as it arrives; every sample, stored ones included. A run of one of the
    `mutants` (the --power folders) that raises is a sample that fails its check; correct code that raises stops
    the calibration here, and stays missing on Ray."""
    checks, device = load_profile(budget), profile_device(budget)
    record.parent.mkdir(parents=True, exist_ok=True)
    samples = load_samples(record, fingerprint)
    lock = threading.Lock()
    pending = [run for run in runs if run not in samples]
    recorded = load_thresholds(budget)
    if cluster is not None:  # a run holds as many CPUs as its threads for its seconds
        cpu_seconds = sum(recorded_seconds(recorded, run) * run.threads for run in pending)
        plan = f"as tasks of the Ray cluster: about {cpu_seconds / 60:.0f} CPU-minutes"
    else:
        wall = sum(recorded_seconds(recorded, run) / max(1, jobs // run.threads) for run in pending)
        plan = f"{jobs} torch threads at a time: about {wall / 60:.0f} min"
    print(f"{len(pending)} runs to train ({len(runs) - len(pending)} stored in {record}), {plan} by the last "
          "calibration's seconds", flush=True)
    started = time.monotonic()

    def keep(run: Run, sample: dict) -> None:
        with lock:
            samples[run] = sample
            with record.open("a") as out:
                out.write(json.dumps(sample | {"calibrated_on": fingerprint[run.check]}) + "\n")
            done = sum(r in samples for r in pending)
            outcome = f"{sample['accuracy']:.4f}" if sample["accuracy"] is not None else f"failed ({sample['failed']})"
            print(f"{run.check:36s} {run.implementation:20s} seed {run.seed:2d} threads {run.threads}  "
                  f"{outcome}  {sample['seconds']:6.1f} s  [{done}/{len(pending)}, "
                  f"{(time.monotonic() - started) / 60:.1f} min]", flush=True)

    if cluster is not None:
        for run, trained, where_or_why in cluster.train(budget, pending, folders, device):
            if trained is None:
                print(f"{run.check} {run.implementation} seed {run.seed}: its Ray task failed ({where_or_why}); "
                      "the same command trains it again", flush=True)
            elif isinstance(trained, StudentError) and run.implementation not in mutants:
                print(f"{run.check} {run.implementation} seed {run.seed}: correct code raised {trained.kind}: "
                      f"{trained.summary}; mend it, then run the same command", flush=True)
            else:
                keep(run, sample_of(run, trained, where_or_why))
    else:
        here = {"node": "local", "cpu": cpu_model()}

        def train(run: Run, workers: dict[tuple[int, str], SubprocessWorker]) -> None:
            key = (threading.get_ident(), run.implementation)  # one worker per pool thread and implementation
            with lock:
                if key not in workers:
                    workers[key] = SubprocessWorker(folders[run.implementation])
            try:
                trained = train_and_measure(workers[key], checks[run.check], seed=run.seed, device=device,
                                            threads=run.threads)
            except StudentError as error:
                if run.implementation not in mutants:
                    raise
                trained = error
            keep(run, sample_of(run, trained, here))

        for count in sorted({run.threads for run in runs}):
            todo = [run for run in runs if run.threads == count and run not in samples]
            workers: dict[tuple[int, str], SubprocessWorker] = {}
            pool = ThreadPoolExecutor(max(1, jobs // count), thread_name_prefix="calibrate")  # more would stall
            try:
                list(pool.map(lambda run: train(run, workers), todo))
            finally:  # done or interrupted: end this phase's workers first, so no thread waits on a training run
                for worker in list(workers.values()):
                    worker.close()
                pool.shutdown(cancel_futures=True)
    print(f"trained {sum(r in samples for r in pending)} of {len(pending)} runs in "
          f"{(time.monotonic() - started) / 60:.1f} min", flush=True)
    return samples


def detectable_drop(accuracies: list[float], limit: float) -> float:
    """The smallest drop of the mean accuracy that a check with threshold `limit` hears nine times in ten: the
    pool's distribution (`prediction_scale`) moved down until 90% of it lies below `limit`."""
    from scipy.stats import t

    mean, scale, n = prediction_scale(accuracies)
    return max(0.0, mean - limit + float(t.ppf(0.9, n - 1)) * scale)


def entry(budget: str, check: TrainingCheck, samples: list[dict], power: list[dict]) -> dict:
    """One check's thresholds.json entry from its samples, and the accuracies of its --power mutants."""
    accuracies = [s["accuracy"] for s in samples]
    limit = round(check_threshold(samples, threshold_rule(budget)), 3)
    standard = course_standard().threads
    reference = next((s for s in samples if s["implementation"] == "solution" and s["seed"] == 0
                      and s["threads"] == standard), samples[0])
    mutants: dict[str, list[float | None]] = {}  # None: the seed's run raised, and failed its check
    for sample in power:
        mutants.setdefault(sample["implementation"], []).append(sample["accuracy"])
    return {"threshold": limit, "p_below": check_p_below(samples, limit), "accuracies": accuracies,
            "samples": [{k: s[k] for k in ("implementation", "seed", "threads", "accuracy", "seconds", "cpu") if k in s}
                        for s in samples],
            "power": mutants, "curve": reference["curve"], "layout": reference.get("layout", {}),
            "seconds": statistics.median(s["seconds"] for s in samples if s["threads"] == standard),
            "rule": RULES[threshold_rule(budget)], "date": date.today().isoformat(), "torch": torch.__version__,
            "device": profile_device(budget)} | calibrated_on(check)


def table(budgets: list[str], thresholds: Path = THRESHOLDS_FILE) -> str:
    """The calibration table: per profile and check, the samples' spread, the threshold, p_below and the smallest
    drop it hears nine times in ten; then each --power mutant's share of seeds below its check's threshold, and what
    each profile's calibration costs in CPU-seconds."""
    rows = ["| profile | check | samples: solution (1 / 2 threads) + variants | mean | std | lowest | threshold | "
            "P(correct upload below) | drop heard 9 in 10 |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    power = ["| profile | check | training mutant | its mean | seeds below the threshold |", "| --- | --- | --- | --- | --- |"]
    costs = []
    document = json.loads(thresholds.read_text()) if thresholds.exists() else {}
    for budget in budgets:
        for name, calibrated in document.get(budget, {}).items():
            accuracies, samples, limit = calibrated["accuracies"], calibrated.get("samples", []), calibrated["threshold"]
            std = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
            solution = [s["threads"] for s in samples if s["implementation"] == "solution"]
            kinds = (f"{solution.count(1)} / {solution.count(2)} + {len(samples) - len(solution)}" if samples
                     else str(len(accuracies)))
            kinds += "".join(f" ({style}: {sum(s['implementation'] == style for s in samples)} seeds)"
                             for style in (styles_apart(samples) if samples else []))
            check = name.removeprefix("test_train_")
            rows.append(f"| {budget} | {check} | {kinds} | {statistics.mean(accuracies):.1%} "
                        f"| {std:.1%} | {min(accuracies):.1%} | {limit:.1%} | "
                        f"{calibrated.get('p_below', float('nan')):.1e} | {detectable_drop(accuracies, limit):.1%} |")
            for mutant, found in sorted(calibrated.get("power", {}).items()):
                trained = [a for a in found if a is not None]
                mean = f"{statistics.mean(trained):.1%}" if trained else "raises"
                power.append(f"| {budget} | {check} | {mutant.rpartition('-')[0]} | {mean} | "
                             f"{sum(a is None or a < limit for a in found)} of {len(found)} |")
        if cost := calibration_cost(document.get(budget, {})):
            costs.append(f"{budget}: {cost[0]} runs, {cost[1]:,.0f} CPU-seconds (each run's seconds times its threads), "
                         f"the longest run {cost[2]:.0f} s: on N nodes of M CPUs about {cost[1]:,.0f} / (N x M) s, "
                         f"never under {cost[2]:.0f} s")
    return "\n".join(rows + ([""] + power if len(power) > 2 else []) + [""] + costs)


def calibration_cost(entries: dict[str, dict]) -> tuple[int, float, float] | None:
    """What a profile's calibration took, from its samples (seconds at their thread count): the runs, their
    CPU-seconds, and the longest run's seconds (what no number of CPUs shortens)."""
    samples = [s for entry in entries.values() for s in entry.get("samples", [])]
    if not samples:
        return None
    return len(samples), sum(s["seconds"] * s["threads"] for s in samples), max(s["seconds"] for s in samples)


def verify() -> int:
    """Print whether every profile's thresholds hold for the grading images, the prepared subsets, the
    settings and the training code now; 1 if any does not (setup.sh and CI run this)."""
    problems = []
    for budget in profile_names():
        thresholds = load_thresholds(budget)
        if profile_device(budget) != "cpu" and not thresholds:
            print(f"{budget}: no thresholds, so gradings will not choose it (calibrate it on a {profile_device(budget)} "
                  f"machine: python -m autograder.instructor.calibrate --budget {budget})")
            continue
        for check in load_profile(budget).values():
            calibrated = thresholds.get(check.name)
            problem = calibration_problem(budget, check, calibrated, prepared_sha256(check.dataset))
            if problem is None and (changes := training_code_changes(calibrated.get("training_code"))):
                problem = (f"the {budget} threshold of {check.name} was calibrated on other training code "
                           f"({'; '.join(changes)}): run `python -m autograder.instructor.calibrate --budget {budget}`")
            problems += [problem] if problem else []
    for problem in problems:
        print(f"error: {problem}")
    if not problems:
        print("the thresholds of every calibrated profile hold for the grading images, settings and training code now")
    return 1 if problems else 0


def lone_runs(budget: str, checks: dict[str, TrainingCheck], solutions: Path) -> Iterator[tuple[str, Curve]]:
    """The solution's seed-0 run of each check at the course's thread count, one at a time in one worker, as a
    grading trains it: its curve, and its seconds (the time a grading keeps for the check; a calibration's runs
    side by side took 15-25% longer each on a 2-core Intel host)."""
    worker = SubprocessWorker(solutions.resolve())
    try:
        for name, check in checks.items():
            yield name, train_and_measure(worker, check, seed=0, device=profile_device(budget),
                                          threads=course_standard().threads)
    finally:
        worker.close()


def carry_record(record: Path, old: dict[str, dict], new: dict[str, dict]) -> int:
    """Move each sample of the resumable `record` whose check was calibrated on `old[check]` to `new[check]`, so that
    a later calibration of code confirmed unchanged trains only what is missing; how many moved."""
    if not record.exists():
        return 0
    lines, moved = [], 0
    for line in record.read_text().splitlines():
        sample = json.loads(line)
        if sample["check"] in old and sample["calibrated_on"] == old[sample["check"]]:
            sample["calibrated_on"], moved = new[sample["check"]], moved + 1
        lines.append(json.dumps(sample))
    carried = record.with_name(f".{record.name}.carried")
    carried.write_text("".join(f"{line}\n" for line in lines))
    os.replace(carried, record)
    return moved


def confirm_unchanged(budget: str, checks: dict[str, TrainingCheck], solutions: Path, path: Path,
                      record: Path) -> int:
    """Train the solution's seed-0 run of `checks` alone (`lone_runs`); where every curve equals its recorded one,
    record the training code now and each lone run's seconds in their entries of the thresholds file at `path`, and
    carry the samples of the resumable `record` that the thresholds came from to the code now (`carry_record`).
    1 (and nothing written) if any curve moved, or a threshold does not hold for the images and settings now."""
    document = json.loads(path.read_text())
    thresholds = document.get(budget, {})
    problems = [p for check in checks.values() if (p := calibration_problem(
        budget, check, thresholds.get(check.name), prepared_sha256(check.dataset)))]
    if problems:
        print("\n".join(f"error: {p}" for p in problems))
        return 1
    moved, seconds = [], {}
    for name, trained in lone_runs(budget, checks, solutions):
        curve, seconds[name] = [round(a, 4) for a in trained.test_accuracy], round(sum(trained.seconds), 1)
        recorded = thresholds[name]["curve"]
        print(f"{name:36s} {'same curve' if curve == recorded else 'MOVED'}: {' '.join(f'{a:.4f}' for a in curve)}",
              flush=True)
        if curve != recorded:
            moved.append(f"{name} (recorded {' '.join(f'{a:.4f}' for a in recorded)})")
    if moved:
        print(f"error: training moved for {'; '.join(moved)}: calibrate `--budget {budget}` instead")
        return 1
    fingerprints = {name: calibrated_on(check) for name, check in checks.items()}
    calibrated = {name: {key: thresholds[name].get(key) for key in fingerprints[name]} for name in checks}
    for name in checks:
        thresholds[name] |= {"training_code": training_code(), "seconds": seconds[name]}
    write_atomically(path, document)
    carried = carry_record(record, calibrated, fingerprints)
    print(f"every curve as recorded: {path} [{budget}] now records the training code here and each check's seconds "
          f"as this lone run took them; {carried} samples of {record} carried to it")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", default=course_standard().profile, choices=profile_names(),
                        help=f"the training profile to calibrate (default: the course's, {course_standard().profile})")
    parser.add_argument("--seeds", type=int, default=10, help="runs of the solution per check and thread count, "
                                                               "seeds 0 to N-1 (default: 10)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="the torch thread counts to train with (default: 1 2)")
    parser.add_argument("--also", type=Path, nargs="*", default=[],
                        help="correct implementations in other styles, laid out like solutions/: each trains the "
                             "checks whose file it writes differently (`python -m tests.submissions.build` makes "
                             "the repository's variants)")
    parser.add_argument("--power", type=Path, nargs="*", default=[],
                        help="one-bug implementations, each folder named MUTANT-CHECK: each trains CHECK over the seeds "
                             "at the course's thread count, to measure what the check hears (`python -m "
                             "tests.submissions.build --training-mutants OUT` makes the repository's)")
    parser.add_argument("--jobs", type=int, default=available().threads,
                        help="torch threads to run at once: one-thread runs go in parallel (default: the CPUs)")
    parser.add_argument("--ray", metavar="ADDRESS",
                        help="train every run as a task of the Ray cluster at ADDRESS (auto: the one this machine "
                             "belongs to), each holding as many CPUs as its torch threads; --jobs is then unused")
    parser.add_argument("--samples", type=Path, default=SAMPLES,
                        help="the folder of the resumable records, one BUDGET.jsonl per profile (default: .calibration/)")
    parser.add_argument("--thresholds", type=Path, default=THRESHOLDS_FILE,
                        help="the thresholds file to write (default: autograder/thresholds.json, what grading reads)")
    parser.add_argument("--solutions", type=Path, default=REPO / "solutions",
                        help="the reference implementation (default: solutions/)")
    parser.add_argument("--checks", nargs="+", help="recalibrate only these checks, keeping the others")
    parser.add_argument("--verify", action="store_true",
                        help="calibrate nothing: say whether the thresholds hold for the code, images and settings now")
    parser.add_argument("--table", action="store_true", help="calibrate nothing: print the calibration table")
    parser.add_argument("--confirm-unchanged", action="store_true",
                        help="calibrate nothing: show that the training code now trains the solution's seed-0 runs "
                             "exactly as recorded, and if so record it (in the thresholds and the resumable record)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a kill ends the training workers too (finally)
    if args.verify:
        return verify()
    if args.table:
        print(table(profile_names(), args.thresholds))
        return 0
    if profile_device(args.budget) == "cuda" and not torch.cuda.is_available():
        print(f"error: the {args.budget} profile trains on CUDA, which this machine lacks: calibrate it on a GPU machine")
        return 2
    checks = load_profile(args.budget)
    if args.checks:
        checks = {name: checks[name] for name in args.checks}
    if args.confirm_unchanged:
        return confirm_unchanged(args.budget, checks, args.solutions, args.thresholds,
                                 args.samples / f"{args.budget}.jsonl")
    folders = {"solution": args.solutions.resolve()} | {folder.name: folder.resolve() for folder in args.also + args.power}
    fingerprint = {name: calibrated_on(check) for name, check in checks.items()}
    runs = planned_runs(checks, args.seeds, args.threads, args.solutions, args.also)
    mutants = power_runs(checks, args.seeds, args.power)
    power = frozenset(folder.name for folder in args.power)
    record = args.samples / f"{args.budget}.jsonl"
    cluster = RayCalibration(args.ray) if args.ray else None
    try:
        samples = calibrate(args.budget, runs + mutants, folders, fingerprint, args.jobs, record, cluster, power)
        if further := apart_runs(runs, samples, args.seeds):
            print(f"styles below the solution at seed 0, trained over seeds 1-{args.seeds - 1} too: "
                  f"{', '.join(sorted({f'{r.implementation} on {r.check}' for r in further}))}", flush=True)
            runs += further
            samples = calibrate(args.budget, runs + mutants, folders, fingerprint, args.jobs, record, cluster, power)
    except KeyboardInterrupt:
        if cluster is not None:
            cluster.cancel()
        print(f"stopped by Ctrl-C: every sample that arrived is kept in {record}; the same command trains only "
              "what is missing", flush=True)
        return 130
    finally:
        if cluster is not None:
            cluster.close()
    missing = [run for run in runs + mutants if run not in samples]
    if missing:
        print(f"error: {len(missing)} runs did not arrive (above): nothing written; the same command trains them")
        return 1
    entries = {name: entry(args.budget, check, [samples[run] for run in runs if run.check == name],
                           [samples[run] for run in mutants if run.check == name])
               for name, check in checks.items()}
    if cluster is None:  # runs went side by side here: a grading keeps what a lone run takes (a Ray task's are lone)
        print("each check's seed-0 run once more, alone, for the seconds a grading keeps", flush=True)
        for name, trained in lone_runs(args.budget, checks, args.solutions):
            entries[name]["seconds"] = round(sum(trained.seconds), 1)
    document = json.loads(args.thresholds.read_text()) if args.thresholds.exists() else {}
    document[args.budget] = document.get(args.budget, {}) | entries
    write_atomically(args.thresholds, document)
    print(table([args.budget], args.thresholds))
    print(f"wrote {args.thresholds} [{args.budget}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
