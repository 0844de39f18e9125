"""Gradescope's entry point: grade /autograder/submission, write /autograder/results/results.json.

    python -m autograder.gradescope.run_autograder [--root /autograder] [--user cnnlab-student] [--budget cpu]

1. As root, lock the grader's folders (source, results) away from the sandbox user.
2. Build the graded folder: the skeleton, with the student's module files from the upload
   (`submission_files.py`); everything else in the upload is reported and ignored.
3. Run `pytest autograder` on it (the judge, as root) with the worker in a sandbox
   (`sandbox.py`), under an overall time limit, with the course's standard (rubric.toml's
   `profile` and `training_threads`). When the container cannot run that profile even idle,
   nothing is graded: a visible "autograder error" names the Gradescope settings to raise.
4. Kill whatever the sandbox user left running, then write results.json, last and atomically.
   It is valid in every case: when the judge fails, every check is listed with 0 points
   and a visible "autograder error" test says why.
"""
from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..judge.processes import die_with_parent
from ..judge.resources import Resources, available
from ..judge.results import Outcome, results_document, results_problems, write_atomically
from ..judge.sandbox import kill_process_tree, kill_processes_of, resolve_user
from ..rubric import course_standard, gradescope_timeout, load_rubric
from ..training_profiles import fits, profile_device, profile_names, profile_needs
from .uploads import prepare_graded_folder

SOURCE = Path(__file__).resolve().parents[2]
SANDBOX_USER = "cnnlab-student"
LOG_LIMIT = 2 << 20  # bytes of the judge's output passed to Gradescope's (instructor-only) stdout
# Seconds kept back from --time-limit (a tenth of it at most): for Gradescope's start, unpacking
# the upload and writing results; then for pytest's start (importing torch on a loaded machine)
# before its own clock runs.
START_AND_END = 30.0
JUDGE_START = 30.0


def minus_reserve(seconds: float, reserve: float) -> float:
    return seconds - min(reserve, seconds / 10)


class ContainerTooSmall(Exception):
    """The course's training profile does not fit the container: grading would score correct code 0."""


def check_container(resources: Resources, time_limit: float) -> None:
    """ContainerTooSmall, naming the Gradescope settings to raise, unless the course's profile fits an idle
    container of this size. The load of the moment never lowers the standard: it stretches the time limits."""
    course = course_standard().profile
    if profile_device(course) != "cpu":
        raise ContainerTooSmall(f"the course's profile ({course}) trains on {profile_device(course)}, which "
                                "Gradescope's containers lack: name a CPU profile in rubric.toml's `profile`")
    if fits(course, resources.cpus, resources.memory_bytes, time_limit):
        return
    needs = profile_needs(course)
    raise_ = []
    if resources.memory_bytes is not None and resources.memory_bytes < needs.memory_bytes:
        raise_.append(f"the memory to at least {needs.memory_bytes / 2**30:.2f} GiB")
    if needs.seconds(resources.cpus) > time_limit:
        raise_.append(f"the CPUs, or the timeout to at least {needs.seconds(resources.cpus) + START_AND_END:.0f} s "
                      "(and run_autograder's --time-limit with it)")
    raise ContainerTooSmall(
        f"the grading container is too small: {resources.describe()}. "
        f"The course's training profile ({course}) needs {needs.describe(resources.cpus)}, so correct "
        f"submissions would fail. Instructor: in Gradescope's Autograder Settings raise {' and '.join(raise_)}; "
        "the README's Gradescope settings table has the measured figures")


@dataclass(frozen=True)
class Layout:
    """Gradescope's folders under `root` (/autograder, or a temporary stand-in in tests)."""

    root: Path

    @property
    def submission(self) -> Path:
        return self.root / "submission"

    @property
    def results(self) -> Path:
        return self.root / "results" / "results.json"

    @property
    def work(self) -> Path:
        return self.root / "grading"

    @property
    def curves(self) -> Path:
        """The training checks' per-epoch curves (`plot_curves`, `class_report` read them)."""
        return self.work / "curves.json"


def lock_down(layout: Layout, source: Path) -> None:
    """Only root may read the grader's source (solutions included), Gradescope's record of the submission (the
    student's name and email, earlier scores) and write results."""
    layout.root.chmod(0o711)
    source.chmod(0o700)
    metadata = layout.root / "submission_metadata.json"
    if metadata.exists():  # /autograder is 0711: a file whose name is known stays readable unless closed itself
        metadata.chmod(0o600)
    layout.results.parent.mkdir(parents=True, exist_ok=True)
    layout.results.parent.chmod(0o700)
    if layout.submission.exists():
        try:
            layout.submission.chmod(0o700)
        except OSError as error:
            # A read-only mount (`docker run -v upload:/autograder/submission:ro`) cannot be closed. Grading reads
            # a copy; all the sandbox user could read there is the upload it is running anyway.
            if error.errno != errno.EROFS:
                raise


def run_judge(command: list[str], cwd: Path, time_limit: float) -> str | None:
    """Run pytest, passing its output on (capped); the reason it failed to finish, or None."""
    # SIGKILL when run_autograder dies, which ends the judge even when stopped: killing a tree stops it first,
    # and a killer killed in between (a Ray task force-cancelled) would leave it stopped, with its zombies.
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True, preexec_fn=lambda: die_with_parent(signal.SIGKILL))
    try:
        return pass_on_output(process, time_limit)
    finally:  # done, or stopped (SIGTERM: the batch that started this grading ended): nothing of it outlives it
        if process.poll() is None:
            kill_process_tree(process.pid)
            process.wait()


