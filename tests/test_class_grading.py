"""A class graded in one batch: per-student results, the CSV, the failure summary, resuming, the report.

The class: the solution, the skeleton (zipped), two one-bug mutants, two hostile uploads and
a corrupt zip, graded by `python -m autograder.class_grading.grade_class` with two workers and the smoke
profile, then drawn by `python -m autograder.class_grading.class_report` and rendered by headless Chromium.
"""
from __future__ import annotations

import contextlib
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

from autograder.class_grading.batch_progress import BatchProgress
from autograder.class_grading.class_results import gradescope_submitters
from autograder.class_grading.grade_class import grade_class
from autograder.class_grading.upload_grading import ClassGrading, GradingStopped, special_files
from autograder.class_grading.ray_batch import RayBatch, node_facts
from autograder.judge.processes import command_line, process_statuses
from autograder.judge.sandbox import sandbox_python
from autograder.rubric import load_rubric

from .gradescope_layout import scratch_folder_under_tmp
from .grading import GRADING_HANG_BOUND, failed_checks
from .ray_cluster import RayCluster, runs_under
from .submissions.build import REPO, build_mutant, copy_solution
from .submissions.hostile import HOSTILE
from .submissions.mutants import MUTANTS

FIRST_UID = 64100  # apart from the simulated Gradescope's user
# The two whose checks the failure summary's test counts; every mutant's own verdicts are test_validity's.
MUTANT_NAMES = ("no_shortcut", "concatenation_missing_input")
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

    def command(self, *options: str) -> list[str]:
        return [sys.executable, "-m", "autograder.class_grading.grade_class", str(self.uploads), "-o", str(self.folder),
                "--budget", "smoke", "--workers", "2", "--threads", "1", "--first-uid", str(FIRST_UID),
                "--sandbox-python", self.python, *options]

    def run(self, *options: str) -> str:
        finished = subprocess.run(self.command(*options), cwd=REPO, capture_output=True, text=True,
                                  timeout=GRADING_HANG_BOUND)
        assert finished.returncode == 0, f"grade_class exited {finished.returncode}:\n{finished.stderr[-4000:]}"
        return finished.stdout + finished.stderr

    def graded_once_each(self, output: str) -> list[str]:
        """The students the progress lines of `output` say were graded, each as often as it says so."""
        return sorted(re.findall(r"^\d+/\d+ graded, .*\((\S+): [^)]*\)$", output, re.M))

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
        subprocess.run([sys.executable, "-m", "autograder.class_grading.class_report", str(batch.folder),
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
    assert "7 uploads" in output and "6 already graded, 1 to grade" in output, output[-2000:]
    assert (batch.folder / "results" / "skeleton.json").exists()
    assert kept.stat().st_mtime_ns == before


def test_the_report_is_one_self_contained_page_that_renders(batch: Batch, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    subprocess.run([sys.executable, "-m", "autograder.class_grading.class_report", str(batch.folder), "-o", str(report),
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
    stopped_in_time = threading.Event()

    def press_ctrl_c_once_grading() -> None:
        deadline = time.monotonic() + 120
        while not (pids.exists() and pids.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)  # a real signal: it wakes the main thread's wait, as a keypress does
        if not stopped_in_time.wait(30):  # not delivered after all: end the sleepers, so the test fails in seconds
            while not stopped_in_time.wait(0.2):
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pids.read_text()), signal.SIGKILL)

    # Launched in the background without job control (nohup, `cmd &` in a script), a process starts with SIGINT
    # ignored, and Python then raises no KeyboardInterrupt: a terminal's Ctrl-C is what this test stands for.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    threading.Thread(target=press_ctrl_c_once_grading, daemon=True).start()
    try:
        with pytest.raises(SystemExit) as stopped:
            grade_class(uploads, grading, workers=1)
    finally:
        stopped_in_time.set()
        signal.signal(signal.SIGINT, previous)
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


# Ray: the same batch on a two-node cluster on this machine (`pytest -k ray`). Last in this file: the
# last test ends one of the nodes.
RAY_FIRST_UID = 64200  # apart from the local batch's users
# One upload that trains (the solution: its accuracies must match the local batch's to the digit), and one of each
# other kind of ending: every check failed, a hostile upload, a broken archive. A second training upload would cost
# CI a minute of CPU and show nothing more.
RAY_UPLOADS = ("solution", "skeleton.zip", "hostile_write_results_json", "corrupt.zip")


def copy_uploads(source: Path, names: tuple[str, ...], target: Path) -> Path:
    for name in names:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name, ignore=special_files)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(source / name, target / name)
    return target


def grading_processes(first_uid: int) -> list[int]:
    """run_autograder processes of the batch, and processes of its sandbox users, still running."""
    left = []
    for pid, status in process_statuses().items():
        command = command_line(pid)
        if command is None:
            continue
        uid, joined = int(status.get("Uid", "0").split()[0]), b" ".join(command)
        if first_uid <= uid < first_uid + 16 or (b"run_autograder" in joined and str(first_uid).encode() in joined):
            left.append(pid)
    return left


def test_ray_grades_a_batch_as_the_local_path_does(batch: Batch, ray_cluster: RayCluster, tmp_path: Path) -> None:
    uploads = copy_uploads(batch.uploads, RAY_UPLOADS, tmp_path / "uploads")
    on_ray = Batch(tmp_path / "batch", uploads, batch.python)
    output = on_ray.run("--ray", ray_cluster.address, "--first-uid", str(RAY_FIRST_UID))
    students = sorted(Path(name).stem for name in RAY_UPLOADS)
    assert on_ray.graded_once_each(output) == students, output[-3000:]
    local, remote = batch.results(), on_ray.results()
    for student in students:
        assert [(t["name"], t["score"], t["status"]) for t in remote[student]["tests"]] == [
            (t["name"], t["score"], t["status"]) for t in local[student]["tests"]], student
        assert remote[student].get("leaderboard") == local[student].get("leaderboard"), student
        assert (on_ray.folder / "logs" / f"{student}.log").stat().st_size > 0
    # Each task reserved one CPU: its grading trained on one, not on every CPU of the node.
    assert "training checks: one at a time" in (on_ray.folder / "logs" / "solution.log").read_text()
    assert (on_ray.folder / "curves" / "solution.json").exists()
    rows = {row["student"]: row for row in csv.DictReader(open(on_ray.folder / "scores.csv"))}
    local_rows = {row["student"]: row for row in csv.DictReader(open(batch.folder / "scores.csv"))}
    same = [column for column in rows["solution"] if column not in ("name", "email", "submitted")]
    assert {s: [rows[s][c] for c in same] for s in students} == {s: [local_rows[s][c] for c in same] for s in students}
    assert "4 already graded, 0 to grade" in on_ray.run("--ray", ray_cluster.address), "the same command resumes"
    assert_no_grading_left()


def test_ray_gives_a_gpu_profile_grading_the_node_with_a_gpu(ray_cluster: RayCluster, tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    grading = ClassGrading(tmp_path / "batch", budget="gpu", threads=1)
    batch = RayBatch(ray_cluster.address, grading)
    try:
        options = batch.task_options()
        assert options["num_gpus"] == 1 and options["num_cpus"] == 1, options
        facts = ray.get(ray.remote(node_facts).options(**options).remote(), timeout=120)
        gpu_nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get("GPU")]
        assert (facts["node"], facts["gpus"]) == (gpu_nodes[0], [0]), facts
    finally:
        batch.close()


def skeleton_uploads(batch: Batch, folder: Path, count: int) -> Path:
    folder.mkdir()
    for student in range(count):
        shutil.copy(batch.uploads / "skeleton.zip", folder / f"student{student}.zip")
    return folder


def start_ray_driver(batch: Batch, cluster: RayCluster, uploads: Path, folder: Path) -> tuple[Batch, subprocess.Popen]:
    """grade_class --ray on `uploads`, running; once a grading runs under the second node's raylet."""
    on_ray = Batch(folder, uploads, batch.python)
    # SIGINT at its default in the driver, whatever this test's launcher ignores: the Ctrl-C test sends it one.
    driver = subprocess.Popen(on_ray.command("--ray", cluster.address, "--first-uid", str(RAY_FIRST_UID)), cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    raylet, deadline = cluster.nodes[1].raylet(), time.monotonic() + 300
    while not runs_under(raylet, b"run_autograder") and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    if not runs_under(raylet, b"run_autograder"):
        driver.kill()
        pytest.fail(f"no grading ran on the second node:\n{driver.communicate()[0][-3000:]}")
    return on_ray, driver


def catches(pid: int, signum: int) -> bool:
    """Whether process `pid` has a handler of its own for `signum` (/proc's SigCgt mask)."""
    mask = process_statuses().get(pid, {}).get("SigCgt", "0").strip()
    return bool(int(mask, 16) >> (signum - 1) & 1)


def assert_no_grading_left() -> None:
    deadline = time.monotonic() + 30
    while grading_processes(RAY_FIRST_UID) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert grading_processes(RAY_FIRST_UID) == [], "a grading outlived its batch"


def test_ray_ctrl_c_cancels_every_task_and_says_how_to_resume(batch: Batch, ray_cluster: RayCluster,
                                                              tmp_path: Path) -> None:
    uploads = skeleton_uploads(batch, tmp_path / "uploads", 3)
    on_ray, driver = start_ray_driver(batch, ray_cluster, uploads, tmp_path / "batch")
    if not catches(driver.pid, signal.SIGINT):
        driver.kill()
        pytest.fail(f"the driver does not catch SIGINT (its status: {process_statuses().get(driver.pid)}): "
                    "Ctrl-C cannot be tested")
    driver.send_signal(signal.SIGINT)
    output, _ = driver.communicate(timeout=180)
    assert driver.returncode == 1 and "stopped by Ctrl-C" in output and "Run the same command to resume" in output, (
        output[-3000:])
    assert "Traceback" not in output, output[-3000:]
    assert_no_grading_left()


def test_ray_grades_the_uploads_of_a_lost_node_once_each(batch: Batch, ray_cluster: RayCluster,
                                                         tmp_path: Path) -> None:
    """The second node's raylet killed while it grades: its upload is graded again on the head, once."""
    uploads = skeleton_uploads(batch, tmp_path / "uploads", 3)
    on_ray, driver = start_ray_driver(batch, ray_cluster, uploads, tmp_path / "batch")
    try:
        os.kill(ray_cluster.nodes[1].raylet(), signal.SIGKILL)
        output, _ = driver.communicate(timeout=GRADING_HANG_BOUND)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    assert driver.returncode == 0, output[-4000:]
    assert on_ray.graded_once_each(output) == ["student0", "student1", "student2"], output[-3000:]
    assert all(document["score"] == 0 and len(document["tests"]) == len(load_rubric())
               for document in on_ray.results().values())
    assert_no_grading_left()
