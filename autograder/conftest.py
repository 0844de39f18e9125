"""The grading plugin: which folder is graded, the worker, scoring, feedback and results.json.

    pytest autograder                      # grade assignment/
    pytest autograder --impl solutions     # grade another folder laid out like assignment/
    pytest autograder --results-json out/results.json
    pytest autograder --inprocess          # debug: student code in this process, no isolation
    pytest autograder -m "not training"    # only the quick unit checks
    pytest autograder --part senet.py      # only the checks of one file (repeat for more)
    pytest autograder --budget cpu -s      # training checks under the cpu profile, epochs shown
    pytest autograder --sandbox DIR --sandbox-user 64000   # as root: how run_autograder grades
"""
from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Callable, Iterator

import pytest

from .grading_setup import (CLAIMS, CURVES, FULL_LIMIT, LEADERBOARD, OUTCOMES, SPEED, STARTED, TOO_SMALL, budget,
                            budget_line, check_time_limit, memory_verdict, reference_memory_bytes, resources,
                            standard_applied, standard_line, start_worker, threads_line, time_limit_factor,
                            time_shares, training_line)
from .judge.allocator import allocator_line
from .judge.feedback import explained, feedback
from .judge.results import Outcome, results_document, write_atomically
from .judge.score_table import score_table, unchecked_points_line
from .judge.worker_client import StudentTimeout, Submission, Worker, WorkerCrashed
from .rubric import leaderboard, load_rubric, rubric_entry, trained_networks
from .training_profiles import profile_device, profile_names
from .worker.import_policy import unlisted_imports
from .worker.package_loader import load_module

if TYPE_CHECKING:  # the sandbox is Linux only: imported when --sandbox asks for one
    from .judge.sandbox import Sandbox

REPO = Path(__file__).resolve().parent.parent
# The trained-networks checks exist only where rubric.toml enables them.
collect_ignore = [] if trained_networks().networks else ["test_trained_networks.py"]
DESELECTED = pytest.StashKey[set]()
UNLISTED = pytest.StashKey[list]()  # warnings: imports the grader's image lacks
SANDBOXED = pytest.StashKey[str]()  # what the sandbox could isolate, for the log


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cnn-lab", "CNN lab grading")
    group.addoption("--impl", default=str(REPO / "assignment"), type=Path,
                    help="folder to grade, laid out like assignment/ (default: assignment/)")
    group.addoption("--solutions", default=str(REPO / "solutions"), type=Path,
                    help="the reference solution the checks compare against (default: solutions/)")
    group.addoption("--inprocess", action="store_true",
                    help="run the graded code inside pytest's process so a debugger can stop in it "
                         "(no isolation and no time limits: never for real grading)")
    group.addoption("--results-json", type=Path, default=None, help="also write Gradescope's results.json here")
    group.addoption("--part", action="append", default=None, choices=sorted({c.part for c in load_rubric().values()}),
                    help="grade only the checks of this part of rubric.toml (a file such as senet.py, or training); "
                         "repeat it for several")
    group.addoption("--budget", default=None, choices=profile_names(),
                    help="training profile from training_profiles.toml (default: the course's, rubric.toml's "
                         "`profile`, where this machine can run it; else the largest that fits)")
    group.addoption("--sandbox", type=Path, default=None,
                    help="run the graded code from a sandbox laid out in this (new) folder, with resource limits")
    group.addoption("--sandbox-user", default=None, metavar="NAME|UID[:GID]",
                    help="with --sandbox, run the graded code as this user (needs root), without network")
    group.addoption("--sandbox-python", default=sys.executable,
                    help="with --sandbox, the interpreter the sandbox user runs (it must be able to read it)")
    group.addoption("--portable", action="store_true",
                    help="start and stop the worker with only what every OS has (no POSIX process groups), "
                         "as on Windows: for testing that path on Linux and macOS")
    group.addoption("--time-limit", type=float, default=None,
                    help="seconds for the whole grading: a check's limit never reaches past it, and the checks "
                         "left when it runs out fail at once, so results.json is always written (default: none)")
    group.addoption("--time-limit-scale", type=float, default=1.0,
                    help="multiply every check's time limit from rubric.toml (slower or faster machines)")
    group.addoption("--threads", type=int, default=None,
                    help="torch threads for the graded code (default: the course's, rubric.toml's `training_threads`;"
                         " another count trains with other arithmetic)")
    group.addoption("--training-slots", type=int, default=None, metavar="N",
                    help="at most N training checks side by side (default: as many as the CPUs and memory allow; "
                         "the accuracies are the same whatever N)")
    group.addoption("--curves", type=Path, default=None,
                    help="where the training checks' per-epoch curves go (default: .curves/<graded folder>.json)")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[OUTCOMES] = {}
    config.stash[STARTED] = time.monotonic()
    config.stash[CURVES] = {}
    config.stash[LEADERBOARD] = []
    config.stash[CLAIMS] = []
    config.stash[DESELECTED] = set()
    config.stash[TOO_SMALL] = []
    impl = config.getoption("impl")
    config.stash[UNLISTED] = [u.warning() for u in unlisted_imports(impl)] if impl.is_dir() else []
    config.addinivalue_line("markers", "training: a check that trains a network (minutes, not seconds)")


