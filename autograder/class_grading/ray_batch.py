"""Grade a class on a Ray cluster: one task per upload, run by `run_autograder` on whichever node Ray picks.

    python -m autograder.class_grading.grade_class UPLOADS -o BATCH --ray auto

Nothing assumes a shared filesystem (`cluster.ray_tasks`). The grader installed in BATCH/source (the
autograder.zip unpacked, the grading data prepared) travels once through Ray's object store, each upload
with its own task; a node unpacks the grader once into its temporary folder, grades the upload exactly
as a local batch does (`ClassGrading.grade`, in a root of its own, as a sandbox user of its own
where the node runs tasks as root), and sends back the results document, the curves and the log,
which the driver stores in BATCH as a local batch would. The nodes' Python needs torch and the
grader's other dependencies.

Each task asks for the CPUs of the standard's torch threads and, under a CPU profile, the memory
measured for it, under a GPU profile one GPU (Ray then sets the device the task sees). A task whose node dies runs again
on another node (Ray's retries); its result is stored once, when it arrives. Ctrl-C cancels every
task: a cancelled grading kills its whole process tree, and a grading whose task process dies
outright gets SIGTERM from the kernel (`die_with_parent`) and stops its own tree.
"""
from __future__ import annotations

import fcntl
import hashlib
import io
import os
import shutil
import tarfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..cluster.ray_tasks import RayTasks, packed, unpacked_once
from ..judge.results import write_atomically
from ..rubric import course_standard
from ..training_profiles import profile_device, profile_needs
from ..gradescope.run_autograder import every_check_failed
from .upload_grading import ClassGrading, grade_or_explain, special_files

SLOTS = 256  # sandbox users per node: first_uid .. first_uid + SLOTS - 1


def upload_archive(upload: Path) -> tuple[str, bytes]:
    """An upload (a folder, or one file such as a zip) as (its name, the bytes a node rebuilds it from)."""
    if upload.is_dir():
        return "", packed(upload, special_files)
    return upload.name, upload.read_bytes()


