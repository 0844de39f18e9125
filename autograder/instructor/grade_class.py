"""Grade a whole class: every upload in a folder, in parallel, resumable, one broken upload at a time.

    python -m autograder.instructor.grade_class SUBMISSIONS -o BATCH [--workers 2] [--budget cpu]

Each subfolder or .zip of SUBMISSIONS is one student's upload, named by it (a Gradescope
"Export Submissions" folder works as it is: one `submission_<id>/` per upload). Each is graded
exactly as Gradescope grades it: `run_autograder` in a Gradescope-like root of its own
(BATCH/work/<student>), with the grader installed once from the autograder.zip this
repository builds (BATCH/source). What lands in BATCH:

    results/<student>.json   its results.json, written the moment its grading ends
    curves/<student>.json    its training curves
    logs/<student>.log       the grader's output (what Gradescope shows instructors)
    scores.csv               one row per student: total and the points of every check
    failures.md              per check: how many lost it, and the most common messages

Running the same command again grades only the students without a results file, so an
interrupted batch continues where it stopped. A crash, hang or attack in one upload fails
that upload's checks (run_autograder's results are valid in every case; a grading that
outlives its time limit is killed and reported) and the batch goes on. The grader's own
failure does not: after `FAILURES_IN_A_ROW` uploads in a row end in the same "autograder
error", the batch stops and says why, and those uploads stay ungraded for the resume. Ctrl-C
stops it the same way and says how many stay ungraded; either way every process a grading started
is killed (its whole tree, and as root whatever its sandbox user still runs). Progress goes to
stderr (`batch_progress`): a bar on a terminal, a line per finished upload otherwise.

Beyond one machine: `--ray ADDRESS` grades each upload as a task of a Ray cluster (`ray_batch`), into
the same BATCH, with the same resume.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import re
import shutil
import stat
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from data_scripts.subsets import ROOT_VARIABLE, dataset_root

from ..gradescope.run_autograder import Layout, every_check_failed, judge_results
from ..judge.processes import die_with_parent
from ..judge.results import write_atomically
from ..judge.sandbox import kill_process_tree, kill_processes_of, remove_tree, runs_python
from ..training_profiles import profile_names
from .batch_progress import BatchProgress
from .class_results import SUBMITTERS_FILE, ClassResults, gradescope_submitters
from .distribute import gradescope_entries, unpack, write_zip

if TYPE_CHECKING:
    from .ray_batch import RayBatch

FIRST_UID = 64000  # as root, parallel slot i runs submission code as user id first_uid + i
GRACE_SECONDS = 300  # beyond --time-limit, for run_autograder's own setup and cleanup
FAILURES_IN_A_ROW = 3  # uploads in a row with the same autograder error: the grader is broken, not they


class GradingStopped(Exception):
    """The batch was stopped while this upload was being graded: it stays ungraded."""


class BatchBroken(Exception):
    """Uploads in a row ended in the same autograder error: the grader is broken."""

    def __init__(self, failure: str) -> None:
        super().__init__(failure)
        self.failure = failure




def student_name(upload: str) -> str:
    """The name a batch files an upload (a folder, or a zip without .zip) under."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", upload.removesuffix(".zip"))


def uploads_in(folder: Path) -> dict[str, Path]:
    """Student name -> upload (a folder or a zip), for every entry of `folder`."""
    uploads: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not (path.is_dir() or path.suffix == ".zip"):
            continue  # Gradescope's submission_metadata.yml, a .DS_Store
        student = student_name(path.name)
        if student in uploads:
            raise ValueError(f"two uploads are named {student!r}: {uploads[student].name} and {path.name}")
        uploads[student] = path
    return uploads


def special_files(folder: str, names: list[str]) -> list[str]:
    """Names in `folder` that are neither files, folders nor links (a FIFO would block the copy)."""
    kinds = (stat.S_ISREG, stat.S_ISDIR, stat.S_ISLNK)
    return [n for n in names if not any(kind(os.lstat(os.path.join(folder, n)).st_mode) for kind in kinds)]


