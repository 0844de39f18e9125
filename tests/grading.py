"""Grade folders with the real grader, end to end, and tabulate what caught each mutant.

    python -m tests.grading              # print the validity table for every mutant and variant
    python -m tests.grading --benchmark  # time whole grading runs of the solution
    python -m tests.grading --training-mutants cpu  # every training mutant on its check under a profile

Each folder is graded by `pytest autograder --impl DIR --results-json ...`, as a student or
Gradescope would run it, with one torch thread; a corpus is dealt out to as many processes as
this process has CPUs to itself (`cpu_share`), each running its folders' pytest sessions in turn
(`grade_in_sequence`). One thread per grading: on a loaded machine a
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
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from autograder.judge.resources import available
from autograder.rubric import load_rubric
from autograder.training_profiles import load_profile

from .submissions.build import (REPO, SOLUTIONS, build_mutant, build_variant, copy_solution, variant_files,
                                variant_names)
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


def pytest_arguments(impl: Path, workdir: Path, extra: tuple[str, ...], threads: int) -> list[str]:
    """`pytest autograder` grading `impl`, its results.json and curves written in `workdir`. One training check at a
    time: the corpora are graded `cpu_share()` folders at once already."""
    return ["autograder", "--impl", str(impl), "--results-json", str(workdir / f"{impl.name}.results.json"),
            "-q", "-p", "no:cacheprovider", *extra, "--curves", str(workdir / f"{impl.name}.curves.json"),
            "--threads", str(threads), "--training-slots", "1"]


def graded(returncode: int, output: str, impl: Path, workdir: Path) -> Grade:
    results = workdir / f"{impl.name}.results.json"
    return Grade(returncode, output, json.loads(results.read_text()) if results.exists() else {})


def grade(impl: Path, workdir: Path, *extra: str, threads: int = 1) -> Grade:
    """Grade `impl` in a fresh process with `threads` torch threads."""
    done = subprocess.run([sys.executable, "-m", "pytest", *pytest_arguments(impl, workdir, extra, threads)],
                          cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": str(threads)}, capture_output=True,
                          text=True, timeout=GRADING_HANG_BOUND)
    return graded(done.returncode, done.stdout + done.stderr, impl, workdir)


def grade_in_sequence(folders: list[tuple[Path, tuple[str, ...]]], workdir: Path) -> list[Grade]:
    """Grade each (folder, pytest arguments) in turn, one torch thread, in one fresh process
    (`python -m tests.grading --in-sequence`) that runs `pytest.main` once per folder.

    The same plugin grades each folder in a session of its own, with a worker process of its own;
    only the judge's start (Python, torch, the check modules: about 5 of a unit grading's 8.5 s)
    is paid once instead of per folder.
    """
    jobs = [{"arguments": pytest_arguments(impl, workdir, extra, 1), "log": str(workdir / f"{impl.name}.log")}
            for impl, extra in folders]
    plan = workdir / f"sequence-{folders[0][0].name}.json"
    plan.write_text(json.dumps(jobs))
    done = subprocess.run([sys.executable, "-m", "tests.grading", "--in-sequence", str(plan)], cwd=REPO,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                          timeout=GRADING_HANG_BOUND)
    exits = json.loads(done.stdout.splitlines()[-1]) if done.returncode == 0 else []
    assert len(exits) == len(jobs), f"the grading sequence failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    return [graded(code, Path(job["log"]).read_text(), impl, workdir)
            for code, job, (impl, _) in zip(exits, jobs, folders)]


def run_sequence(plan: Path) -> None:
    """The child of `grade_in_sequence`: each job's pytest session, its output to its log; then the exit codes."""
    import pytest

    exits = []
    for job in json.loads(plan.read_text()):
        with open(job["log"], "w") as log, redirect_stdout(log), redirect_stderr(log):
            exits.append(int(pytest.main(job["arguments"])))
    print(json.dumps(exits))


Corpus = dict[str, tuple[Path, tuple[str, ...]]]  # name -> (folder, the pytest arguments it is graded with)


