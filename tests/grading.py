"""Grade folders with the real grader, end to end, and tabulate what caught each mutant.

    python -m tests.grading              # print the validity table for every mutant and variant
    python -m tests.grading --benchmark  # time whole grading runs of the solution

Each folder is graded by `pytest autograder --impl DIR --results-json ...` in its own
process, as a student or Gradescope would run it, with one torch thread, as many at a time as
this process has CPUs to itself (`cpu_share`). One thread per grading: on a loaded machine a
thread that loses its core stalls its siblings at every parallel region (two threads ran 4x
slower beside one busy process), while single-threaded gradings only share the cores.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from autograder.judge.resources import available
from autograder.rubric import load_rubric

from .submissions.build import REPO, SOLUTIONS, build_mutant, build_variant, copy_solution, variant_names
from .submissions.mutants import MUTANTS, TRAINING_MUTANTS

UNIT_ONLY = ("-m", "not training")
# A bound on a hang of the grader itself, not a speed expectation: the slowest grading here
# (the solution, cpu profile) takes about 5 minutes on one idle core.
GRADING_HANG_BOUND = 3600


def cpu_share() -> int:
    """The CPUs this test process may keep busy: the machine's usable ones over pytest-xdist's workers."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return max(1, available().threads // workers)


@dataclass
class Grade:
    """One grading run: pytest's exit code, its output, and the parsed results.json."""

    returncode: int
    output: str
    results: dict

    @property
    def score(self) -> float:
        return self.results.get("score", 0.0)

    @property
    def max_score(self) -> float:
        return sum(t["max_score"] for t in self.results.get("tests", []))

    @property
    def failed(self) -> set[str]:
        return failed_checks(self.results)

    def feedback(self, check: str) -> str:
        """What the results document tells the student about rubric check `check`."""
        number = load_rubric()[check].number
        return next(t["output"] for t in self.results["tests"] if t.get("number") == number)


def failed_checks(results: dict) -> set[str]:
    """Ids of the rubric checks that lost points in a results document."""
    by_number = {c.number: c.id for c in load_rubric().values()}
    return {by_number[t["number"]] for t in results.get("tests", []) if "number" in t and t["score"] < t["max_score"]}


def grade(impl: Path, workdir: Path, *extra: str, threads: int = 1) -> Grade:
    """Grade `impl` in a fresh process with `threads` torch threads."""
    results = workdir / f"{impl.name}.results.json"
    extra = (*extra, "--curves", str(workdir / f"{impl.name}.curves.json"), "--threads", str(threads))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "autograder", "--impl", str(impl), "--results-json", str(results),
         "-q", "-p", "no:cacheprovider", *extra],
        cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": str(threads)}, capture_output=True, text=True,
        timeout=GRADING_HANG_BOUND)
    parsed = json.loads(results.read_text()) if results.exists() else {}
    return Grade(done.returncode, done.stdout + done.stderr, parsed)


Corpus = dict[str, tuple[Path, tuple[str, ...]]]  # name -> (folder, the pytest arguments it is graded with)


def unit_mutant_corpus(root: Path) -> Corpus:
    """Every one-bug mutant, graded on the unit checks of the file it changes; every other one through
    the portable path (`--portable`, as on Windows), against the same expectation."""
    return {f"mutant:{m.name}": (build_mutant(m, root / f"mutant-{m.name}"),
                                 (*UNIT_ONLY, "--part", m.file, *(("--portable",) if i % 2 else ())))
            for i, m in enumerate(MUTANTS)}


def trained_corpus(root: Path) -> Corpus:
    """The gradings that train: the solution with every check under the cpu profile (the one full
    grading of the run), the skeleton likewise (its checks fail at once), the correct variants
    under the smoke profile, and each training mutant on its one check under the smoke profile (the
    cheapest that still shows its verdict: see TrainingMutant)."""
    full = ("--budget", "cpu")
    folders: Corpus = {"solution": (copy_solution(root / "solution"), full), "skeleton": (REPO / "assignment", full)}
    for name in variant_names():
        folders[f"variant:{name}"] = (build_variant(name, root / f"variant-{name}"), ("--budget", "smoke"))
    for case in TRAINING_MUTANTS:
        path = build_mutant(case.mutant, root / f"training-{case.key}")
        folders[f"training:{case.key}"] = (path, ("--budget", "smoke", "-k", case.check))
    return folders


def grade_all(folders: Corpus, workdir: Path) -> dict[str, Grade]:
    """Every folder of `folders`, `cpu_share()` gradings at a time, the longest first."""
    longest_first = sorted(folders, key=lambda name: name != "solution")
    with ThreadPoolExecutor(cpu_share()) as pool:
        futures = {name: pool.submit(grade, folders[name][0], workdir, *folders[name][1]) for name in longest_first}
        return {name: futures[name].result() for name in folders}


def grade_corpus(build: Callable[[Path], Corpus], root: Path) -> dict[str, Grade]:
    """Build a corpus in `root`, grade all of it, print the validity table of what was graded."""
    grades = grade_all(build(root), root)
    print("\n" + validity_table(grades))
    return grades


def validity_table(grades: dict[str, Grade]) -> str:
    """One row per grading: score, verdict, whether the student hears of a lost point before the due
    date (a visible check took it), and the checks that took points."""
    rows = [("submission", "score", "verdict", "before due date", "checks that took points")]
    expected = {f"mutant:{m.name}": m.caught_by for m in MUTANTS}
    expected |= {f"training:{c.key}": {c.check} if c.breaks_training else set() for c in TRAINING_MUTANTS}
    visible = {c.id for c in load_rubric().values() if c.visibility == "visible"}
    for name, result in grades.items():
        if name in expected:
            verdict = "as expected" if result.failed == expected[name] else (
                "NOT CAUGHT" if not result.failed else "other checks than listed")
        else:
            verdict = "full marks" if result.score == result.max_score else ("zero" if result.score == 0 else "PARTIAL")
        seen = "-" if not result.failed else ("seen" if result.failed & visible else "NOT SEEN")
        rows.append((name, f"{result.score:g}/{result.max_score:g}", verdict, seen,
                     ", ".join(sorted(c.removeprefix("test_") for c in result.failed)) or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join(f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]:<{widths[3]}}  {r[4]}"
                     for r in rows)


def benchmark(runs: int = 3) -> None:
    """Wall time of `pytest autograder --impl solutions`, start-up of judge and worker included."""
    with tempfile.TemporaryDirectory() as tmp:
        seconds = []
        for _ in range(runs):
            start = time.perf_counter()
            result = grade(SOLUTIONS, Path(tmp), *UNIT_ONLY, threads=available().threads)
            seconds.append(time.perf_counter() - start)
            assert result.score == result.max_score, result.output[-2000:]
    print(f"grading solutions/ ({len(result.results['tests'])} checks, {os.cpu_count()} cores): "
          f"{', '.join(f'{s:.1f}' for s in seconds)} s; median {statistics.median(seconds):.1f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmark", action="store_true",
                        help="time whole grading runs of the solution instead of printing the validity table")
    if parser.parse_args(argv).benchmark:
        benchmark()
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        grades = grade_all(unit_mutant_corpus(root) | trained_corpus(root), root)
        print(validity_table(grades))


if __name__ == "__main__":
    main()
