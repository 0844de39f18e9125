"""A stand-in for Gradescope's /autograder: grade an upload end to end through run_autograder.

The layout is built once per test session in a fresh folder under /tmp (pytest's own
temporary folders are closed to other users): source/ holds autograder.zip unpacked, as
Gradescope leaves it, plus a copy of the prepared data standing in for setup.sh's last step. Each grading replaces
submission/, results/ and grading/, then runs `autograder/gradescope/run_autograder`.

The course this stand-in serves names the smoke profile as its standard (its rubric.toml says
`profile = "smoke"`, as an instructor would write it), so each grading trains for a minute, not
five; every grading is asserted to have applied that standard, and nothing else.

Run as root, as Gradescope does, the submission code runs as user id SANDBOX_UID, with an
interpreter that user can run (`autograder.judge.sandbox.sandbox_python`).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from autograder.benchmarks.container import Container
from autograder.instructor.distribute import gradescope_entries, unpack, write_zip
from autograder.judge.sandbox import kill_process_tree, kill_processes_of, sandbox_python
from data_scripts.subsets import dataset_root

from .grading import GRADING_HANG_BOUND, failed_checks

REPO = Path(__file__).resolve().parent.parent
# Each pytest-xdist worker (gw0, gw1, ...) has a sandbox user of its own: a sweep of one never
# kills another's processes, and their process limits are counted apart.
SANDBOX_UID = 64000 + int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
COURSE_PROFILE = "smoke"


def with_the_tests_profile(rubric: str) -> str:
    """rubric.toml's text with COURSE_PROFILE as the course's standard: what every test grading applies."""
    return re.sub(r'^profile = ".*"$', f'profile = "{COURSE_PROFILE}"', rubric, flags=re.M)


@dataclass
class Graded:
    results: dict
    stdout: str
    seconds: float

    @property
    def failed(self) -> set[str]:
        return failed_checks(self.results)


def folder_under_tmp(prefix: str) -> Path:
    """A fresh folder under /tmp that the sandbox users may pass through (pytest's own are closed to them)."""
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    root.chmod(0o711)
    return root


@contextmanager
def scratch_folder_under_tmp(prefix: str) -> Iterator[Path]:
    """`folder_under_tmp`, removed with all it holds afterwards."""
    root = folder_under_tmp(prefix)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


class SimulatedGradescope:
    def __init__(self) -> None:
        self.root = folder_under_tmp("autograder-")
        source = self.root / "source"
        write_zip(gradescope_entries(), self.root / "autograder.zip")
        unpack(self.root / "autograder.zip", source)
        rubric = source / "autograder" / "rubric.toml"
        rubric.write_text(with_the_tests_profile(rubric.read_text()))
        shutil.copytree(dataset_root(), source / "data_scripts" / "prepared")
        # What Gradescope leaves beside the upload (world-readable there): the student's record.
        (self.root / "submission_metadata.json").write_text('{"users": [{"email": "student@example.edu"}]}')
        self.as_root = os.getuid() == 0
        self.python = sys.executable
        self.uid: int | None = None
        if self.as_root:
            python = sandbox_python(self.root / "venv", SANDBOX_UID)
            if python is not None:
                self.python, self.uid = python, SANDBOX_UID

    def grade(self, upload: dict[str, str | bytes] | Path, *options: str, inside: Container | None = None,
              cpus: set[int] | None = None) -> Graded:
        """Put `upload` (file name -> content, or a folder to copy) in submission/ and run run_autograder,
        `inside` a container of limited CPUs and memory if given, on the CPUs `cpus` if given (its affinity);
        assert it graded under the course's standard."""
        for name in ("submission", "results", "grading"):
            shutil.rmtree(self.root / name, ignore_errors=True)
        submission = self.root / "submission"
        if isinstance(upload, Path):
            shutil.copytree(upload, submission, symlinks=True)
        else:
            submission.mkdir()
            for name, content in upload.items():
                (submission / name).parent.mkdir(parents=True, exist_ok=True)
                mode = "wb" if isinstance(content, bytes) else "w"
                with open(submission / name, mode) as file:
                    file.write(content)
        (self.root / "results").mkdir()
        command = ["bash", str(self.root / "source" / "autograder" / "gradescope" / "run_autograder"),
                   "--sandbox-python", self.python, *options]
        if self.uid is not None:
            command += ["--user", str(self.uid)]
        env = os.environ | {"CNNLAB_AUTOGRADER_ROOT": str(self.root), "CNNLAB_PYTHON": sys.executable}
        env.pop("CNNLAB_DATA_DIR", None)  # the data is the copy in source/, closed to the sandbox user
        started = time.monotonic()
        def confine() -> None:
            if cpus is not None:
                os.sched_setaffinity(0, cpus)
            if inside is not None:
                inside.enter()

        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   preexec_fn=confine)
        try:
            stdout, stderr = process.communicate(timeout=GRADING_HANG_BOUND)
        except BaseException:  # a hang bound, Ctrl-C, a kill: run_autograder's judge and worker sit in sessions of
            kill_process_tree(process.pid)  # their own, out of reach of the signal its parent gets
            process.wait()
            if self.uid is not None:
                kill_processes_of(self.uid)
            raise
        finished = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
        seconds = time.monotonic() - started
        assert finished.returncode == 0, f"run_autograder exited {finished.returncode}:\n{finished.stderr[-3000:]}"
        results = json.loads((self.root / "results" / "results.json").read_text())
        graded = Graded(results, finished.stdout + finished.stderr, seconds)
        if "extra_data" in results:  # the judge graded (not refused, nor killed): under the course's standard
            assert results["extra_data"]["standard"]["course"], results["extra_data"]
            assert f"budget: the {COURSE_PROFILE} profile, the course's standard" in graded.stdout, graded.stdout[-3000:]
        return graded

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
