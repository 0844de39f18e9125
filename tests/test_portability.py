"""Local grading on any OS: what `pytest autograder` runs uses no POSIX-only call outside the platform layer."""
from __future__ import annotations

import ast
from pathlib import Path

from autograder.instructor.distribute import INSTRUCTOR_FOLDERS

from .grading import UNIT_ONLY, grade
from .submissions.build import copy_solution

REPO = Path(__file__).resolve().parent.parent
# The platform layer (POSIX calls with portable fallbacks) and the Linux-as-root sandbox on top of it.
PLATFORM_LAYER = {"autograder/judge/processes.py", "autograder/judge/sandbox.py", "autograder/judge/sandbox_cgroup.py",
                  "autograder/worker/sandbox_launch.py", "autograder/worker/network_filter.py"}
POSIX_MODULES = {"pwd", "grp", "resource", "fcntl", "termios", "select", "pty"}
POSIX_CALLS = {"os": {"fork", "forkpty", "killpg", "setsid", "setpgid", "getpgid", "getuid", "geteuid", "getgid",
                      "setuid", "setgid", "setgroups", "sched_getaffinity", "set_blocking", "wait4", "WNOHANG"},
               "signal": {"SIGKILL", "SIGSTOP", "SIGCONT", "SIGCHLD", "SIGHUP", "SIGALRM", "alarm", "setitimer"}}
POSIX_KEYWORDS = {"pass_fds", "start_new_session", "preexec_fn", "restore_signals"}


def local_grading_files() -> list[Path]:
    """The modules a student's `pytest autograder` imports: the grader but the instructors' and Gradescope's
    folders (they run Linux), and the data scripts."""
    files = [*(REPO / "autograder").rglob("*.py"), *(REPO / "data_scripts").glob("*.py")]
    return sorted(p for p in files if not {*INSTRUCTOR_FOLDERS, "__pycache__"} & set(p.relative_to(REPO).parts)
                  and p.relative_to(REPO).as_posix() not in PLATFORM_LAYER)


def posix_only_uses(source: str) -> list[str]:
    """The POSIX-only imports, calls and Popen arguments in `source`; a module-level import of the
    sandbox counts too (it is Linux only), imports under `if TYPE_CHECKING:` do not."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    uses = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            uses += [f"import {a.name}" for a in node.names if a.name.split(".")[0] in POSIX_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module:
            sandbox = node.level and node.module.split(".")[-1] == "sandbox" and node.col_offset == 0
            if node.module.split(".")[0] in POSIX_MODULES or sandbox:
                uses.append(f"from {'.' * node.level}{node.module} import ...")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.attr in POSIX_CALLS.get(node.value.id, ()):
                uses.append(f"{node.value.id}.{node.attr}")
        elif isinstance(node, ast.keyword) and node.arg in POSIX_KEYWORDS:
            uses.append(f"{node.arg}=")
    return uses


def test_local_grading_uses_no_posix_only_call_outside_the_platform_layer() -> None:
    files = local_grading_files()
    assert REPO / "autograder" / "judge" / "worker_client.py" in files and REPO / "autograder" / "conftest.py" in files
    found = [f"{path.relative_to(REPO)}: {use}" for path in files for use in posix_only_uses(path.read_text())]
    assert not found, "POSIX-only, so not on Windows; go through autograder/judge/processes.py: " + ", ".join(found)


def test_the_scan_finds_what_it_looks_for() -> None:
    """The static check above is only as good as its scan: it sees each kind of POSIX-only use."""
    source = ("import os, pwd, subprocess, signal\nfrom typing import TYPE_CHECKING\nfrom .sandbox import Sandbox\n"
              "if TYPE_CHECKING:\n    import resource\n"
              "def stop(p):\n    from .sandbox import kill\n    os.killpg(p, signal.SIGKILL)\n"
              "    subprocess.Popen([], start_new_session=True)\n")
    assert sorted(posix_only_uses(source)) == sorted(
        ["import pwd", "from .sandbox import ...", "os.killpg", "signal.SIGKILL", "start_new_session="])


def test_the_portable_path_grades_the_solution_and_the_skeleton_as_the_default_path(tmp_path: Path) -> None:
    """--portable (no POSIX process groups, as on Windows) on the unit checks: the solution full marks,
    the skeleton the very same failures as the default path. The unit mutants alternate between the
    two paths (tests/grading.py), each against the same expectation."""
    solution = grade(copy_solution(tmp_path / "solution"), tmp_path, *UNIT_ONLY, "--portable")
    assert solution.results.get("tests") and not solution.failed, solution.output[-2000:]
    assert solution.score == solution.max_score
    skeleton = {path: grade(REPO / "assignment", tmp_path / path, *UNIT_ONLY, *extra)
                for path, extra in (("portable", ("--portable",)), ("default", ()))}
    assert skeleton["portable"].failed == skeleton["default"].failed and skeleton["default"].failed
    verdicts = {path: [(t["number"], t["status"], t["score"], t["output"]) for t in graded.results["tests"]]
                for path, graded in skeleton.items()}
    assert verdicts["portable"] == verdicts["default"]
