"""The sandbox: limits that still let torch work, and, as root, another user without network."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from autograder.judge.sandbox import NETWORK, Limits, Sandbox, kill_processes_of, process_states, sandbox_python
from autograder.judge.worker_client import StudentError, Submission, SubprocessWorker

from .loopback import heard
from .gradescope_layout import SANDBOX_UID, scratch_folder_under_tmp
from .submissions.hostile import NETWORK as NETWORK_ATTACK
from .submissions.hostile import NETWORK_OTHER_ROUTES

REPO = Path(__file__).resolve().parent.parent

PROBE = """
import json, os, resource, socket, sys
report = {"ids": [os.getuid(), os.geteuid(), os.getgid(), os.getgroups()], "cwd": os.getcwd(),
          "address_space": resource.getrlimit(resource.RLIMIT_AS)[0],
          "processes": resource.getrlimit(resource.RLIMIT_NPROC)[0],
          "torch_home": os.environ.get("TORCH_HOME"), "environment": sorted(os.environ),
          "oom_score_adj": open("/proc/self/oom_score_adj").read().strip()}
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2).close()
    report["network"] = "reached"
except OSError as error:
    report["network"] = str(error)
try:
    open(sys.argv[2]).read()
    report["secret"] = "read"
except OSError as error:
    report["secret"] = type(error).__name__
try:
    os.setuid(0)
    report["root"] = "regained"
except PermissionError:
    report["root"] = "refused"
try:
    open(os.path.join(os.environ["TORCH_HOME"], "weights.pth"), "w")
    report["cache"] = "writable"
except OSError:
    report["cache"] = "read-only"
print(json.dumps(report))
"""

FORK_BOMB = """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""


def test_the_sandbox_holds_the_whole_worker_folder_and_nothing_else_of_the_grader(tmp_path: Path) -> None:
    sandbox = Sandbox.create(tmp_path / "sandbox")
    worker_folder = REPO / "autograder" / "worker"
    assert sorted(p.name for p in (sandbox.root / "worker").iterdir()) == sorted(
        p.name for p in worker_folder.iterdir() if p.name != "__pycache__")
    assert sorted(p.name for p in sandbox.root.iterdir()) == ["cache", "home", "worker"]


def test_the_worker_imports_torch_and_runs_under_the_limits_and_big_allocations_fail(tmp_path: Path) -> None:
    sandbox = Sandbox.create(tmp_path / "sandbox", limits=Limits())
    worker = SubprocessWorker(REPO / "solutions", sandbox)
    try:
        block = Submission(worker).build("resnet", "BasicBlock", 8, 16, 2)
        assert block.forward(torch.randn(2, 8, 8, 8)).shape == (2, 16, 4, 4)
        huge = tmp_path / "huge"
        huge.mkdir()
        (huge / "resnet.py").write_text("import torch\nHOG = torch.empty(40 << 30, dtype=torch.uint8)\n")
    finally:
        worker.close()
    worker = SubprocessWorker(huge, sandbox)
    try:
        with pytest.raises(StudentError, match="importing resnet.py raised RuntimeError.*allocat"):
            Submission(worker).build("resnet", "BasicBlock", 8, 8)
    finally:
        worker.close()