@contextmanager
def node_slot(folder: Path) -> Iterator[int]:
    """A slot number no other grading on this node holds meanwhile (its sandbox user's offset)."""
    folder.mkdir(parents=True, exist_ok=True)
    for slot in range(SLOTS):
        with open(folder / f"slot-{slot}.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            yield slot
            return
    raise RuntimeError(f"all {SLOTS} grading slots of this node are taken")


def node_facts() -> dict:
    """Run as a task: the user the node runs tasks as, the node's id and the GPUs Ray gave the task."""
    import ray
    return {"uid": os.getuid(), "node": ray.get_runtime_context().get_node_id(), "gpus": ray.get_gpu_ids()}


def grade_on_node(options: dict, grader: list, digest: str, student: str, name: str, upload: bytes) -> dict:
    """The Ray task: grade one upload on this node; its results document, curves and log."""
    try:
        return grade_here(options, grader, digest, student, name, upload)
    except Exception as error:  # the node's failure, not the upload's: an autograder error, as a local batch's
        return not_graded(f"the Ray node could not grade it ({type(error).__name__}: {error})")


def not_graded(reason: str) -> dict:
    """What a task returns for an upload it could not grade: every check failed, for `reason`."""
    return {"results": every_check_failed(reason), "curves": None, "log": reason.encode()}


def grade_here(options: dict, grader: list, digest: str, student: str, name: str, upload: bytes) -> dict:
    unsandboxed = options.pop("unsandboxed")
    if os.getuid() != 0 and not unsandboxed:  # a node that joined after the batch's check
        raise PermissionError("this node runs Ray tasks without root: submission code would run unsandboxed")
    home = unpacked_once(grader, digest)
    batch = home / "batches" / f"{student}-{uuid.uuid4().hex}"
    try:
        for folder in ("results", "curves", "logs"):
            (batch / folder).mkdir(parents=True)
        (batch / "source").symlink_to(home / "source")
        received = batch / "upload"
        if name:
            received.mkdir()
            (received / name).write_bytes(upload)
            received = received / name
        else:
            with tarfile.open(fileobj=io.BytesIO(upload)) as archive:
                archive.extractall(received, filter="data")
        grading = ClassGrading(batch, **options, as_root=os.getuid() == 0)
        with node_slot(home / "slots") as slot:
            document = grade_or_explain(grading, student, received, slot)
        curves = batch / "curves" / f"{student}.json"
        return {"results": document, "curves": curves.read_text() if curves.exists() else None,
                "log": (batch / "logs" / f"{student}.log").read_bytes()}
    finally:
        shutil.rmtree(batch, ignore_errors=True)


class RayBatch:
    """Uploads graded as Ray tasks on the cluster at `address`, stored in `grading`'s BATCH as they finish."""

    def __init__(self, address: str, grading: ClassGrading, unsandboxed: bool = False) -> None:
        self.tasks = RayTasks(address)
        self.ray = self.tasks.ray
        self.grading, self.unsandboxed = grading, unsandboxed

    @property
    def parallel(self) -> int:
        """About how many gradings the cluster runs at once."""
        return max(1, int(self.ray.cluster_resources().get("CPU", 1) // self.task_options()["num_cpus"]))

    def task_options(self) -> dict:
        budget = self.grading.budget or course_standard().profile
        options = {"num_cpus": self.grading.threads or course_standard().threads, "max_retries": 3}
        if profile_device(budget) == "cuda":  # no memory measured for it: the GPU is what it waits for
            options["num_gpus"] = 1
        else:
            options["memory"] = profile_needs(budget).memory_bytes
        return options

    def refuse_unsandboxed_nodes(self) -> None:
        """SystemExit, saying what to do, where a node runs tasks without root and --unsandboxed was not given."""
        if self.unsandboxed:
            return
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
        probe = self.ray.remote(num_cpus=0)(node_facts)
        nodes = [n for n in self.ray.nodes() if n["Alive"]]
        facts = self.ray.get([probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
                              .remote() for n in nodes])
        unprivileged = [n["NodeManagerAddress"] for n, fact in zip(nodes, facts) if fact["uid"] != 0]
        if unprivileged:
            raise SystemExit(f"the Ray nodes at {', '.join(unprivileged)} run tasks without root, so submission code "
                             "would run unsandboxed, as Ray's own user: start Ray as root on every node (as in the "
                             "autograder image), or pass --unsandboxed to grade trusted uploads that way")

    def grade(self, pending: dict[str, Path]) -> Iterator[tuple[str, dict]]:
        """Submit every upload of `pending`; yield (student, results document) as each is stored."""
        self.refuse_unsandboxed_nodes()
        grader = packed(self.grading.source)
        digest = hashlib.sha256(grader).hexdigest()[:16]
        grader_ref = self.ray.put(grader)
        task = self.ray.remote(grade_on_node).options(**self.task_options())
        options = {"budget": self.grading.budget, "time_limit": self.grading.time_limit,
                   "threads": self.grading.threads, "sandbox_python": self.grading.sandbox_python,
                   # A task reserves one training worker's threads: its training checks run one at a time.
                   "training_slots": 1,
                   "first_uid": self.grading.first_uid, "unsandboxed": self.unsandboxed}
        for student, upload in pending.items():
            try:
                archive = upload_archive(upload)
            except OSError as error:  # as a local batch: recorded, and the batch goes on
                reason = f"the upload could not be prepared ({type(error).__name__}: {error})"
                yield student, self.store(student, not_graded(reason))
                continue
            self.tasks.submit(task, student, options, [grader_ref], digest, student, *archive)
        for student, graded, error in self.tasks.arrivals():
            if error is not None:  # its retries spent: the cluster's failure
                graded = not_graded(f"its Ray task failed ({type(error).__name__}: {error})"[:2000])
            yield student, self.store(student, graded)

    def store(self, student: str, graded: dict) -> dict:
        batch = self.grading.batch
        (batch / "logs" / f"{student}.log").write_bytes(graded["log"])
        if graded["curves"] is not None:
            (batch / "curves" / f"{student}.json").write_text(graded["curves"])
        write_atomically(self.grading.result_path(student), graded["results"])  # last: it means "done"
        return graded["results"]

    def stop(self) -> None:
        """Cancel every task still to finish, and wait for the cancelled gradings to have cleaned up."""
        self.tasks.cancel()

    def close(self) -> None:
        self.tasks.close()
