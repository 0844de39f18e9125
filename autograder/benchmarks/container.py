"""Grade the solution as Gradescope would, inside a container of a given size, and print the figures.

    sudo python -m autograder.benchmarks.container --cpus 0.5 --memory-mb 768
    sudo python -m autograder.benchmarks.container --cpus 2 --memory-mb 3072 --budget cpu

Builds a stand-in /autograder under /tmp with the solution as the upload, makes a cgroup v1
group with the CPU quota and memory limit asked for (what Gradescope's Autograder Settings
set), and runs `autograder/gradescope/run_autograder` in it, the submission as user
`--uid`. Prints the score, the wall time, the group's peak memory (page cache included, as
the limit counts it), the peak of its processes' own memory (their anonymous pages summed,
sampled twice a second: what the grading needs, the page cache apart), its count of OOM kills,
and each training check's seconds and accuracy. `--busy N` runs N busy loops outside the
group meanwhile, as a neighbour on the host would. Linux as root, cgroup v1 only.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import re
import tempfile
import threading
import time
from pathlib import Path

from data_scripts.subsets import dataset_root

from ..judge.sandbox import sandbox_python
from ..rubric import gradescope_timeout
from ..training_profiles import profile_names
from ..instructor.distribute import gradescope_entries, unpack, write_zip

REPO = Path(__file__).resolve().parents[2]
CGROUP_V1 = Path("/sys/fs/cgroup")
SHOWN_LOSSES = 8


class OwnMemoryPeak(threading.Thread):
    """Samples a container's own memory twice a second until stopped; `peak` is the highest sample."""

    def __init__(self, container: Container) -> None:
        super().__init__(daemon=True)
        self.container, self.peak, self.done = container, 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            self.peak = max(self.peak, self.container.own_memory_bytes())


def busy_loops(count: int) -> list[subprocess.Popen]:
    """`count` processes that spin on a CPU each, outside the container: a busy neighbour."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def training_lines(results: dict) -> list[str]:
    """Each training check's seconds and accuracy, from its feedback, for comparing runs to the last digit."""
    found = [(t["name"], re.search(r"test accuracy ([\d.]+%) after \d+ epochs in (\d+)s", t.get("output", "")))
             for t in results["tests"]]
    return [f"  {name}: {match[2]} s, {match[1]}" for name, match in found if match]