@pytest.mark.skipif(os.getuid() != 0, reason="dropping privileges needs root")
def test_as_root_the_sandbox_user_has_no_network_no_secrets_and_no_way_back() -> None:
    with scratch_folder_under_tmp("sandbox-") as root:
        python = sandbox_python(root / "venv", SANDBOX_UID)
        if python is None:
            pytest.skip("no interpreter the sandbox user can run")
        secret = root / "secret"
        secret.write_text("solution")
        secret.chmod(0o600)
        sandbox = Sandbox.create(root / "sandbox", SANDBOX_UID, SANDBOX_UID, python=python)
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            done = subprocess.run(sandbox.launch([python, "-I", "-c", PROBE, str(listener.getsockname()[1]),
                                                  str(secret)]),
                                  env=sandbox.environment(), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["ids"] == [SANDBOX_UID, SANDBOX_UID, SANDBOX_UID, []]
        assert report["root"] == "refused" and report["secret"] == "PermissionError"
        assert report["network"] != "reached" and sandbox.network in ("namespace", "seccomp")
        assert report["address_space"] == Limits().address_space_bytes and report["processes"] == Limits().processes
        assert report["cache"] == "read-only" and report["cwd"] == str(sandbox.root / "home")
        assert report["oom_score_adj"] == "1000", "the out-of-memory killer must pick submission code first"
        assert "CNNLAB_AUTOGRADER_ROOT" not in report["environment"] and "PYTHONPATH" not in report["environment"]
        assert process_states(SANDBOX_UID) == {}


MEMORY_HOG = """
import sys
hog = bytearray(int(sys.argv[1]))  # touched page by page, so the memory is really used
for i in range(0, len(hog), 4096):
    hog[i] = 1
"""


@pytest.mark.skipif(os.getuid() != 0, reason="dropping privileges needs root")
@pytest.mark.parametrize("sweep", ["cgroup", "user id"])
def test_a_fork_bomb_of_the_sandbox_user_is_swept_and_reaped(sweep: str) -> None:
    with scratch_folder_under_tmp("sandbox-") as root:
        sandbox = Sandbox.create(root / "sandbox", SANDBOX_UID, SANDBOX_UID)
        if sweep == "cgroup" and sandbox.cgroup is None:
            pytest.skip("no writable cgroup v1 hierarchy here")
        bomb = subprocess.Popen(sandbox.launch(["/usr/bin/python3", "-I", "-c", FORK_BOMB]),
                                env=sandbox.environment(), start_new_session=True)
        try:
            deadline = time.monotonic() + 30
            while len(process_states(SANDBOX_UID)) < Limits().processes and time.monotonic() < deadline:
                time.sleep(0.1)
            assert len(process_states(SANDBOX_UID)) == Limits().processes, "the bomb never reached the process limit"
            started = time.monotonic()
            killed = sandbox.kill_leftovers() if sweep == "cgroup" else kill_processes_of(SANDBOX_UID)
            print(f"\n{sweep} sweep: {killed} processes in {time.monotonic() - started:.2f} s")
            bomb.wait(timeout=10)
            assert process_states(SANDBOX_UID) == {}, "processes of the bomb survived the sweep (or were never reaped)"
            # At the limit no fork succeeds until something dies: stopped first, none is born during the sweep.
            assert killed == Limits().processes, f"{killed} killed for {Limits().processes}: the bomb outran the sweep"
        finally:
            sandbox.close()  # a failed case must not leave the bomb to the tests after it
            kill_processes_of(SANDBOX_UID)
        if sandbox.cgroup:
            assert not any(folder.exists() for folder in sandbox.cgroup.folders.values()), "the cgroup outlived close()"


@pytest.mark.skipif(os.getuid() != 0, reason="dropping privileges needs root")
def test_the_sandbox_cgroup_caps_memory_below_the_address_space_limit() -> None:
    cap = 256 << 20
    with scratch_folder_under_tmp("sandbox-") as root:
        sandbox = Sandbox.create(root / "sandbox", SANDBOX_UID, SANDBOX_UID, limits=Limits(memory_bytes=cap))
        if sandbox.cgroup is None:
            pytest.skip("no writable cgroup v1 hierarchy here")
        try:
            run = lambda size: subprocess.run(sandbox.launch(["/usr/bin/python3", "-I", "-c", MEMORY_HOG, str(size)]),
                                              env=sandbox.environment(), capture_output=True, timeout=120)
            assert run(cap // 4).returncode == 0, "a process well within the cap must run"
            over = run(2 * cap)
            assert over.returncode == -9, f"twice the cap was not stopped by the kernel: {over.returncode}"
        finally:
            sandbox.close()


def test_without_a_network_namespace_the_seccomp_filter_leaves_no_route_out(tmp_path: Path,
                                                                            listener: list[socket.socket]) -> None:
    """Not root, so no namespace: the filter alone keeps every route of the hostile network uploads closed, while
    AF_UNIX sockets and pipes still work."""
    sandbox = Sandbox.create(tmp_path / "sandbox")
    if sandbox.network != "seccomp":
        pytest.skip(f"no seccomp filter here ({NETWORK[sandbox.network]})")
    assert "no network (seccomp filter)" in sandbox.describe()
    local = "import os, socket\nsocket.socketpair()[0].close()\nos.pipe()\n"
    done = subprocess.run(sandbox.launch([sys.executable, "-I", "-c", NETWORK_ATTACK + NETWORK_OTHER_ROUTES + local]),
                          env=sandbox.environment(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "io_uring_setup: refused" in done.stderr, done.stderr
    assert heard(listener) == []
