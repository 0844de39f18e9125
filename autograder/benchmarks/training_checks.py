"""Wall time and peak memory of the training checks on the solution under one budget profile.

    python -m autograder.benchmarks.training_checks --budget cpu

Runs `pytest autograder --impl solutions -m training` in a child process and samples the
resident memory of its whole process tree (judge and worker together) from /proc.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from ..judge.processes import process_statuses
from ..training_profiles import profile_names

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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", default="cpu", choices=profile_names(), help="training profile (default: cpu)")
    args = parser.parse_args(argv)
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
