"""Grade a whole class: every upload in a folder, in parallel, resumable, one broken upload at a time.

    python -m autograder.class_grading.grade_class SUBMISSIONS -o BATCH [--workers 2] [--budget cpu]

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
import queue
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Iterator

from ..judge.results import write_atomically
from ..judge.sandbox import runs_python
from ..training_profiles import profile_names
from .batch_progress import BatchProgress
from .class_results import SUBMITTERS_FILE, ClassResults, gradescope_submitters
from .ray_batch import RayBatch
from .upload_grading import (FIRST_UID, ClassGrading, cpu_sets, grade_or_explain, install_grader, student_name,
                             uploads_in)

FAILURES_IN_A_ROW = 3  # uploads in a row with the same autograder error: the grader is broken, not they


class BatchBroken(Exception):
    """Uploads in a row ended in the same autograder error: the grader is broken."""

    def __init__(self, failure: str) -> None:
        super().__init__(failure)
        self.failure = failure




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


class LocalBatch:
    """Uploads graded on this machine, `workers` at a time, each slot with a sandbox user of its own."""

    def __init__(self, grading: ClassGrading, workers: int) -> None:
        self.grading, self.parallel = grading, workers
        grading.cpu_sets = cpu_sets(workers)
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
    grading = ClassGrading(args.out.resolve(), budget=args.budget, time_limit=args.time_limit, threads=args.threads,
                           sandbox_python=args.sandbox_python, first_uid=args.first_uid)
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
