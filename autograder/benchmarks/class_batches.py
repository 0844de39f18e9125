"""How many submissions per hour batch grading gets through, and how that scales with workers.

    python -m autograder.benchmarks.class_batches [--copies 4] [--workers 1 2] [--budget cpu] [--ray ADDRESS]

Grades `--copies` copies of the solution with `grade_class`, once per worker count (and once on
the Ray cluster at ADDRESS), each into a fresh batch folder, and prints the wall time, the
submissions per hour and the driver's own CPU time per submission of each. Every grading trains
with the course's thread count, however many workers share the cores.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ..judge.resources import available
from ..rubric import course_standard
from ..training_profiles import profile_names
from ..class_grading.grade_class import grade_class
from ..class_grading.upload_grading import FIRST_UID, ClassGrading

REPO = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=4, help="submissions per run (copies of the solution)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to compare")
    parser.add_argument("--budget", default="cpu", choices=profile_names(), help="training profile (default: cpu)")
    parser.add_argument("--sandbox-python", default=sys.executable, help="as root: see grade_class --help")
    parser.add_argument("--first-uid", type=int, default=FIRST_UID, help="as root: see grade_class --help")
    parser.add_argument("--ray", metavar="ADDRESS", help="also grade them on this Ray cluster (see grade_class --help)")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="benchmark-class-", dir="/tmp"))
    root.chmod(0o711)  # the sandbox users walk through it
    try:
        uploads = root / "uploads"
        for copy in range(args.copies):
            shutil.copytree(REPO / "solutions", uploads / f"student{copy}", ignore=shutil.ignore_patterns("__pycache__"))
        rows = []
        threads = course_standard().threads  # the standard: more workers share the cores, not the threads
        for workers in [*args.workers, *(["ray"] if args.ray else [])]:
            grading = ClassGrading(root / f"batch-{workers}", args.budget,
                                   sandbox_python=args.sandbox_python, first_uid=args.first_uid)
            started, driver = time.monotonic(), time.process_time()
            on_ray = workers == "ray"
            graded = grade_class(uploads, grading, 1 if on_ray else workers, ray=args.ray if on_ray else None)
            seconds, driver = time.monotonic() - started, time.process_time() - driver
            scores = sorted(graded.scores().values())
            where = f"Ray cluster at {args.ray}" if on_ray else f"{workers} here"
            rows.append(f"| {where} | {threads} | {args.copies} | {seconds:.0f} s | {seconds / args.copies:.0f} s "
                        f"| {3600 * args.copies / seconds:.1f} | {driver / args.copies:.2f} s | {scores[0]:g}-{scores[-1]:g} |")
        print(f"\n{available().describe()}, {args.budget} profile, {args.copies} copies of the solution\n")
        print("| workers | threads each | submissions | wall time | per submission | per hour | driver CPU each | scores |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        print("\n".join(rows))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