def pytest_report_header(config: pytest.Config) -> str:
    return f"grading: {config.getoption('impl').resolve()}"


def pytest_sessionstart(session: pytest.Session) -> None:
    """What the grading runs with, shown even under -q (run_autograder's output, for the instructor)."""
    config, reporter = session.config, session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    r = resources(config)
    reporter.write_line(f"resources: {r.describe()}")
    line = budget_line(config, r)
    reporter.write_line(line, yellow="NOT the course's standard" in line)
    reporter.write_line(threads_line(config))
    reporter.write_line(training_line(config))
    if not config.getoption("inprocess"):
        reporter.write_line(allocator_line())
    for warning in config.stash[UNLISTED]:
        reporter.write_line(f"WARNING: {warning}", red=True, bold=True)
    if config.getoption("inprocess"):
        reporter.write_line("--inprocess: the graded code runs inside this process, unisolated and untimed "
                            "(for debugging; scores may differ from real grading)", yellow=True)
    else:
        reporter.write_line(f"time limits: rubric.toml's x {time_limit_factor(config):.2f} (this machine's speed "
                            f"factor {config.stash[SPEED]:.2f}, --time-limit-scale "
                            f"{config.getoption('time_limit_scale'):g})")


@pytest.fixture(scope="session")
def sandbox(pytestconfig: pytest.Config) -> Iterator[Sandbox | None]:
    """The sandbox the worker starts in, when --sandbox asks for one."""
    root = pytestconfig.getoption("sandbox")
    if root is None:
        yield None
        return
    from .judge.sandbox import Sandbox, resolve_user

    user = pytestconfig.getoption("sandbox_user")
    uid, gid = resolve_user(user) if user else (None, None)
    created = Sandbox.create(root, uid, gid, python=pytestconfig.getoption("sandbox_python"))
    pytestconfig.stash[SANDBOXED] = created.describe()
    yield created
    created.close()


@pytest.fixture(scope="session")
def worker(pytestconfig: pytest.Config, sandbox: Sandbox | None) -> Iterator[Worker]:
    started = start_worker(pytestconfig, sandbox)
    yield started
    started.close()


@pytest.fixture
def student(worker: Worker, request: pytest.FixtureRequest) -> Iterator[Submission]:
    """The graded folder, under the check's time limit from the rubric."""
    allowed = check_time_limit(request.config, request.node.name)
    if allowed is not None:
        limit, request.node.stash[FULL_LIMIT] = allowed
        worker.set_time_limit(limit, full=allowed[1])
    yield Submission(worker)
    worker.set_time_limit(None)
    worker.kill_strays()
    worker.release()


@pytest.fixture(scope="session")
def reference(pytestconfig: pytest.Config) -> Callable[[str], ModuleType]:
    """`reference("resnet")` is the solution's module, imported here in the judge."""
    folder = pytestconfig.getoption("solutions").resolve()
    if not folder.is_dir():
        pytest.skip(f"needs the reference solution, which is not here ({folder}): this check runs on Gradescope")
    return lambda module: load_module(folder, "reference_solution", module)


def killed_note(item: pytest.Item, excinfo: pytest.ExceptionInfo | None) -> tuple[str, bool] | None:
    """For a worker killed outright in a container (its OOM killer sends SIGKILL): (what to say, whether the check
    is not graded rather than failed), or None for any other failure (`memory_verdict`)."""
    config = item.config
    error, memory = excinfo.value if excinfo else None, resources(config).memory_bytes
    if not isinstance(error, WorkerCrashed) or "SIGKILL" not in error.summary or memory is None:
        return None
    needed = reference_memory_bytes(config) if profile_device(budget(config)) == "cpu" else None
    said, not_graded = memory_verdict(memory, needed, budget(config))
    if not_graded:
        config.stash[TOO_SMALL].append(load_rubric()[item.name].number)
    return said, not_graded


