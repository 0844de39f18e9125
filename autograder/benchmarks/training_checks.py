"""Wall time and peak memory of the training checks on the solution under one budget profile, and where each
check's seconds go.

    python -m autograder.benchmarks.training_checks --budget cpu
    python -m autograder.benchmarks.training_checks --budget cpu --breakdown

Runs `pytest autograder --impl solutions -m training` in a child process and samples the
resident memory of its whole process tree (judge and worker together) from /proc.

`--breakdown` runs each check's requests here instead, one after another on the standard's threads (the
worker's own code on solutions/, as a grading's worker runs them), under torch.profiler, and prints each
check's seconds split by the labels the worker's loop carries: augmentation, forward, backward, optimizer
step, evaluation (every epoch's test accuracy) and the rest (building the model, the student's own loop for
the loop checks). Torch's start (importing it) is printed apart: every worker pays it once.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from ..judge.processes import process_statuses
from ..rubric import course_standard
from ..training_profiles import load_profile, profile_names

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


LABELS = ("augmentation", "forward", "backward", "optimizer step", "evaluation")


def breakdown(budget: str, threads: int) -> None:
    """Each check of `budget` run here under torch.profiler: its seconds, split by the worker loop's labels."""
    started = time.perf_counter()
    import torch
    from data_scripts.subsets import load_subset

    from ..worker import training_requests
    from ..worker.session import Session

    print(f"importing torch: {time.perf_counter() - started:.1f} s (each worker, once)")
    session = Session(REPO / "solutions")
    print(f"{'check':<34} {'seconds':>8}  " + "  ".join(f"{label:>14}" for label in (*LABELS, "the rest")))
    for name, check in load_profile(budget).items():
        images, labels = (t[:check.train] for t in load_subset(check.dataset, "train"))
        test_images = load_subset(check.dataset, "test")[0][:check.test]
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
            started = time.perf_counter()
            run = training_requests.training_start(session, check.module, check.factory, check.kwargs, 0, images,
                                                   labels, check.settings, "cpu", threads)
            for _ in range(check.settings["epochs"]):
                training_requests.training_epoch(session, run, check.student_loop)
                training_requests.training_predict(session, run, test_images)
            training_requests.training_end(session, run)
            seconds = time.perf_counter() - started
        spent = {event.key: event.cpu_time_total / 1e6 for event in profile.key_averages() if event.key in LABELS}
        shares = [spent.get(label, 0.0) for label in LABELS]
        print(f"{name.removeprefix('test_train_'):<34} {seconds:>8.1f}  " + "  ".join(
            f"{s:>6.1f} s {s / seconds:>4.0%}" for s in (*shares, seconds - sum(shares))))


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