def pass_on_output(process: subprocess.Popen, time_limit: float) -> str | None:
    deadline, written = time.monotonic() + time_limit, 0
    os.set_blocking(process.stdout.fileno(), False)
    reason = None
    while True:
        chunk = process.stdout.read(1 << 16) or b""
        if written < LOG_LIMIT and chunk:
            sys.stdout.buffer.write(chunk[:LOG_LIMIT - written])
            sys.stdout.flush()
        written += len(chunk)
        if process.poll() is not None and not chunk:
            break
        if time.monotonic() > deadline:  # run_judge then kills the judge's whole tree, its workers included
            reason = f"grading did not finish within {time_limit:.0f} s"
            break
        if not chunk:
            time.sleep(0.1)
    if written > LOG_LIMIT:
        print(f"\n[{written - LOG_LIMIT} more bytes of grader output dropped]")
    if reason is None and process.returncode not in (0, 1):
        reason = f"pytest ended with exit status {process.returncode}"
    return reason


def every_check_failed(reason: str, advice: str = "Your instructor has been shown the details; resubmitting may help."
                       ) -> dict:
    """A results document listing every check at 0 points, behind an "autograder error" test."""
    document = results_document([
        Outcome(f"{c.number} {c.id}", c.number, c.part, 0.0, c.points, c.visibility,
                "not run: the autograder failed before this check") for c in load_rubric().values()], seconds=0.0)
    document["tests"].insert(0, {
        "name": "autograder error", "score": 0.0, "max_score": 0.0, "status": "failed", "visibility": "visible",
        "output": f"The autograder could not grade this submission: {reason}. {advice}"})
    return document


def unlisted_checks(document: dict) -> list[str]:
    """Ids of the rubric's checks that have no test in a results document."""
    listed = {t.get("number") for t in document.get("tests", [])}
    return [c.id for c in load_rubric().values() if c.number not in listed]


def judge_results(path: Path, reason: str | None) -> dict:
    """The judge's results.json if it is complete and valid, else the every-check-failed document."""
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        return every_check_failed(reason or f"the grader wrote no results ({error})")
    problems = results_problems(document)
    missing = unlisted_checks(document) if not problems else []
    if problems or missing:
        return every_check_failed(reason or f"the grader's results were incomplete ({problems or missing})")
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("/autograder"), help="Gradescope's /autograder")
    parser.add_argument("--user", default=SANDBOX_USER, help="user (name or UID[:GID]) that runs submission code")
    parser.add_argument("--sandbox-python", default=sys.executable,
                        help="interpreter the sandbox user runs (it must be able to read it)")
    parser.add_argument("--budget", default=None, choices=profile_names(),
                        help="training profile (default: the course's, rubric.toml's `profile`)")
    parser.add_argument("--time-limit", type=float, default=gradescope_timeout(),
                        help="seconds for the whole grading (default: rubric.toml's gradescope_timeout, "
                             f"{gradescope_timeout():.0f}: keep it equal to the timeout of Gradescope's settings)")
    parser.add_argument("--time-limit-scale", type=float, default=1.0, help="multiplies each check's time limit")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: the course's, rubric.toml's `training_threads`)")
    parser.add_argument("--training-slots", type=int, default=None, metavar="N",
                        help="at most N training checks side by side (default: as many as the CPUs and memory allow)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped batch: clean up (finally), write nothing
    layout, started = Layout(args.root.resolve()), time.monotonic()
    ids, output = None, ""
    try:
        ids = resolve_user(args.user) if os.getuid() == 0 else None  # not root: no privileges to drop
        if ids is not None:
            lock_down(layout, SOURCE)
        layout.work.mkdir(parents=True, exist_ok=True)
        layout.work.chmod(0o711)
        resources, judge_time = available(), minus_reserve(args.time_limit, START_AND_END)
        print(f"container: {resources.describe()}, --time-limit {args.time_limit:.0f} s", flush=True)
        if not args.budget:  # a profile asked for is the instructor's choice; the time limit still holds
            check_container(resources, judge_time)
        upload = prepare_graded_folder(layout.submission, SOURCE / "assignment", layout.work / "graded")
        output = upload.report()
        print(output, flush=True)
        raw = layout.work / "judge-results.json"
        raw.unlink(missing_ok=True)
        command = [sys.executable, "-m", "pytest", "autograder", "--impl", str(layout.work / "graded"),
                   "--results-json", str(raw), "--curves", str(layout.curves), "--sandbox", str(layout.work / "sandbox"),
                   "--sandbox-python", args.sandbox_python, "-p", "no:cacheprovider", "-q", "-o", "addopts="]
        if ids is not None:
            command += ["--sandbox-user", args.user]
        command += ["--time-limit-scale", str(args.time_limit_scale),
                    "--time-limit", str(minus_reserve(judge_time, JUDGE_START))]
        if args.budget:
            command += ["--budget", args.budget]
        if args.threads:
            command += ["--threads", str(args.threads)]
        if args.training_slots:
            command += ["--training-slots", str(args.training_slots)]
        reason = run_judge(command, SOURCE, judge_time)
        document = judge_results(raw, reason)
    except ContainerTooSmall as error:
        print(f"autograder error: {error}", flush=True)
        document = every_check_failed(str(error), "Your instructor must change the autograder's settings; "
                                                  "your submission was not graded and can be regraded then.")
    except Exception as error:  # the grader's own failure: still a valid, explained results.json
        document = every_check_failed(f"{type(error).__name__}: {error}")
    finally:
        if ids is not None:
            kill_processes_of(ids[0])
    document["output"] = "\n\n".join(part for part in (output, document.get("output", "")) if part)
    document["execution_time"] = round(time.monotonic() - started, 1)
    write_atomically(layout.results, document)
    print(f"score {document['score']:g}; results in {layout.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