def files_behind(check: str) -> set[str]:
    """The student files a check's result depends on."""
    part = load_rubric()[check].part
    if part != "training":
        return {part}
    entry = load_profile("smoke")[check]
    files = {"train.py"} if entry.student_loop else set()
    if entry.module:
        files |= {f"{entry.module}.py"} | ({"resnet.py"} if entry.module == "senet" else set())
    return files


def training_checks_behind(files: set[str]) -> set[str]:
    return {c.id for c in load_rubric().values() if c.part == "training" and files_behind(c.id) & files}


def only_training_behind(files: set[str]) -> tuple[str, ...]:
    """pytest arguments leaving out the training checks that run none of `files` (they would train the
    solution's code again)."""
    others = sorted({c.id for c in load_rubric().values() if c.part == "training"} - training_checks_behind(files))
    return ("-k", f"not ({' or '.join(others)})") if others else ()


def unit_mutant_corpus(root: Path) -> Corpus:
    """Every one-bug mutant, graded on the unit checks of the file it changes; every other one through
    the portable path (`--portable`, as on Windows), against the same expectation."""
    return {f"mutant:{m.name}": (build_mutant(m, root / f"mutant-{m.name}"),
                                 (*UNIT_ONLY, "--part", m.file, *(("--portable",) if i % 2 else ())))
            for i, m in enumerate(MUTANTS)}


def trained_corpus(root: Path) -> Corpus:
    """The gradings that train: the solution with every check under the cpu profile (the one full
    grading of the run), the skeleton likewise (its checks fail at once), the correct variants on
    every unit check and the training checks their files reach under the smoke profile, and each
    training mutant on its one check under the smoke profile (the cheapest that still shows its
    verdict: see TrainingMutant)."""
    full = ("--budget", "cpu")
    folders: Corpus = {"solution": (copy_solution(root / "solution"), full), "skeleton": (REPO / "assignment", full)}
    for name in variant_names():
        folders[f"variant:{name}"] = (build_variant(name, root / f"variant-{name}"),
                                      ("--budget", "smoke", *only_training_behind(variant_files(name))))
    return folders | training_mutant_corpus(root, "smoke")


def training_mutant_corpus(root: Path, budget: str) -> Corpus:
    """Each training mutant on its one check under `budget`: smoke in the tests, the course's profile after a
    recalibration (`python -m tests.grading --training-mutants cpu`)."""
    return {f"training:{case.key}": (build_mutant(case.mutant, root / f"training-{case.key}"),
                                     ("--budget", budget, "-k", case.check)) for case in TRAINING_MUTANTS}


def grade_all(folders: Corpus, workdir: Path) -> dict[str, Grade]:
    """Every folder of `folders`: `cpu_share()` sequences at once, dealt out longest first."""
    longest_first = sorted(folders, key=lambda name: name != "solution")
    shares = [share for i in range(cpu_share()) if (share := longest_first[i::cpu_share()])]
    with ThreadPoolExecutor(len(shares)) as pool:
        grades = pool.map(lambda share: zip(share, grade_in_sequence([folders[n] for n in share], workdir)), shares)
        by_name = {name: grade for pairs in grades for name, grade in pairs}
    return {name: by_name[name] for name in folders}


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
    parser.add_argument("--in-sequence", type=Path, metavar="PLAN",
                        help="(used by grade_in_sequence) run the pytest sessions a JSON plan lists, one by one")
    parser.add_argument("--training-mutants", metavar="PROFILE",
                        help="grade only the training mutants, each on its check under PROFILE (after a recalibration)")
    args = parser.parse_args(argv)
    if args.in_sequence:
        run_sequence(args.in_sequence)
        return
    if args.benchmark:
        benchmark()
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        corpus = (training_mutant_corpus(root, args.training_mutants) if args.training_mutants
                  else unit_mutant_corpus(root) | trained_corpus(root))
        print(validity_table(grade_all(corpus, root)))


if __name__ == "__main__":
    main()