def install_grader(source: Path) -> None:
    """Install the grader in `source` as Gradescope does: autograder.zip unpacked, the data prepared."""
    remove_tree(source)
    archive = source.with_suffix(".zip")
    write_zip(gradescope_entries(), archive)
    unpack(archive, source)
    shutil.copytree(dataset_root(), source / "data_scripts" / "prepared")


@dataclass
class ClassGrading:
    """One batch folder and the options every upload in it is graded with."""

    batch: Path
    budget: str | None = None
    time_limit: float = 1800
    threads: int | None = None
    sandbox_python: str = sys.executable
    first_uid: int = FIRST_UID
    as_root: bool = field(default_factory=lambda: os.getuid() == 0)
    running: dict[subprocess.Popen, int] = field(default_factory=dict)  # gradings under way, by slot
    stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def source(self) -> Path:
        return self.batch / "source"

    def result_path(self, student: str) -> Path:
        return self.batch / "results" / f"{student}.json"

    def command(self, root: Path, slot: int) -> list[str]:
        command = [sys.executable, "-m", "autograder.gradescope.run_autograder", "--root", str(root),
                   "--time-limit", str(self.time_limit), "--sandbox-python", self.sandbox_python]
        if self.budget:
            command += ["--budget", self.budget]
        if self.threads:
            command += ["--threads", str(self.threads)]
        if self.as_root:  # each parallel slot has a user of its own: sweeping one's strays spares the others
            command += ["--user", str(self.first_uid + slot)]
        return command

    def grade(self, student: str, upload: Path, slot: int) -> dict:
        """Grade one upload through run_autograder; store and return its results document."""
        layout = Layout(self.batch / "work" / student)
        remove_tree(layout.root)
        layout.submission.mkdir(parents=True)
        if upload.is_dir():
            shutil.copytree(upload, layout.submission, symlinks=True, dirs_exist_ok=True, ignore=special_files)
        else:
            shutil.copy(upload, layout.submission / upload.name)
        log = self.batch / "logs" / f"{student}.log"
        environment = {k: v for k, v in os.environ.items() if k != ROOT_VARIABLE}  # the data is source's copy
        with open(log, "wb") as output:
            process = subprocess.Popen(self.command(layout.root, slot), cwd=self.source, env=environment,
                                       stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
                                       preexec_fn=die_with_parent)
            self.running[process] = slot
            try:
                reason = self.wait(process, slot)
            except BaseException:  # a cancelled Ray task, an interrupt: this grading ends with it
                self.kill(process, slot)
                raise
            finally:
                self.running.pop(process, None)
        if self.stopped.is_set():
            remove_tree(layout.root)
            raise GradingStopped(student)
        document = judge_results(layout.results, reason)
        if layout.curves.exists():
            shutil.copy(layout.curves, self.batch / "curves" / f"{student}.json")
        write_atomically(self.result_path(student), document)  # last: its presence means "done"
        remove_tree(layout.root)
        return document

    def wait(self, process: subprocess.Popen, slot: int) -> str | None:
        """Wait for one grading; why it failed, or None. In short sleeps, so that an exception raised in this
        thread (Ray's cancel) arrives at once."""
        deadline = time.monotonic() + self.time_limit + GRACE_SECONDS
        while process.poll() is None:
            if time.monotonic() > deadline:
                self.kill(process, slot)
                return f"grading did not finish within {self.time_limit + GRACE_SECONDS:.0f} s"
            time.sleep(0.2)
        return None if process.returncode == 0 else f"run_autograder exited {process.returncode}"

    def kill(self, process: subprocess.Popen, slot: int) -> None:
        """End one grading: run_autograder, the judge and the worker are each in a session of their
        own, so the whole process tree goes, then whatever the slot's sandbox user still runs."""
        kill_process_tree(process.pid)
        process.wait()
        if self.as_root:
            kill_processes_of(self.first_uid + slot)

    def stop(self) -> None:
        """Stop the batch: the gradings under way end without a result."""
        self.stopped.set()
        for process, slot in list(self.running.items()):
            self.kill(process, slot)