def cut_short(item: pytest.Item, excinfo: pytest.ExceptionInfo | None) -> str | None:
    """For a check whose student code timed out: with its full limit, the first such check is the grading's hang;
    cut short by the grading's time left, it is not the student's failure, and this says whose it is."""
    if excinfo is None or FULL_LIMIT not in item.stash or not isinstance(explained(excinfo.value), StudentTimeout):
        return None
    shares, entry = time_shares(item.config), load_rubric()[item.name]
    if item.stash[FULL_LIMIT]:
        shares.record_hang(f"{entry.number} ({entry.id})")
        return None
    return shares.out_of_time(entry.number, item.config.getoption("time_limit"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    report = (yield).get_result()
    entry = rubric_entry(item)
    if entry is None or (report.when != "call" and not report.failed):
        return
    function = item.function
    text = "\n".join(v for k, v in item.user_properties if k == "feedback")
    if not report.passed:
        killed, not_graded = killed_note(item, call.excinfo) or ("", False)
        text = cut_short(item, call.excinfo) or (killed if not_graded else "\n".join(
            t for t in (text, feedback(function, call.excinfo), killed) if t))
    if report.failed:
        report.longrepr = text
    doc = (function.__doc__ or function.__name__).strip().splitlines()[0]
    if hasattr(item, "callspec"):  # one network of a parametrized check
        doc += f": {item.callspec.id}"
    item.config.stash[OUTCOMES][item.nodeid] = Outcome(
        name=f"{entry.number} {doc}", number=entry.number, part=entry.part,
        points=entry.points if report.passed else 0.0, max_points=entry.points,
        visibility=entry.visibility, feedback=text)


def pytest_collection_finish(session: pytest.Session) -> None:
    """The checks in the order they will run: each keeps time for those after it (`time_shares.py`)."""
    if not session.config.getoption("inprocess"):
        time_shares(session.config).order = [item.name for item in session.items if rubric_entry(item)]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """--part: keep only the checks of the parts named."""
    parts = config.getoption("part")
    if not parts:
        return
    kept = [item for item in items if (entry := rubric_entry(item)) and entry.part in parts]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


def pytest_deselected(items: list[pytest.Item]) -> None:
    for item in items:
        if rubric_entry(item):
            item.config.stash[DESELECTED].add(item.name)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if SANDBOXED in config.stash:
        terminalreporter.write_line(f"sandbox: {config.stash[SANDBOXED]}")
    outcomes = list(config.stash[OUTCOMES].values())
    if not outcomes:
        return
    terminalreporter.section("CNN lab score")
    for line in score_table(outcomes):
        terminalreporter.write_line(line, bold=line.startswith("total"))
    terminalreporter.write_line(unchecked_points_line(outcomes, config.stash[DESELECTED]))
    applied = standard_applied(config)
    terminalreporter.write_line(f"standard: {standard_line(applied)}", bold=True, yellow=not applied["course"])


def pytest_sessionfinish(session: pytest.Session) -> None:
    curves = session.config.stash[CURVES]
    if curves:
        impl = session.config.getoption("impl").resolve()
        target = session.config.getoption("curves") or REPO / ".curves" / f"{impl.name}.json"
        write_atomically(target, {"graded": str(impl), "checks": {n: asdict(c) for n, c in curves.items()}})
    path = session.config.getoption("results_json", None)
    if path is None:
        return
    outcomes = list(session.config.stash[OUTCOMES].values())
    seconds = time.monotonic() - session.config.stash[STARTED]
    board = session.config.stash[LEADERBOARD] if leaderboard() else None
    standard = standard_applied(session.config)
    too_slow = [] if session.config.getoption("inprocess") else time_shares(session.config).too_slow
    too_small = session.config.stash[TOO_SMALL]
    lines = [f"Not graded in full: the grading machine was too {why} for check{'s' * (len(checks) > 1)} "
             f"{', '.join(checks)} (nothing in your code caused it). Resubmit, or ask your instructor for a regrade."
             for why, checks in (("slow", too_slow), ("small", too_small)) if checks]
    lines += session.config.stash[UNLISTED]
    lines.append(f"Graded under {standard_line(standard)}.")
    claims = session.config.stash[CLAIMS]
    note = "\n".join(f"Trained {c['network']}: {c['measured']:.1%} measured on the grading test images, "
                     f"{c['claimed']:.1%} in the submitted history: more apart than sampling explains." for c in claims)
    extra = {"standard": standard, "not_graded": too_slow + too_small} | ({"trained_claims": claims} if claims else {})
    if SANDBOXED in session.config.stash:
        extra["sandbox"] = session.config.stash[SANDBOXED]
    write_atomically(Path(path), results_document(outcomes, seconds, board, output="\n".join(lines), extra=extra,
                                                  instructor_note=note))