class Container:
    """A cgroup v1 cpu and memory group standing in for a container: `cpus` of quota, `memory_bytes`."""

    def __init__(self, name: str, cpus: float, memory_bytes: int) -> None:
        self.cpu, self.memory = CGROUP_V1 / "cpu" / name, CGROUP_V1 / "memory" / name
        for folder in (self.cpu, self.memory):
            folder.mkdir()
        (self.cpu / "cpu.cfs_period_us").write_text("100000")
        (self.cpu / "cpu.cfs_quota_us").write_text(str(int(cpus * 100000)))
        (self.memory / "memory.limit_in_bytes").write_text(str(memory_bytes))

    @staticmethod
    def possible() -> bool:
        """Whether this process may make one (root, cgroup v1 writable)."""
        return os.getuid() == 0 and os.access(CGROUP_V1 / "memory", os.W_OK) and os.access(CGROUP_V1 / "cpu", os.W_OK)

    def enter(self) -> None:
        """Move the calling process in (as a subprocess's preexec_fn: the child starts inside)."""
        for folder in (self.cpu, self.memory):
            (folder / "cgroup.procs").write_text(str(os.getpid()))

    def peak_memory_bytes(self) -> int:
        return int((self.memory / "memory.max_usage_in_bytes").read_text())

    def own_memory_bytes(self) -> int:
        """The anonymous memory of every process inside, summed: what they hold, the page cache apart."""
        total = 0
        for pid in self.processes():
            try:
                total += int(re.search(r"RssAnon:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())[1]) * 1024
            except (OSError, TypeError):  # gone, or a kernel thread
                pass
        return total

    def processes(self) -> list[str]:
        """Every process inside, the sandbox's group below this one (sandbox_cgroup.py) included."""
        found = []
        for procs in self.memory.rglob("cgroup.procs"):
            try:
                found += procs.read_text().split()
            except OSError:  # a group removed meanwhile
                pass
        return found

    def oom_kills(self) -> int:
        fields = dict(line.split() for line in (self.memory / "memory.oom_control").read_text().splitlines())
        return int(fields.get("oom_kill", -1))

    def remove(self) -> None:
        """Kill what is still inside, then remove the groups."""
        for folder in (self.cpu, self.memory):
            for pid in (folder / "cgroup.procs").read_text().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for _ in range(100):
                try:
                    folder.rmdir()
                    break
                except OSError:  # busy until the killed processes are gone
                    time.sleep(0.1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpus", type=float, default=0.5, help="CPU quota (default: 0.5, Gradescope's default)")
    parser.add_argument("--memory-mb", type=int, default=768, help="memory limit (default: 768, Gradescope's default)")
    parser.add_argument("--time-limit", type=float, default=gradescope_timeout(),
                        help="run_autograder's --time-limit (default: rubric.toml's gradescope_timeout)")
    parser.add_argument("--budget", default=None, choices=profile_names(),
                        help="training profile (default: run_autograder's choice for the container)")
    parser.add_argument("--upload", type=Path, default=REPO / "solutions", help="what to grade (default: solutions/)")
    parser.add_argument("--uid", type=int, default=64100, help="the sandbox user's id (default: 64100)")
    parser.add_argument("--sandbox-python", default=None,
                        help="interpreter the sandbox user can run (default: this one, or a venv made for it)")
    parser.add_argument("--busy", type=int, default=0, help="busy loops beside the container (default: none)")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="benchmark-container-", dir="/tmp"))
    root.chmod(0o711)
    container = Container(root.name, args.cpus, args.memory_mb * 2**20)
    try:
        python = args.sandbox_python or sandbox_python(root / "venv", args.uid)
        if python is None:
            sys.exit(f"no interpreter user {args.uid} can run: pass --sandbox-python")
        # As Gradescope leaves it: autograder.zip unpacked in source/, the data setup.sh prepares beside it.
        write_zip(gradescope_entries(), root / "autograder.zip")
        unpack(root / "autograder.zip", root / "source")
        shutil.copytree(dataset_root(), root / "source" / "data_scripts" / "prepared")
        shutil.copytree(args.upload, root / "submission", ignore=shutil.ignore_patterns("__pycache__"))
        (root / "results").mkdir()
        command = ["bash", str(root / "source" / "autograder" / "gradescope" / "run_autograder"),
                   "--user", str(args.uid), "--sandbox-python", python, "--time-limit", str(args.time_limit)]
        if args.budget:
            command += ["--budget", args.budget]
        env = os.environ | {"CNNLAB_AUTOGRADER_ROOT": str(root), "CNNLAB_PYTHON": sys.executable}
        env.pop("CNNLAB_DATA_DIR", None)
        neighbours, sampler = busy_loops(args.busy), OwnMemoryPeak(container)
        sampler.start()
        started = time.monotonic()
        try:
            finished = subprocess.run(command, env=env, capture_output=True, text=True, preexec_fn=container.enter)
        finally:
            seconds = time.monotonic() - started
            sampler.done.set()
            for loop in neighbours:
                loop.kill()
                loop.wait()
        results = json.loads((root / "results" / "results.json").read_text())
        errors = [t["output"] for t in results["tests"] if t["name"] == "autograder error"]
        print("\n".join(line for line in finished.stdout.splitlines()
                        if line.startswith(("resources", "time limits", "budget", "torch threads", "training checks",
                                            "worker memory allocator",
                                            "score"))))
        print("\n".join(["training checks (seconds, final test accuracy):", *training_lines(results)]))
        print(f"\n{args.cpus:g} CPUs, {args.memory_mb} MB, --time-limit {args.time_limit:g} s, {args.busy} busy loops "
              f"beside: score {results['score']:g} in {seconds:.0f} s wall; peak memory "
              f"{container.peak_memory_bytes() / 2**20:.0f} MB (page cache included), its processes' own "
              f"{sampler.peak / 2**20:.0f} MB ({sampler.peak / (args.memory_mb * 2**20):.0%} of the limit); "
              f"{container.oom_kills()} OOM kills; run_autograder exit {finished.returncode}")
        if errors:
            print(f"autograder error: {errors[0]}")
        lost = [t for t in results["tests"] if t["score"] < t["max_score"] and t["name"] != "autograder error"]
        for test in lost[:SHOWN_LOSSES]:
            said = [line for line in test["output"].splitlines() if line and not line.startswith("Expected:")]
            print(f"lost {test['max_score'] - test['score']:g}: {test['name']}: {said[0] if said else ''}"[:200])
        if len(lost) > SHOWN_LOSSES:
            print(f"and {len(lost) - SHOWN_LOSSES} more checks lost points")
    finally:
        container.remove()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
