"""What every use of a Ray cluster here shares: connecting, shipping a folder to the nodes, and a set of tasks
whose results arrive one by one.

Nothing assumes a shared filesystem. The task's own code (autograder, data_scripts) reaches the nodes as Ray
`py_modules`; anything else (the grader installed for a batch, the implementations a calibration trains, the
prepared images) travels once through Ray's object store as a tar, and each node unpacks it once into its temporary
folder (`unpacked_once`). A task whose node dies runs again on another node (Ray's retries, `max_retries`).
"""
from __future__ import annotations

import fcntl
import io
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

REPO = Path(__file__).resolve().parents[2]
# Shipped to every node for the task's own code; the prepared images go with what a task ships itself.
RUNTIME_ENV = {"py_modules": [str(REPO / "autograder"), str(REPO / "data_scripts")],
               "excludes": ["__pycache__", "prepared/", "downloads/"]}
NODE_FOLDER = "cnnlab-ray"
POLL_SECONDS = 1.0


def import_ray():
    try:
        import ray
    except ImportError:
        raise SystemExit("--ray needs Ray: pip install -e '.[cluster]' (on the driver and on every node)") from None
    return ray


def packed(folder: Path, ignore: Callable | None = None) -> bytes:
    """`folder` as an uncompressed tar, with `ignore` (shutil.copytree's kind) applied at each level."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for directory, subfolders, files in os.walk(folder):
            skipped = set(ignore(directory, subfolders + files)) if ignore else set()
            subfolders[:] = sorted(s for s in subfolders if s not in skipped)
            for name in sorted(files):
                if name not in skipped:
                    path = Path(directory) / name
                    archive.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    return buffer.getvalue()


def unpacked_once(archive: list, digest: str) -> Path:
    """This node's folder for the tar `archive` ships (`home/source`), unpacked once per `digest`. `archive` holds the
    tar's ObjectRef inside a list, so that Ray does not fetch it for every task: only a node without it does."""
    home = Path(tempfile.gettempdir()) / NODE_FOLDER / digest
    source = home / "source"
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (home / "installed").exists():
            shutil.rmtree(source, ignore_errors=True)
            import ray
            with tarfile.open(fileobj=io.BytesIO(ray.get(archive[0]))) as tar:
                tar.extractall(source, filter="tar")
            (home / "installed").touch()
    return home


def cpu_model() -> str:
    """This machine's CPU model, as /proc/cpuinfo names it (what reorders a training run's sums, beside threads)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine()


class RayTasks:
    """Tasks on the cluster at `address`, each under a key of the caller's; their results as they arrive."""

    def __init__(self, address: str) -> None:
        self.ray = import_ray()
        self.ray.init(address=address, runtime_env=RUNTIME_ENV, log_to_driver=False, logging_level="ERROR")
        self.running: dict = {}  # ObjectRef -> key

    def submit(self, task: Any, key: Any, *args: Any) -> None:
        """Start `task` (a Ray remote function with its options) on `args`."""
        self.running[task.remote(*args)] = key

    def arrivals(self) -> Iterator[tuple[Any, Any, Exception | None]]:
        """(key, result, None) for each task as it ends, or (key, None, error) once its retries are spent."""
        while self.running:
            done, _ = self.ray.wait(list(self.running), num_returns=1, timeout=POLL_SECONDS)
            for ref in done:
                key = self.running.pop(ref)
                try:
                    yield key, self.ray.get(ref), None
                except self.ray.exceptions.RayError as error:
                    yield key, None, error

    def cancel(self) -> None:
        """Cancel every task still to finish, and wait for the cancelled ones to have cleaned up."""
        for ref in self.running:
            self.ray.cancel(ref)
        self.ray.wait(list(self.running), num_returns=len(self.running), timeout=60)

    def close(self) -> None:
        self.ray.shutdown()
