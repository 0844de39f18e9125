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
import signal
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from PIL import Image

from autograder.instructor.batch_progress import BatchProgress
from autograder.instructor.class_results import gradescope_submitters
from autograder.instructor.grade_class import ClassGrading, GradingStopped, grade_class
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


# What Gradescope's "Export Submissions" writes beside the upload folders (Ruby-style symbol keys).
EXPORT_METADATA = """\
solution:
  :submitters:
  - :name: Ada Lovelace
    :sid: '1815'
    :email: ada@example.edu
  :created_at: 2026-11-30 23:58:01.123456789 -08:00
  :score: 100.0
skeleton:
  :submitters:
  - :name: Alan Turing
    :email: alan@example.edu
  - :name: <Grace Hopper>
    :email: grace@example.edu
  :created_at: 2026-11-29 10:00:00.000000000 -08:00
"""


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
    (folder / "submission_metadata.yml").write_text(EXPORT_METADATA)  # Gradescope's export index: not an upload


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
    graded = {s: row for s, row in rows.items() if row["status"] != "autograder error"}
    assert set(graded) >= {"solution", "skeleton"} and all(row["standard"] == "smoke profile, 1 thread"
                                                           for row in graded.values()), rows["solution"]
    assert rows["solution"]["thresholds"].startswith("resnet18_cifar10=0.")
    # --budget smoke departs from the course's standard: every such grading is flagged for a regrade
    assert all(row["status"].startswith("regrade: graded under the smoke profile, 1 thread, not the course's")
               for row in graded.values()), {s: row["status"] for s, row in graded.items()}
    assert f"{len(graded)} not graded in full under the course's standard, to regrade" in batch.output


def test_the_rows_name_who_submitted_each_upload_when_the_export_says(batch: Batch, tmp_path: Path) -> None:
    rows = {row["student"]: row for row in csv.DictReader(open(batch.folder / "scores.csv"))}
    assert (rows["solution"]["name"], rows["solution"]["email"]) == ("Ada Lovelace", "ada@example.edu")
    assert rows["solution"]["submitted"] == "2026-11-30 23:58:01.123456-08:00"
    assert rows["skeleton"]["name"] == "Alan Turing; <Grace Hopper>"
    assert rows["corrupt"]["name"] == "" and float(rows["solution"]["score"]) == 100
    for flag, shown in (([], True), (["--no-names"], False)):
        report = tmp_path / f"report{len(flag)}.html"
        subprocess.run([sys.executable, "-m", "autograder.instructor.class_report", str(batch.folder),
                        "-o", str(report), *flag], cwd=REPO, check=True)
        html = report.read_text()
        assert ("Ada Lovelace" in html, "&lt;Grace Hopper&gt;" in html, "ada@example.edu" in html) == (shown,) * 3
        assert "<Grace Hopper>" not in html and "2026-11-30 23:58:01" in html


def test_an_export_index_that_is_not_laid_out_as_expected_names_no_one(tmp_path: Path) -> None:
    for text in ("not an upload\n", ": : [", "solution: 3\n", "solution:\n  :submitters: nobody\n"):
        (tmp_path / "submission_metadata.yml").write_text(text)
        assert all(not who["name"] for who in gradescope_submitters(tmp_path).values()), text


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
                     "Training curves", "test_basic_block_identity_shortcut", "hostile_write_results_json",
                     "Leaderboard", "resnet18_cifar10 accuracy % (pass: "):
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


