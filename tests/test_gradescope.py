"""Gradescope end to end: uploads graded through run_autograder in a stand-in /autograder."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.gradescope.run_autograder import unlisted_checks
from autograder.gradescope.uploads import STUDENT_FILES
from autograder.benchmarks.container import Container
from autograder.judge.results import results_problems
from autograder.rubric import load_rubric

from .gradescope_layout import Graded, SimulatedGradescope

REPO = Path(__file__).resolve().parent.parent


def solution_files(*names: str) -> dict[str, str]:
    return {name: (REPO / "solutions" / name).read_text() for name in names or STUDENT_FILES}


def assert_complete_and_valid(graded: Graded) -> None:
    assert results_problems(graded.results) == []
    missing = unlisted_checks(graded.results)
    assert not missing, f"checks missing from results.json: {missing}"


def failed_parts(graded: Graded) -> set[str]:
    rubric = load_rubric()
    return {rubric[check].part for check in graded.failed}


def test_the_same_upload_gets_the_same_results_on_one_cpu_and_on_two_beside_a_busy_loop(
        gradescope: SimulatedGradescope) -> None:
    """Neither the standard nor the arithmetic follows the machine: graded on one CPU (its training checks one at a
    time) and again on two beside a process that keeps one core busy (two training checks side by side), the
    solution gets identical scores and identical training accuracies."""
    assert len(os.sched_getaffinity(0)) >= 2, "this test compares one CPU with two: it needs a machine with two"
    alone = gradescope.grade(solution_files(), cpus={min(os.sched_getaffinity(0))})
    assert_complete_and_valid(alone)
    assert alone.results["score"] == 100, [t for t in alone.results["tests"] if t["status"] == "failed"]
    assert "Graded your resnet.py (from resnet.py)" in alone.results["output"]
    assert "training checks: one at a time" in alone.stdout, alone.stdout[-3000:]
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        loaded = gradescope.grade(solution_files())
    finally:
        busy.kill()
        busy.wait()
    assert "training checks: 2 side by side" in loaded.stdout, loaded.stdout[-3000:]
    assert alone.results["score"] == loaded.results["score"] == 100
    assert [(t["number"], t["score"]) for t in alone.results["tests"]] == [
        (t["number"], t["score"]) for t in loaded.results["tests"]]
    assert alone.results["leaderboard"] == loaded.results["leaderboard"], (
        "the training accuracies moved with the CPUs or the load")
    assert alone.results["extra_data"]["standard"] == loaded.results["extra_data"]["standard"]


def test_the_skeleton_scores_zero_with_every_check_listed(gradescope: SimulatedGradescope) -> None:
    graded = gradescope.grade({name: (REPO / "assignment" / name).read_text() for name in STUDENT_FILES})
    assert_complete_and_valid(graded)
    assert graded.results["score"] == 0
    other_reasons = [t["name"] for t in graded.results["tests"] if "is yours to write" not in t["output"]]
    assert not other_reasons, f"skeleton checks that did not report the NotImplementedError: {other_reasons}"


def test_a_zipped_partial_upload_with_junk_grades_what_is_there(gradescope: SimulatedGradescope) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for name, text in solution_files("resnet.py", "train.py").items():
            zipped.writestr(f"lab/{name}", text)
        zipped.writestr("lab/conftest.py", "import sys; sys.exit(3)\n")
        zipped.writestr("lab/__MACOSX/._resnet.py", "junk")
    upload = {"submission.zip": archive.getvalue(), "torch.py": "raise SystemExit\n",
              "sitecustomize.py": "raise SystemExit\n", "checkpoint.pth": b"\0" * 4096,
              "notes/baseline.py": "class LeNet5: pass\n"}
    graded = gradescope.grade(upload)
    assert_complete_and_valid(graded)
    assert failed_parts(graded) == {"densenet.py", "mobilenet.py", "senet.py", "training"}
    assert not graded.failed & {"test_train_resnet18_cifar10", "test_train_student_loop_cifar10"}
    report = graded.results["output"]
    assert "Graded your resnet.py (from submission.zip:lab/resnet.py)" in report
    for ignored in ("torch.py", "sitecustomize.py", "checkpoint.pth", "notes/baseline.py", "lab/conftest.py"):
        assert ignored in report, f"{ignored} is not reported as ignored"
    assert "graded as the unmodified skeleton: densenet.py, mobilenet.py, senet.py" in report


def test_a_grader_failure_still_writes_valid_results_with_the_reason(gradescope: SimulatedGradescope) -> None:
    graded = gradescope.grade(solution_files(), "--time-limit", "3", "--budget", "smoke")  # no container check
    assert_complete_and_valid(graded)
    assert graded.results["score"] == 0
    error = next(t for t in graded.results["tests"] if t["name"] == "autograder error")
    assert error["visibility"] == "visible" and "did not finish within 3 s" in error["output"]


@pytest.mark.skipif(not Container.possible(), reason="needs root and a writable cgroup v1 to make a container")
def test_a_container_too_small_to_grade_says_so_instead_of_failing_everyone(gradescope: SimulatedGradescope) -> None:
    """Gradescope's default container (0.5 CPU, 768 MB) cannot hold the grading: the reference solution
    would score 0. Without --budget the grader sees that first and writes a visible autograder error."""
    container = Container(f"cnnlab-test-{gradescope.root.name}", cpus=0.5, memory_bytes=768 * 2**20)
    try:
        graded = gradescope.grade(solution_files(), inside=container)
    finally:
        container.remove()
    assert_complete_and_valid(graded)
    error = next(t for t in graded.results["tests"] if t["name"] == "autograder error")
    assert error["visibility"] == "visible" and "raise the memory to at least" in error["output"], error["output"]
    assert "0.75 GiB memory" in graded.stdout, "the instructor's log does not show the container it found"
