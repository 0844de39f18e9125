"""One upload of a class graded as Gradescope grades it: `run_autograder` in a root of its own, with the grader
installed once in the batch folder; its results stored the moment it ends. The local batch (`grade_class`) and
the Ray batch (`ray_batch`) both grade each upload through `ClassGrading.grade`.
"""
from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from data_scripts.subsets import ROOT_VARIABLE, dataset_root

from ..gradescope.run_autograder import Layout, every_check_failed, judge_results
from ..instructor.distribute import gradescope_entries, unpack, write_zip
from ..judge.processes import die_with_parent
from ..judge.results import write_atomically
from ..judge.sandbox import kill_process_tree, kill_processes_of, remove_tree

FIRST_UID = 64000  # as root, parallel slot i runs submission code as user id first_uid + i
GRACE_SECONDS = 300  # beyond --time-limit, for run_autograder's own setup and cleanup


class GradingStopped(Exception):
    """The batch was stopped while this upload was being graded: it stays ungraded."""


def cpu_sets(slots: int) -> list[set[int]]:
    """This process's CPUs dealt out to `slots` gradings, each a share of its own (the last takes what is left
    over): each grading runs as many training checks side by side as its share holds, and none steals another's
    cores. With fewer CPUs than slots, or where affinity cannot be set, none: every grading may use every CPU."""
    if not hasattr(os, "sched_getaffinity"):
        return []
    available = sorted(os.sched_getaffinity(0))
    share = len(available) // slots
    if share == 0:
        return []
    return [set(available[i * share:(i + 1) * share if i < slots - 1 else None]) for i in range(slots)]


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
    # At most this many training checks side by side in each grading (None: as its CPUs allow). A Ray task sets 1:
    # it reserves one training worker's CPUs, and its grading would otherwise train on every CPU of the node.
    training_slots: int | None = None
    as_root: bool = field(default_factory=lambda: os.getuid() == 0)
    running: dict[subprocess.Popen, int] = field(default_factory=dict)  # gradings under way, by slot
    cpu_sets: list[set[int]] = field(default_factory=list)  # slot i grades on cpu_sets[i] (empty: on every CPU)
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
        if self.training_slots:
            command += ["--training-slots", str(self.training_slots)]
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
            cpus = self.cpu_sets[slot] if slot < len(self.cpu_sets) else None

            def start_in_slot() -> None:
                die_with_parent()
                if cpus:  # the grading sizes its training workers by the CPUs it may use
                    os.sched_setaffinity(0, cpus)

            process = subprocess.Popen(self.command(layout.root, slot), cwd=self.source, env=environment,
                                       stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
                                       preexec_fn=start_in_slot)
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
