"""What this process may really use: CPUs (affinity and cgroup quota) and memory (cgroup limit).

A container's `os.cpu_count()` is the host's: on Gradescope's default 0.5 vCPU it may say 2
or 64. torch sizes its thread pool from the affinity mask alone, and threads beyond the CPU
quota stall each other at every parallel region, so the grader sizes its threads from here.
Both cgroup versions are read, from this process's own cgroup up to the root (the tightest
level wins): v2's `cpu.max` and `memory.max`, v1's `cpu.cfs_quota_us` / `cpu.cfs_period_us`
and `memory.limit_in_bytes`. Where none applies, the machine's own figures stand.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from .processes import usable_cpus

CGROUP_ROOT = Path("/sys/fs/cgroup")
UNLIMITED_V1 = 1 << 62  # v1 reports "no limit" as a huge page-rounded number


@dataclass(frozen=True)
class Resources:
    cpus: float  # the CPU quota (0.5 for half a CPU), or the CPUs this process may run on
    memory_bytes: int | None  # None: no limit below the machine's memory

    @property
    def threads(self) -> int:
        """Torch threads that fit: whole CPUs of the quota, at least one."""
        return max(1, math.floor(self.cpus))

    def describe(self) -> str:
        memory = "no memory limit" if self.memory_bytes is None else f"{self.memory_bytes / 2**30:.2f} GiB memory"
        return f"{self.cpus:g} CPUs ({self.threads} torch threads), {memory}"


def own_cgroups(proc_self: Path = Path("/proc/self/cgroup")) -> dict[str, str]:
    """Controller name -> this process's cgroup path; "" names the v2 (unified) hierarchy."""
    groups: dict[str, str] = {}
    try:
        lines = proc_self.read_text().splitlines()
    except OSError:
        return groups
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            groups[controller] = path
    return groups


def levels(mount: Path, path: str) -> list[Path]:
    """The cgroup folders from `path` up to the mount's root, where they are visible."""
    folder = mount / path.lstrip("/")
    found = []
    while True:
        if folder.is_dir():
            found.append(folder)
        if folder == mount or mount not in folder.parents:
            return found
        folder = folder.parent


def read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cpu_quota(root: Path, groups: dict[str, str]) -> float | None:
    """The tightest CPU quota in CPUs, or None when no level sets one."""
    quotas = []
    for folder in levels(root, groups.get("", "/")) if "" in groups else []:
        text = read(folder / "cpu.max")
        if text and not text.startswith("max"):
            quota, period = text.split()
            quotas.append(int(quota) / int(period))
    for folder in levels(root / "cpu", groups["cpu"]) if "cpu" in groups else []:
        quota, period = read(folder / "cpu.cfs_quota_us"), read(folder / "cpu.cfs_period_us")
        if quota and period and int(quota) > 0:
            quotas.append(int(quota) / int(period))
    return min(quotas, default=None)


def memory_limit(root: Path, groups: dict[str, str]) -> int | None:
    """The tightest memory limit in bytes, or None when no level sets one."""
    limits = []
    for folder in levels(root, groups.get("", "/")) if "" in groups else []:
        text = read(folder / "memory.max")
        if text and text != "max":
            limits.append(int(text))
    for folder in levels(root / "memory", groups["memory"]) if "memory" in groups else []:
        text = read(folder / "memory.limit_in_bytes")
        if text and int(text) < UNLIMITED_V1:
            limits.append(int(text))
    return min(limits, default=None)


def available(root: Path = CGROUP_ROOT, proc_self: Path = Path("/proc/self/cgroup")) -> Resources:
    """The CPUs and memory this process may use."""
    cpus: float = usable_cpus()
    groups = own_cgroups(proc_self)
    quota = cpu_quota(root, groups)
    return Resources(min(cpus, quota) if quota else cpus, memory_limit(root, groups))
