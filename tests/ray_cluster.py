"""A real two-node Ray cluster on this one machine, for the tests of `grade_class --ray`.

Each node is one `ray start` in a session of its own, so that everything the node runs (its
raylet, its agents, its task workers) is in that session's process group, and stopping the node
is one kill of that group, by its id. The head has one CPU; the second node one CPU and one
logical GPU, so that a GPU profile's tasks can only land there.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder.judge.processes import command_line, process_statuses

RAY = str(Path(sys.executable).with_name("ray"))
ENVIRONMENT = os.environ | {"RAY_USAGE_STATS_ENABLED": "0"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def processes_holding(*needles: bytes) -> list[int]:
    """Running processes whose command line holds every one of `needles`."""
    return [pid for pid in process_statuses() if all(n in b" ".join(command_line(pid) or []) for n in needles)]


def runs_under(ancestor: int | None, *needles: bytes) -> bool:
    """Whether a process whose command line holds every one of `needles` descends from `ancestor` (a raylet)."""
    parents = {pid: int(s["PPid"]) for pid, s in process_statuses().items() if "PPid" in s}
    for pid in processes_holding(*needles):
        while pid in parents and pid != ancestor:
            pid = parents[pid]
        if pid == ancestor:
            return True
    return False


@dataclass
class RayNode:
    group: int  # the process group of everything the node runs
    manager_port: int

    def raylet(self) -> int | None:
        """The node's raylet process, found by the port it was given."""
        for pid in process_statuses():
            command = command_line(pid)
            if command and command[0].endswith(b"/raylet") and (
                    f"--node_manager_port={self.manager_port}".encode() in command):
                return pid
        return None


@dataclass
class RayCluster:
    temp_dir: Path
    address: str = ""
    nodes: list[RayNode] = field(default_factory=list)

    def start_node(self, *options: str) -> RayNode:
        manager_port = free_port()
        started = subprocess.run([RAY, "start", f"--temp-dir={self.temp_dir}", "--disable-usage-stats",
                                  f"--node-manager-port={manager_port}", *options], env=ENVIRONMENT,
                                 capture_output=True, text=True, timeout=180, start_new_session=True)
        assert started.returncode == 0, f"ray start failed:\n{started.stdout[-2000:]}\n{started.stderr[-2000:]}"
        node = RayNode(group=self.group_of(manager_port), manager_port=manager_port)
        self.nodes.append(node)
        return node

    @staticmethod
    def group_of(manager_port: int) -> int:
        raylet = RayNode(0, manager_port).raylet()
        assert raylet is not None, "the node's raylet did not start"
        return os.getpgid(raylet)

    def start(self) -> None:
        port = free_port()
        self.address = f"127.0.0.1:{port}"
        self.start_node("--head", f"--port={port}", "--num-cpus=1", "--num-gpus=0", "--include-dashboard=false")
        self.start_node(f"--address={self.address}", "--num-cpus=1", "--num-gpus=1")

    def processes(self) -> list[int]:
        """Every process still running of the nodes' groups, or naming this cluster's folder."""
        groups = {node.group for node in self.nodes}
        left = []
        for pid, status in process_statuses().items():
            try:
                in_group = os.getpgid(pid) in groups
            except OSError:
                continue
            command = command_line(pid)
            if command is None or status.get("State", "").split()[:1] == ["Z"]:
                continue
            if in_group or str(self.temp_dir).encode() in b" ".join(command):
                left.append(pid)
        return left

    def stop(self) -> None:
        """Kill every node's process group, then whatever still names the cluster's folder; wait until none runs."""
        for node in self.nodes:
            try:
                os.killpg(node.group, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 30
        while (left := self.processes()) and time.monotonic() < deadline:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
