"""Grade folders with the real grader, end to end, and tabulate what caught each mutant.

    python -m tests.grading              # print the validity table for every mutant and variant
    python -m tests.grading --benchmark  # time whole grading runs of the solution

Each folder is graded by `pytest autograder --impl DIR --results-json ...` in its own
process, as a student or Gradescope would run it; two at a time (one thread each) to use
both cores of a small machine.
"""
from __future__ import annotations

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

from autograder.rubric import load_rubric

from .submissions.build import REPO, SOLUTIONS, build_mutant, build_variant, copy_solution, variant_names
from .submissions.mutants import MUTANTS, TRAINING_MUTANTS

UNIT_ONLY = ("-m", "not training")


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


def failed_checks(results: dict) -> set[str]:
    """Ids of the rubric checks that lost points in a results document."""
    by_number = {c.number: c.id for c in load_rubric().values()}
    return {by_number[t["number"]] for t in results.get("tests", []) if "number" in t and t["score"] < t["max_score"]}


def grade(impl: Path, workdir: Path, *extra: str, threads: int | None = 1) -> Grade:
    """Grade `impl` in a fresh process; `threads` caps torch's threads (None: torch's default)."""
    results = workdir / f"{impl.name}.results.json"
    extra = (*extra, "--curves", str(workdir / f"{impl.name}.curves.json"))
    env = {**os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "autograder", "--impl", str(impl), "--results-json", str(results),
         "-q", "-p", "no:cacheprovider", *extra],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    parsed = json.loads(results.read_text()) if results.exists() else {}
    return Grade(done.returncode, done.stdout + done.stderr, parsed)


def build_corpus(root: Path) -> dict[str, tuple[Path, tuple[str, ...]]]:
    """Every graded folder of the validity suite, with the pytest arguments it is graded with.

    The solution gets every check, training included (cpu profile); the skeleton too (its
    checks fail at once); variants every check with the smoke profile's training; unit
    mutants the unit checks, and each training mutant only the training check it is paired with.
    """
    full = ("--budget", "cpu")
    folders: dict[str, tuple[Path, tuple[str, ...]]] = {
        "solution": (copy_solution(root / "solution"), full), "skeleton": (REPO / "assignment", full)}
    for name in variant_names():  # trained too, under the quick smoke profile
        folders[f"variant:{name}"] = (build_variant(name, root / f"variant-{name}"), ("--budget", "smoke"))
    for mutant in MUTANTS:
        folders[f"mutant:{mutant.name}"] = (build_mutant(mutant, root / f"mutant-{mutant.name}"), UNIT_ONLY)
    for case in TRAINING_MUTANTS:
        path = build_mutant(case.mutant, root / f"training-{case.key}")
        folders[f"training:{case.key}"] = (path, ("--budget", "cpu", "-k", case.check))
    return folders


def grade_all(folders: dict[str, tuple[Path, tuple[str, ...]]], workdir: Path, jobs: int = 2) -> dict[str, Grade]:
    """Unit-only gradings `jobs` at a time; gradings that train one at a time, with the cores to themselves."""
    unit = {n: f for n, f in folders.items() if f[1] == UNIT_ONLY}
    with ThreadPoolExecutor(jobs) as pool:
        futures = {name: pool.submit(grade, path, workdir, *args) for name, (path, args) in unit.items()}
        grades = {name: future.result() for name, future in futures.items()}
    for name, (path, args) in folders.items():
        if name not in unit:
            grades[name] = grade(path, workdir, *args, threads=None)
    return {name: grades[name] for name in folders}


def validity_table(grades: dict[str, Grade]) -> str:
    rows = [("submission", "score", "verdict", "checks that took points")]
    expected = {f"mutant:{m.name}": m.caught_by for m in MUTANTS}
    expected |= {f"training:{c.key}": {c.check} if c.breaks_training else set() for c in TRAINING_MUTANTS}
    for name, result in grades.items():
        if name in expected:
            verdict = "as expected" if result.failed == expected[name] else (
                "NOT CAUGHT" if not result.failed else "other checks than listed")
        else:
            verdict = "full marks" if result.score == result.max_score else ("zero" if result.score == 0 else "PARTIAL")
        rows.append((name, f"{result.score:g}/{result.max_score:g}", verdict,
                     ", ".join(sorted(c.removeprefix("test_") for c in result.failed)) or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}" for r in rows)


def benchmark(runs: int = 3) -> None:
    """Wall time of `pytest autograder --impl solutions`, start-up of judge and worker included."""
    with tempfile.TemporaryDirectory() as tmp:
        seconds = []
        for _ in range(runs):
            start = time.perf_counter()
            result = grade(SOLUTIONS, Path(tmp), *UNIT_ONLY, threads=None)
            seconds.append(time.perf_counter() - start)
            assert result.score == result.max_score, result.output[-2000:]
    print(f"grading solutions/ ({len(result.results['tests'])} checks, {os.cpu_count()} cores): "
          f"{', '.join(f'{s:.1f}' for s in seconds)} s; median {statistics.median(seconds):.1f} s")


def main() -> None:
    if "--benchmark" in sys.argv[1:]:
        benchmark()
        return
    with tempfile.TemporaryDirectory() as tmp:
        grades = grade_all(build_corpus(Path(tmp)), Path(tmp))
        print(validity_table(grades))


if __name__ == "__main__":
    main()
