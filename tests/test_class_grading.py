"""A class graded in one batch: per-student results, the CSV, the failure summary, resuming, the report.

The class: the solution, the skeleton (zipped), three one-bug mutants, two hostile uploads and
a corrupt zip, graded by `python -m autograder.instructor.grade_class` with two workers and the smoke
profile, then drawn by `python -m autograder.instructor.class_report` and rendered by headless Chromium.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from PIL import Image

from autograder.judge.sandbox import sandbox_python
from autograder.rubric import load_rubric

from .gradescope_layout import scratch_folder_under_tmp
from .grading import GRADING_HANG_BOUND, failed_checks
from .submissions.build import REPO, build_mutant, copy_solution
from .submissions.hostile import HOSTILE
from .submissions.mutants import MUTANTS

FIRST_UID = 64100  # apart from the simulated Gradescope's user
MUTANT_NAMES = ("no_shortcut", "concatenation_missing_input", "se_no_sigmoid")
HOSTILE_NAMES = ("write_results_json", "exit_inside_forward")
UNIT_CHECKS = {c.id for c in load_rubric().values() if c.part != "training"}


@dataclass
class Batch:
    folder: Path
    uploads: Path
    python: str  # the interpreter submission code runs with
    output: str = ""

    def run(self) -> str:
        command = [sys.executable, "-m", "autograder.instructor.grade_class", str(self.uploads), "-o", str(self.folder),
                   "--budget", "smoke", "--workers", "2", "--threads", "1", "--first-uid", str(FIRST_UID),
                   "--sandbox-python", self.python]
        finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=GRADING_HANG_BOUND)
        assert finished.returncode == 0, f"grade_class exited {finished.returncode}:\n{finished.stderr[-4000:]}"
        return finished.stdout + finished.stderr

    def results(self) -> dict[str, dict]:
        return {p.stem: json.loads(p.read_text()) for p in (self.folder / "results").glob("*.json")}


def zip_of(files: dict[str, bytes], target: Path) -> None:
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)


def class_uploads(folder: Path) -> None:
    """One entry per student, in the shapes a Gradescope export or a course folder holds."""
    copy_solution(folder / "solution")
    os.mkfifo(folder / "solution" / "a_fifo")  # copying it would block: the batch must skip it
    zip_of({p.name: p.read_bytes() for p in (REPO / "assignment").glob("*.py")}, folder / "skeleton.zip")
    for name in MUTANT_NAMES:
        build_mutant(next(m for m in MUTANTS if m.name == name), folder / f"mutant_{name}")
    for hostile in (h for h in HOSTILE if h.name in HOSTILE_NAMES):
        (folder / f"hostile_{hostile.name}").mkdir()
        for name, text in hostile.files().items():
            (folder / f"hostile_{hostile.name}" / name).write_text(text)
    (folder / "corrupt.zip").write_bytes(b"PK\x03\x04 this is not a zip")
    (folder / "submission_metadata.yml").write_text("not an upload: Gradescope's export index\n")


@pytest.fixture(scope="module")
def batch() -> Iterator[Batch]:
    with scratch_folder_under_tmp("class-") as root:
        class_uploads(root / "uploads")
        python = sys.executable
        if os.getuid() == 0:  # the sandbox users run submission code: they need an interpreter they can read
            python = sandbox_python(root / "venv", FIRST_UID) or pytest.skip("no interpreter the sandbox users can run")
        graded = Batch(root / "batch", root / "uploads", python)
        graded.output = graded.run()
        yield graded


def test_every_upload_gets_results_and_a_row(batch: Batch) -> None:
    results = batch.results()
    students = {"solution", "skeleton", "corrupt", *(f"mutant_{n}" for n in MUTANT_NAMES),
                *(f"hostile_{n}" for n in HOSTILE_NAMES)}
    assert set(results) == students, batch.output[-3000:]
    rows = {row["student"]: row for row in csv.DictReader(open(batch.folder / "scores.csv"))}
    assert set(rows) == students
    for student, document in results.items():
        assert float(rows[student]["score"]) == document["score"]
        assert float(rows[student]["max_score"]) == 100
        check_columns = {k: float(v) for k, v in rows[student].items() if re.match(r"\d+\.\d+ ", k)}
        assert len(check_columns) == len(load_rubric())
        assert sum(check_columns.values()) == pytest.approx(document["score"])


def test_scores_are_those_of_each_submission(batch: Batch) -> None:
    results = batch.results()
    assert results["solution"]["score"] == 100, failed_checks(results["solution"])
    assert results["skeleton"]["score"] == 0
    assert results["corrupt"]["score"] == 0
    assert "unreadable zip" in results["corrupt"]["output"]
    for name in MUTANT_NAMES:
        mutant = next(m for m in MUTANTS if m.name == name)
        failed = failed_checks(results[f"mutant_{name}"])
        assert mutant.caught_by <= failed, f"{name}: not caught: {sorted(mutant.caught_by - failed)}"
        assert not (failed & UNIT_CHECKS) - mutant.caught_by, f"{name}: collateral {sorted(failed - mutant.caught_by)}"
    assert results["hostile_write_results_json"]["score"] == 0
    crashed = next(h for h in HOSTILE if h.name == "exit_inside_forward")
    assert crashed.loses <= failed_checks(results["hostile_exit_inside_forward"])
    assert 0 < results["hostile_exit_inside_forward"]["score"] < 100


def test_the_failure_summary_counts_who_lost_each_check(batch: Batch) -> None:
    summary = (batch.folder / "failures.md").read_text()
    results = batch.results()
    for check in ("test_basic_block_identity_shortcut", "test_dense_layer_keeps_its_input"):
        lost = sum(check in failed_checks(d) for d in results.values())
        line = next(line for line in summary.splitlines() if f" {check} |" in line)
        assert f"| {lost} / {len(results)} |" in line, line
    assert "NotImplementedError" in summary


def test_an_interrupted_batch_resumes_with_the_missing_students_only(batch: Batch) -> None:
    kept = batch.folder / "results" / "solution.json"
    before = kept.stat().st_mtime_ns
    (batch.folder / "results" / "skeleton.json").unlink()
    output = batch.run()
    assert "8 uploads" in output and "7 already graded, 1 to grade" in output, output[-2000:]
    assert (batch.folder / "results" / "skeleton.json").exists()
    assert kept.stat().st_mtime_ns == before


def test_the_report_is_one_self_contained_page_that_renders(batch: Batch, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    subprocess.run([sys.executable, "-m", "autograder.instructor.class_report", str(batch.folder), "-o", str(report),
                    "--reference", str(batch.folder / "curves" / "solution.json")], cwd=REPO, check=True)
    html = report.read_text()
    images = re.findall(r'<img [^>]*src="([^"]{0,40})', html)
    assert len(images) == 3 and all(src.startswith("data:image/png;base64,") for src in images), images
    assert not re.search(r'(src|href)="(https?:|file:|/)', html), "the page refers to something outside itself"
    for expected in ("Score distribution", "Pass rate per check", "Most common failure messages",
                     "Training curves", "test_basic_block_identity_shortcut", "hostile_write_results_json"):
        assert expected in html
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")
    screenshot = tmp_path / "report.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1200,3000", f"--screenshot={screenshot}", report.as_uri()],
                   capture_output=True, timeout=120, check=True)
    shot = Image.open(io.BytesIO(screenshot.read_bytes())).convert("RGB")
    assert shot.size == (1200, 3000)
    colours = shot.getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 50, "the screenshot is nearly blank: the page did not render"
    top = shot.crop((0, 0, 1200, 600)).convert("L")
    assert top.getextrema()[0] < 64, "no dark text at the top of the page"