def forget_failures(grading: ClassGrading, students: dict[str, Path], failure: str) -> int:
    """Delete the stored results of `students` that record `failure`, so that a resume grades them again;
    how many of `students` are ungraded now."""
    ungraded = 0
    for student in students:
        path = grading.result_path(student)
        if path.exists() and ClassResults.error(json.loads(path.read_text())) == failure:
            path.unlink()
        ungraded += not path.exists()
    return ungraded


def grade_or_explain(grading: ClassGrading, student: str, upload: Path, slot: int) -> dict:
    """`grading.grade`, or for an upload that cannot even be copied, a stored results document saying so."""
    try:
        return grading.grade(student, upload, slot)
    except GradingStopped:
        raise
    except Exception as error:  # recorded, and the batch goes on
        document = every_check_failed(f"the upload could not be prepared ({type(error).__name__}: {error})")
        write_atomically(grading.result_path(student), document)
        return document


class LocalBatch:
    """Uploads graded on this machine, `workers` at a time, each slot with a sandbox user of its own."""

    def __init__(self, grading: ClassGrading, workers: int) -> None:
        self.grading, self.parallel = grading, workers
        self.executor = ThreadPoolExecutor(max_workers=workers)
        self.slots: queue.Queue[int] = queue.Queue()
        for slot in range(workers):
            self.slots.put(slot)

    def grade(self, pending: dict[str, Path]) -> Iterator[tuple[str, dict]]:
        """Grade every upload of `pending`; yield (student, results document) as each is stored."""
        futures = {self.executor.submit(self.in_a_slot, student, upload): student for student, upload in pending.items()}
        for future in as_completed(futures):
            yield futures[future], future.result()

    def in_a_slot(self, student: str, upload: Path) -> dict:
        slot = self.slots.get()
        try:
            return grade_or_explain(self.grading, student, upload, slot)
        finally:
            self.slots.put(slot)

    def stop(self) -> None:
        """End the gradings under way without a result, and start no other."""
        self.executor.shutdown(cancel_futures=True, wait=False)
        self.grading.stop()

    def close(self) -> None:
        self.executor.shutdown()


def grade_pending(batch: LocalBatch | RayBatch, grading: ClassGrading, pending: dict[str, Path], uploads: int) -> None:
    """Grade `pending` through `batch` (a LocalBatch or a RayBatch), saying how far it is; stop it on Ctrl-C
    or when the grader is broken, saying what stays ungraded."""
    progress = BatchProgress(len(pending), batch.parallel)
    streak, last_failure = 0, None  # uploads in a row (as they finish) that ended in the same grader failure
    try:
        for student, document in batch.grade(pending):
            failure = ClassResults.error(document)
            progress.finished(student, document["score"], failed=failure is not None)
            streak = streak + 1 if failure is not None and failure == last_failure else int(failure is not None)
            last_failure = failure
            if streak >= FAILURES_IN_A_ROW:
                raise BatchBroken(failure)
    except BaseException as error:  # Ctrl-C, or the grader broken: stop the gradings under way
        batch.stop()
        progress.close()
        if isinstance(error, BatchBroken):
            ungraded = forget_failures(grading, pending, error.failure)
            raise SystemExit(f"stopped: {FAILURES_IN_A_ROW} uploads in a row ended in the same autograder error, "
                             f"the grader's failure, not theirs:\n  {error.failure}\n{ungraded} uploads stay "
                             "ungraded: fix the grader (see logs/), then run the same command to resume") from None
        if isinstance(error, KeyboardInterrupt):
            ungraded = sum(not grading.result_path(student).exists() for student in pending)
            raise SystemExit(f"stopped by Ctrl-C: the gradings under way were ended without a result, and "
                             f"{ungraded} of the {uploads} uploads stay ungraded. Run the same command to "
                             "resume.") from None
        raise
    finally:
        batch.close()
    progress.close()


