"""Where submission code runs when grading for real: another user, no network, resource limits.

`run_autograder` (Gradescope runs it as root) grades through a Sandbox; a student's own
`pytest autograder` does not need one. The worker then starts as

    python -I <sandbox>/worker/sandbox_launch.py CONFIG -- python -I <sandbox>/worker ...

and the launcher, still root, leaves the network namespace, sets the resource limits, drops to
the sandbox user and execs the worker. Where no network namespace can be made (a container
without CAP_SYS_ADMIN), it loads a seccomp filter instead (`worker/network_filter.py`). The worker's folder (`autograder/worker/`, all of it) is
copied into the sandbox so the grader's own folder (solutions, thresholds' data, results) can
stay unreadable to that user.
"""
from __future__ import annotations

import functools
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .processes import process_statuses
from .sandbox_cgroup import SandboxCgroup

WORKER_FOLDER = Path(__file__).resolve().parent.parent / "worker"
CLONE_NEWNET = 0x40000000
# Process states in /proc/PID/status.
STOPPED = {"T", "t"}  # stopped by a signal, or by a tracer (stopped in its turn)
DEAD = {"Z", "X"}  # nothing left to stop or kill; zombies wait for their parent to reap them


NETWORK = {"namespace": "no network (namespace)", "seccomp": "no network (seccomp filter)",
           "none": "network NOT isolated (no network namespace, and no seccomp filter: pyseccomp or libseccomp missing)"}


@dataclass(frozen=True)
class Limits:
    """Resource limits of the worker process (setrlimit). None leaves a limit as it is."""

    cpu_seconds: int = 3600
    # `import torch` alone maps about 3.7 GB of address space; CUDA maps far more, so no limit there.
    address_space_bytes: int | None = 6 << 30
    processes: int = 256  # threads count too; applied only under a dedicated user id
    # The whole sandbox together, where a cgroup can be made (sandbox_cgroup.py): a fork bomb's copies included.
    memory_bytes: int = 4 << 30
    open_files: int = 256
    file_bytes: int = 64 << 20


