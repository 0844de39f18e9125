"""What differs between operating systems on the judge's side: process groups, CPUs, the process table.

Local grading (`pytest autograder`) runs on Linux, macOS and Windows; everything it does that
is POSIX-only goes through here, with a portable fallback. `portable=True` takes the fallback
on POSIX too (`pytest autograder --portable`), so the Windows path is tested on Linux. The
sandbox (`sandbox.py`, `sandbox_cgroup.py`) is a Linux-as-root layer on top, imported only there.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path

POSIX = os.name == "posix"
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def own_process_group(portable: bool = False, dies_with_parent: bool = False) -> dict:
    """`Popen` arguments that start a child in a process group of its own (its children join it); with
    `dies_with_parent`, on Linux, one killed with the thread that starts it (`die_with_parent`)."""
    if POSIX and not portable:
        return {"start_new_session": True} | ({"preexec_fn": _killed_with_parent} if dies_with_parent else {})
    return {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}


def _killed_with_parent() -> None:
    die_with_parent(signal.SIGKILL)


def die_with_parent(signum: int = signal.SIGTERM) -> None:
    """For `preexec_fn`: on Linux the child gets `signum` when the thread that started it ends, so that a
    grading whose batch was killed outright (a Ray node lost, a task force-cancelled) stops and cleans up."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signum)


def kill_process_group(process: subprocess.Popen, portable: bool = False) -> None:
    """Kill `process` and, on POSIX, every process of its group (what the submission forked)."""
    try:
        if POSIX and not portable:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except (ProcessLookupError, PermissionError):  # gone already, or its group is
        pass


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity mask where the OS has one, else all of them."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows
        return os.cpu_count() or 1


def command_line(pid: int) -> list[bytes] | None:
    """A process's arguments from /proc/PID/cmdline (empty for a kernel thread or a zombie); None once it ended."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
    except OSError:
        return None


def process_statuses() -> dict[int, dict[str, str]]:
    """Every live process's /proc/PID/status as {field: value}, by pid (processes that end meanwhile are
    skipped). Linux only: the sandbox and the memory benchmark use it."""
    statuses = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        statuses[int(entry)] = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return statuses
