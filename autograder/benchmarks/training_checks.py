"""Wall time and peak memory of the training checks on the solution under one budget profile, and where each
check's seconds go.

    python -m autograder.benchmarks.training_checks --budget cpu
    python -m autograder.benchmarks.training_checks --budget cpu --breakdown

Runs `pytest autograder --impl solutions -m training` in a child process and samples the
resident memory of its whole process tree (judge and worker together) from /proc.

`--breakdown` runs each check's requests here instead, one after another on the standard's threads (the
worker's own code on solutions/, as a grading's worker runs them), under torch.profiler, and prints each
check's seconds by phase: augmentation (the batches), forward, backward, optimizer step, evaluation (every
epoch's test accuracy) and the rest (building the model; for the loop checks, the student's own loop).
Torch's start (importing it) is printed apart: every worker pays it once. Preload the worker's allocator
(`LD_PRELOAD=libtcmalloc_minimal.so.4`, `autograder/judge/allocator.py`) to measure what a worker does.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from ..judge.processes import process_statuses
from ..rubric import course_standard
from ..training_profiles import load_profile, profile_names

if TYPE_CHECKING:  # imported where the breakdown runs: the timed grading's parent process never trains
    import torch

REPO = Path(__file__).resolve().parents[2]


def tree_rss_bytes(root: int) -> int:
    """Resident memory of `root` and all its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for pid, fields in process_statuses().items():
        children.setdefault(int(fields["PPid"]), []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack += children.get(pid, [])
    return total


class LabelledBatches:
    """A run's batches, each one's making (crops, flips, normalisation) labelled "augmentation" for the profiler;
    everything else (length, batch_size, dataset) is the batches' own."""

    def __init__(self, batches: Any) -> None:
        self.batches = batches

    def __getattr__(self, name: str) -> Any:
        return getattr(self.batches, name)

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[Any]:
        import torch

        epoch = iter(self.batches)
        while True:
            with torch.profiler.record_function("augmentation"):
                batch = next(epoch, None)
            if batch is None:
                return
            yield batch


PHASES = ("augmentation", "forward", "backward", "optimizer step", "evaluation")


def phase_seconds(profile: "torch.profiler.profile") -> dict[str, float]:
    """Seconds by phase, from what torch.profiler names of itself: the autograd engine's functions (backward),
    the optimizer's step and zero_grad, and the labels `breakdown` puts around the requests and the batches."""
    spent = dict.fromkeys(PHASES, 0.0)
    for event in profile.key_averages():
        seconds = event.cpu_time_total / 1e6
        if event.key.startswith("autograd::engine::evaluate_function"):
            spent["backward"] += seconds
        elif event.key.startswith("Optimizer."):
            spent["optimizer step"] += seconds
        elif event.key in ("augmentation", "evaluation", "epoch"):
            spent[event.key if event.key != "epoch" else "forward"] += seconds
    # An epoch's time less its backward, optimizer and batches is the forward pass (and the loss).
    spent["forward"] -= spent["backward"] + spent["optimizer step"] + spent["augmentation"]
    return spent


def breakdown(budget: str, threads: int) -> None:
    """Each check of `budget` run here under torch.profiler: its seconds by phase. The worker's training code
    runs unchanged (its bytes are what the thresholds were calibrated on); the phases are read from outside it."""
    started = time.perf_counter()
    import torch
    from data_scripts.subsets import load_subset

    from ..worker import training_requests
    from ..worker.session import Session
    from ..worker.training_run import TrainingRun

    print(f"importing torch: {time.perf_counter() - started:.1f} s (each worker, once)")
    session = Session(REPO / "solutions")
    label = torch.profiler.record_function
    print(f"{'check':<24} {'seconds':>8}  " + "  ".join(f"{phase:>14}" for phase in (*PHASES, "the rest")))
    for name, check in load_profile(budget).items():
        images, labels = (t[:check.train] for t in load_subset(check.dataset, "train"))
        test_images = load_subset(check.dataset, "test")[0][:check.test]
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
            started = time.perf_counter()
            run = training_requests.training_start(session, check.module, check.factory, check.kwargs, 0, images,
                                                   labels, check.settings, "cpu", threads)
            training_run = session.get(run, TrainingRun)
            training_run.batches = LabelledBatches(training_run.batches)
            for _ in range(check.settings["epochs"]):
                with label("epoch"):
                    training_requests.training_epoch(session, run, check.student_loop)
                with label("evaluation"):
                    training_requests.training_predict(session, run, test_images)
            training_requests.training_end(session, run)
            seconds = time.perf_counter() - started
        spent = phase_seconds(profile)
        if check.student_loop:  # the student's own loop: its phases are its own
            spent = {"augmentation": spent["augmentation"], "evaluation": spent["evaluation"]}
        shares = [spent.get(phase) for phase in PHASES]
        rest = seconds - sum(s for s in shares if s is not None)
        print(f"{name.removeprefix('test_train_'):<24} {seconds:>8.1f}  " + "  ".join(
            f"{s:>6.1f} s {s / seconds:>4.0%}" if s is not None else f"{'-':>14}" for s in (*shares, rest)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", default="cpu", choices=profile_names(), help="training profile (default: cpu)")
    parser.add_argument("--breakdown", action="store_true",
                        help="where each check's seconds go (torch.profiler), instead of the timed grading")
    args = parser.parse_args(argv)
    if args.breakdown:
        breakdown(args.budget, course_standard().threads)
        return
    command = [sys.executable, "-m", "pytest", "autograder", "--impl", "solutions", "-m", "training",
               "--budget", args.budget, "-q", "-p", "no:cacheprovider", "-s"]
    start, peak = time.perf_counter(), 0
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    os.set_blocking(process.stdout.fileno(), False)
    while process.poll() is None:
        peak = max(peak, tree_rss_bytes(process.pid))
        lines += process.stdout.readlines()
        time.sleep(0.5)
    lines += process.stdout.readlines()
    seconds = time.perf_counter() - start
    print("".join(line for line in lines if "epoch" in line and ("/" in line)).rstrip()[-3000:])
    print(f"{args.budget} profile: training checks on solutions/ took {seconds:.0f} s wall, peak memory "
          f"{peak / 2**30:.2f} GiB (judge + worker), {os.cpu_count()} cores, exit status {process.returncode}")


if __name__ == "__main__":
    main()