@dataclass
class Sandbox:
    """A folder holding the worker's modules, an empty read-only cache and a writable home."""

    root: Path
    uid: int | None  # None: run as the current user (no privileges to drop)
    gid: int | None
    python: str = sys.executable
    limits: Limits = field(default_factory=Limits)
    network: str = "namespace"  # how submission code is kept off the network: a key of NETWORK
    cgroup: SandboxCgroup | None = None

    @classmethod
    def create(cls, root: Path, uid: int | None = None, gid: int | None = None, python: str = sys.executable,
               limits: Limits | None = None) -> "Sandbox":
        """Lay out `root`: worker/ (read-only), cache/ (empty, read-only) and home/ (the user's)."""
        root = root.resolve()
        remove_tree(root)
        root.mkdir(parents=True)
        shutil.copytree(WORKER_FOLDER, root / "worker", ignore=shutil.ignore_patterns("__pycache__"))
        (root / "cache").mkdir()
        (root / "home").mkdir()
        for path in (root, root / "worker", root / "cache"):
            path.chmod(0o555)
        if uid is not None:
            os.chown(root / "home", uid, gid if gid is not None else uid)
        (root / "home").chmod(0o700)
        sandbox = cls(root, uid, gid if gid is not None or uid is None else uid, python, limits or Limits())
        sandbox.network = network_isolation(uid is not None, python)
        if uid is not None:  # one group per sandbox user: parallel gradings have users of their own
            sandbox.cgroup = SandboxCgroup.create(f"cnnlab-sandbox-{uid}", sandbox.limits.memory_bytes,
                                                  sandbox.limits.processes)
        return sandbox

    def command(self, worker_args: list[str]) -> list[str]:
        """The command line that starts the worker inside the sandbox."""
        return self.launch([self.python, "-I", str(self.root / "worker"), *worker_args])

    def launch(self, command: list[str]) -> list[str]:
        """`command`, prefixed so that it runs inside the sandbox."""
        config = {"uid": self.uid, "gid": self.gid, "home": str(self.root / "home"),
                  "network": self.network, "limits": asdict(self.limits),
                  "cgroups": self.cgroup.procs_files if self.cgroup else []}
        return [self.python, "-I", str(self.root / "worker" / "sandbox_launch.py"), json.dumps(config), "--", *command]

    def environment(self) -> dict[str, str]:
        """A scrubbed environment: no tokens or paths of the grader's, model caches pointing nowhere useful."""
        cache = str(self.root / "cache")
        environment = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.root / "home"), "LANG": "C.UTF-8",
                       "TORCH_HOME": cache, "HF_HOME": cache, "XDG_CACHE_HOME": cache, "MPLCONFIGDIR": cache}
        if "OMP_NUM_THREADS" in os.environ:  # a choice of threads made outside the grader carries over
            environment["OMP_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"]
        return environment

    def kill_leftovers(self, spare: int | None = None, settled: bool = False) -> int:
        """SIGKILL every process of the sandbox user but `spare` (daemons that left the worker's group too).

        Between checks, up to an eighth of the process limit may be left as zombies that init has yet to reap
        (it takes a second or two): they run nothing, and the next worker has room beside them, so no check
        waits for them. `settled` waits until none is left, as the grading's last sweep does."""
        if self.uid is None or self.uid == os.getuid():
            return 0
        frozen = self.cgroup.kill_all(spare) if self.cgroup else 0
        zombies_left = 0 if settled else self.limits.processes // 8
        return frozen + kill_processes_of(self.uid, spare, zombies_left=zombies_left)  # what escaped the group

    def close(self) -> None:
        """Kill what the sandbox still runs, waiting until init has reaped every zombie, and remove its cgroup."""
        self.kill_leftovers(settled=True)
        if self.cgroup:
            self.cgroup.remove()

    def describe(self) -> str:
        user = f"user id {self.uid}" if self.uid is not None else "the grader's own user (not root: no privileges to drop)"
        network = NETWORK[self.network]
        group = ("memory and tasks capped together by a cgroup" if self.cgroup else
                 "no cgroup (the memory cap is per process)")
        return f"submission code runs as {user}, {network}, {group}, limits {asdict(self.limits)}"


def resolve_user(spec: str) -> tuple[int, int]:
    """(uid, gid) of a user given as a name, UID or UID:GID; never root."""
    uid, _, gid = spec.partition(":")
    if uid.isdigit():
        ids = int(uid), int(gid or uid)
    else:
        try:
            entry = pwd.getpwnam(spec)
        except KeyError:
            raise LookupError(f"the sandbox user {spec!r} does not exist: setup.sh creates it") from None
        ids = entry.pw_uid, entry.pw_gid
    if ids[0] == 0:
        raise ValueError("submission code must not run as root")
    return ids