class ScriptedGrading(ClassGrading):
    """A batch whose every grading runs `script` instead of run_autograder: the grader's failures, staged."""

    def __init__(self, batch: Path, script: str) -> None:
        super().__init__(batch, as_root=False)
        self.script = script

    def command(self, root: Path, slot: int) -> list[str]:
        return [sys.executable, "-c", self.script, str(root)]


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, or a process gone, does not)."""
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def test_a_broken_grader_stops_the_batch_and_leaves_its_uploads_ungraded(tmp_path: Path) -> None:
    """The grader's installation gone mid-batch: run_autograder fails at once, for everyone alike."""
    uploads = tmp_path / "uploads"
    for student in range(6):
        copy_solution(uploads / f"student{student}")
    grading = ScriptedGrading(tmp_path / "batch", "import sys; sys.exit('No module named autograder')")
    with pytest.raises(SystemExit) as stopped:
        grade_class(uploads, grading, workers=1)
    message = str(stopped.value)
    assert "3 uploads in a row ended in the same autograder error" in message and "run_autograder exited 1" in message
    assert "6 uploads stay ungraded" in message
    assert not list((tmp_path / "batch" / "results").glob("*.json")), "the failed uploads must be graded on resume"


def test_stopping_a_batch_ends_every_process_a_grading_started(tmp_path: Path) -> None:
    """Ctrl-C mid-grading: the judge and the worker run in sessions of their own, and die with the grading."""
    pids = tmp_path / "pids"
    grandchild = ("import subprocess, sys, time\n"
                  "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], start_new_session=True)\n"
                  f"open({str(pids)!r}, 'w').write(str(child.pid))\n"
                  "time.sleep(600)\n")
    grading = ScriptedGrading(tmp_path / "batch", grandchild)
    for folder in ("results", "curves", "logs", "source"):
        (grading.batch / folder).mkdir(parents=True)
    upload = copy_solution(tmp_path / "uploads" / "student")
    outcome: list[BaseException] = []

    def grade_the_upload() -> None:
        try:
            grading.grade("student", upload, 0)
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=grade_the_upload)
    thread.start()
    deadline = time.monotonic() + 60
    while not (pids.exists() and pids.read_text()) and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    child = int(pids.read_text())
    assert alive(child)
    grading.stop()
    thread.join(30)
    assert outcome and isinstance(outcome[0], GradingStopped), "the stopped grading must end without a result"
    assert not grading.result_path("student").exists()
    deadline = time.monotonic() + 10
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(child), "the grading's process in a session of its own survived the stop"


def test_ctrl_c_stops_the_batch_with_a_message_and_leaves_no_process(tmp_path: Path) -> None:
    """Ctrl-C in the instructor's terminal: a sentence saying what stopped and how to resume, not a traceback."""
    pids = tmp_path / "pids"
    sleeper = f"import os, time\nopen({str(pids)!r}, 'w').write(str(os.getpid()))\ntime.sleep(600)\n"
    uploads = tmp_path / "uploads"
    for student in range(3):
        copy_solution(uploads / f"student{student}")
    grading = ScriptedGrading(tmp_path / "batch", sleeper)

    def press_ctrl_c_once_grading() -> None:
        deadline = time.monotonic() + 120
        while not (pids.exists() and pids.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)  # a real signal: it wakes the main thread's wait, as a keypress does

    threading.Thread(target=press_ctrl_c_once_grading, daemon=True).start()
    with pytest.raises(SystemExit) as stopped:
        grade_class(uploads, grading, workers=1)
    assert str(stopped.value) == ("stopped by Ctrl-C: the gradings under way were ended without a result, and 3 of "
                                  "the 3 uploads stay ungraded. Run the same command to resume.")
    assert not alive(int(pids.read_text())), "the grading under way outlived the Ctrl-C"


def test_progress_off_a_terminal_is_a_line_per_finished_upload() -> None:
    written = io.StringIO()
    progress = BatchProgress(3, workers=2, stream=written)
    progress.finished("ada", 100, failed=False)
    progress.finished("alan", 0, failed=True)
    lines = written.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("1/3 graded, 2 running, 0 failed, ") and lines[1].startswith("2/3 graded, 1 running, 1 failed, ")
    assert lines[0].endswith("min left  (ada: 100)") and lines[1].endswith("(alan: autograder error)"), lines