def grade_class(submissions: Path, grading: ClassGrading, workers: int, ray: str | None = None,
                unsandboxed: bool = False) -> ClassResults:
    """Grade every upload of `submissions` without a stored result: `workers` at a time here, or as tasks of
    the Ray cluster at `ray` (`unsandboxed`: on nodes that run tasks without root too)."""
    uploads = uploads_in(submissions)
    for folder in ("results", "curves", "logs"):
        (grading.batch / folder).mkdir(parents=True, exist_ok=True)
    submitters = {student_name(folder): who for folder, who in gradescope_submitters(submissions).items()}
    if submitters:  # the export names who submitted what: scores.csv and the report will say so
        write_atomically(grading.batch / SUBMITTERS_FILE, submitters)
    pending = {s: u for s, u in uploads.items() if not grading.result_path(s).exists()}
    where = f"on the Ray cluster at {ray}" if ray else f"with {workers} worker(s)"
    print(f"{len(uploads)} uploads in {submissions}: {len(uploads) - len(pending)} already graded, "
          f"{len(pending)} to grade {where}", flush=True)
    if pending:
        install_grader(grading.source)
        if not ray and grading.as_root and not runs_python(grading.sandbox_python, grading.first_uid):
            raise SystemExit(f"user id {grading.first_uid} cannot run {grading.sandbox_python} with torch: pass "
                             "--sandbox-python with an interpreter every user can read")
        if ray:
            from .ray_batch import RayBatch  # here: it builds on this module, and Ray is an optional extra
            grade_pending(RayBatch(ray, grading, unsandboxed), grading, pending, len(uploads))
        else:
            grade_pending(LocalBatch(grading, workers), grading, pending, len(uploads))
    graded = ClassResults.load(grading.batch, students=uploads)
    graded.write_scores_csv(grading.batch / "scores.csv")
    (grading.batch / "failures.md").write_text(graded.failures_markdown())
    return graded


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submissions", type=Path, help="folder with one subfolder or zip per student")
    parser.add_argument("-o", "--out", type=Path, required=True, help="batch folder (reuse it to resume)")
    parser.add_argument("--workers", type=int, default=1, help="uploads graded at once (default 1)")
    parser.add_argument("--budget", default=None, choices=profile_names(),
                        help="training profile (default: the course's standard, rubric.toml's `profile`)")
    parser.add_argument("--time-limit", type=float, default=1800,
                        help="seconds per upload (default: 1800; Gradescope's own default timeout is 600)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads per grading (default: the course's standard, rubric.toml's "
                             "`training_threads`; give as many --workers as the cores hold)")
    parser.add_argument("--ray", metavar="ADDRESS", default=None,
                        help="grade on the Ray cluster at ADDRESS (`auto`: the one this machine belongs to), one "
                             "task per upload, instead of --workers here (pip install -e '.[cluster]')")
    parser.add_argument("--unsandboxed", action="store_true",
                        help="with --ray: also grade on nodes that run tasks without root, where submission code "
                             "runs unsandboxed (trusted uploads only)")
    parser.add_argument("--sandbox-python", default=sys.executable,
                        help="as root: the interpreter the sandbox users run (they must be able to read it)")
    parser.add_argument("--first-uid", type=int, default=FIRST_UID,
                        help="as root: worker i runs submission code as this user id + i (ids no one else uses)")
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        parser.error(f"{args.submissions} is not a folder of uploads")
    grading = ClassGrading(args.out.resolve(), args.budget, args.time_limit, args.threads, args.sandbox_python,
                           args.first_uid)
    graded = grade_class(args.submissions.resolve(), grading, max(1, args.workers), args.ray, args.unsandboxed)
    scores = sorted(graded.scores().values())
    if scores:
        print(f"{len(scores)} graded: median {scores[len(scores) // 2]:g}, lowest {scores[0]:g}, "
              f"highest {scores[-1]:g} of {graded.max_score:g}")
    regrades = graded.to_regrade()
    if regrades:
        print(f"{len(regrades)} not graded in full under the course's standard, to regrade (failures.md lists "
              f"why): {', '.join(regrades)}")
    print(f"wrote {args.out / 'scores.csv'} and {args.out / 'failures.md'}")


if __name__ == "__main__":
    main()