def remove_tree(root: Path) -> None:
    """Delete `root` if it exists, read-only folders (a previous sandbox's) included."""
    if not root.exists():
        return
    for path in [root, *root.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(root)


def runs_python(python: str, uid: int) -> bool:
    """Whether user `uid` can run `python` and import torch with it (the sandbox needs both)."""
    try:
        probe = subprocess.run([python, "-I", "-c", "import torch"], user=uid, group=uid, extra_groups=[],
                               capture_output=True, timeout=120)
    except (PermissionError, FileNotFoundError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def sandbox_python(folder: Path, uid: int) -> str | None:
    """An interpreter user `uid` can run with this environment's packages, or None if there is none.

    When this one lives where the user cannot read it (pyenv under /root), a small virtual
    environment in `folder`, from the system's Python of the same version, sees this one's
    packages, the way /autograder/venv would."""
    if runs_python(sys.executable, uid):
        return sys.executable
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = Path("/usr/bin") / version
    if not system.exists():
        return None
    subprocess.run([str(system), "-m", "venv", "--without-pip", str(folder)], check=True)
    site = folder / "lib" / version / "site-packages"
    # A path line only: the project venv's own .pth files (the editable install) are not run.
    (site / "project_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o005 | (0o050 if path.is_dir() else 0))
    python = str(folder / "bin" / "python")
    return python if runs_python(python, uid) else None


def kill_processes_of(uid: int, spare: int | None = None, patience: float = 30.0, zombies_left: int = 0) -> int:
    """SIGKILL every process whose real user id is `uid` (but `spare`) and wait until they are reaped.

    A fork bomb refills at once each slot that a killed process frees under RLIMIT_NPROC, so killing
    what a scan saw can trail it for many scans. Stopped processes cannot fork: every process seen is
    stopped, scan after scan, and only when all are stopped are they killed. Zombies hold their slots
    until their parent (or init) reaps them, so the sweep ends only when no process is alive and at most
    `zombies_left` zombies are (not counting those of the caller and of `spare`, which are theirs to
    reap), or after `patience` seconds. Returns how many processes were killed.
    """
    killed: set[int] = set()
    reapers = {os.getpid(), spare}  # the zombies of these are theirs to reap, not init's
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        states = {pid: state for pid, (state, parent) in process_states(uid).items()
                  if pid != spare and not (state in DEAD and parent in reapers)}
        alive = [pid for pid, state in states.items() if state not in DEAD]
        if not alive and len(states) <= zombies_left:
            break
        running = [pid for pid in alive if states[pid] not in STOPPED]
        if running:
            signal_each(running, signal.SIGSTOP)
        elif alive:
            killed |= signal_each(alive, signal.SIGKILL)
        time.sleep(0.01)
    return len(killed)


def kill_process_tree(root: int) -> int:
    """SIGKILL `root` and every process descended from it, whatever session, group or user it moved to.
    Each is stopped first and the tree read again, so none forks or is orphaned (and lost to init)
    while it is read. Returns how many were killed; the caller reaps `root`."""
    stopped: set[int] = set()
    while True:
        parents = {pid: int(fields["PPid"]) for pid, fields in process_statuses().items() if "PPid" in fields}
        tree, frontier = {root}, [root]
        while frontier:
            children = [pid for pid, parent in parents.items() if parent in frontier and pid not in tree]
            tree.update(children)
            frontier = children
        new = tree - stopped
        if not new:
            break
        stopped |= signal_each(sorted(new), signal.SIGSTOP) | new
    return len(signal_each(sorted(stopped), signal.SIGKILL))


def signal_each(pids: list[int], signum: int) -> set[int]:
    """Send `signum` to each of `pids`; the ones it reached."""
    reached = set()
    for pid in pids:
        try:
            os.kill(pid, signum)
            reached.add(pid)
        except ProcessLookupError:
            pass
    return reached


def process_states(uid: int) -> dict[int, tuple[str, int]]:
    """(state letter: R, S, D, T, Z..., parent pid) of each process whose real user id is `uid`.

    Zombies are included: until reaped they still count against the user's RLIMIT_NPROC.
    """
    return {pid: (fields["State"].split()[0], int(fields["PPid"])) for pid, fields in process_statuses().items()
            if {"Uid", "State", "PPid"} <= fields.keys() and int(fields["Uid"].split()[0]) == uid}


@functools.lru_cache(maxsize=None)
def network_isolation(as_root: bool, python: str) -> str:
    """How the sandbox keeps submission code off the network, a key of NETWORK: a network namespace of its own
    (as root with CAP_SYS_ADMIN), else a seccomp filter (where `python` has pyseccomp and libseccomp loads)."""
    if as_root and network_namespace_available():
        return "namespace"
    try:
        probe = subprocess.run([python, "-I", str(WORKER_FOLDER / "network_filter.py")], capture_output=True,
                               timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "none"
    return "seccomp" if probe.returncode == 0 else "none"


def network_namespace_available() -> bool:
    """Whether this process may create a network namespace (root with CAP_SYS_ADMIN, not every container)."""
    if os.getuid() != 0:
        return False
    probe = subprocess.run([sys.executable, "-I", "-c", "import ctypes, sys; "
                            f"sys.exit(ctypes.CDLL(None, use_errno=True).unshare({CLONE_NEWNET}))"],
                           capture_output=True)
    return probe.returncode == 0

