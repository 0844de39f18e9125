"""A cgroup (v1) around the sandbox: a memory cap, a task cap and a freezer, where root may make one.

Per-process rlimits do not bound what a fork bomb's copies take together: each copy of a
worker that imported torch dirties its own pages, and 256 of them pushed this machine into
minutes of page reclaim. A memory cgroup caps the sandbox as a whole, so the kernel's
out-of-memory killer acts inside it at once. The freezer stops every process of the sandbox
in one write, so a sweep costs the same however fast the bomb forks.

Each group is made below this process's own group of that controller, so a container's
limits still hold over the sandbox. Where cgroup v1 is not writable (not root, cgroup v2
only, a container's read-only /sys/fs/cgroup) `SandboxCgroup.create` returns None and the
sandbox falls back on its user-id sweep (`sandbox.kill_processes_of`).
"""
from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from .resources import CGROUP_ROOT, own_cgroups

CONTROLLERS = ("memory", "pids", "freezer")


@dataclass(frozen=True)
class SandboxCgroup:
    folders: dict[str, Path]  # controller -> this sandbox's group

    @classmethod
    def create(cls, name: str, memory_bytes: int, tasks: int, root: Path = CGROUP_ROOT) -> "SandboxCgroup | None":
        """Groups `name` under each controller with the caps set, or None where they cannot be made."""
        if os.getuid() != 0:
            return None
        groups = own_cgroups()
        folders = {}
        try:
            for controller in CONTROLLERS:
                if controller not in groups or not (root / controller / "tasks").exists():
                    return None
                folder = root / controller / groups[controller].lstrip("/") / name
                folder.mkdir(exist_ok=True)
                folders[controller] = folder
            made = cls(folders)
            made.kill_all()  # a previous grading's leftovers, if the folder was there already
            (folders["memory"] / "memory.limit_in_bytes").write_text(str(memory_bytes))
            (folders["pids"] / "pids.max").write_text(str(tasks))
        except OSError:
            for folder in folders.values():
                try:
                    folder.rmdir()
                except OSError:
                    pass
            return None
        return made

    @property
    def procs_files(self) -> list[str]:
        """What a process writes its pid into to join every group (the launcher does, before dropping root)."""
        return [str(folder / "cgroup.procs") for folder in self.folders.values()]

    def pids(self) -> list[int]:
        text = (self.folders["freezer"] / "cgroup.procs").read_text()
        return [int(line) for line in text.split()]

    def kill_all(self, spare: int | None = None, patience: float = 30.0) -> int:
        """Freeze the group, SIGKILL every process in it but `spare`, thaw; how many were killed.

        Frozen processes cannot fork, so one pass sees them all; killed ones die once thawed.
        """
        state = self.folders["freezer"] / "freezer.state"
        state.write_text("FROZEN")
        deadline = time.monotonic() + patience
        while state.read_text().strip() != "FROZEN" and time.monotonic() < deadline:
            time.sleep(0.01)
        killed = 0
        for pid in self.pids():
            if pid == spare:
                continue
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        state.write_text("THAWED")
        while [p for p in self.pids() if p != spare] and time.monotonic() < deadline:
            time.sleep(0.01)
        return killed

    def remove(self) -> None:
        """Kill what is left and remove the groups."""
        self.kill_all()
        for folder in self.folders.values():
            try:
                folder.rmdir()
            except OSError:
                pass
