"""Fixtures shared by the project's own tests (not the autograder's checks), and the wall time per file.

CI runs these tests with pytest-xdist (`-n 3 --dist loadfile`): each file runs whole on one
worker, so a file's expensive fixture is built once; a file runs as many gradings at once as
`tests.grading.cpu_share()` allows, each on the course's one torch thread, so the workers divide the
cores between them.
"""
from __future__ import annotations

import os
import shutil
import socket
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Iterator

import pytest

from autograder.instructor.distribute import student_entries, write_zip

from .gradescope_layout import SimulatedGradescope, scratch_folder_under_tmp
from .loopback import listen
from .ray_cluster import RayCluster
from .submissions.hostile import LISTENER_PORT

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def listener() -> Iterator[list[socket.socket]]:
    """Sockets on localhost the network attacks dial (`loopback.listen`); see what reached them with `heard`."""
    sockets = listen(LISTENER_PORT)
    yield sockets
    for server in sockets:
        server.close()


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[RayCluster]:
    """A real two-node Ray cluster on this machine (`ray_cluster.py`), stopped by its process groups' ids."""
    pytest.importorskip("ray", reason="--ray needs the cluster extra: pip install -e '.[cluster]'")
    with scratch_folder_under_tmp("ray-") as root:
        cluster = RayCluster(root)
        try:
            cluster.start()
            yield cluster
        finally:
            cluster.stop()
        assert cluster.processes() == [], "processes of the Ray cluster outlived it"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def raw_dir() -> Path:
    """The official-format dataset files: $CNNLAB_RAW_DATA, else ../shared/data."""
    folder = Path(os.environ.get("CNNLAB_RAW_DATA") or REPO.parent / "shared" / "data")
    if not (folder / "cifar-10-batches-py").is_dir():
        pytest.skip(f"no raw dataset files in {folder}: set CNNLAB_RAW_DATA")
    return folder


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The student release as students unpack it: `cnn-lab/` from the zip `distribute student` writes."""
    target = tmp_path_factory.mktemp("dist") / "cnn-lab-student.zip"
    write_zip(student_entries(), target, "cnn-lab/")
    with zipfile.ZipFile(target) as archive:
        archive.extractall(target.parent)
    yield target.parent / "cnn-lab"
    shutil.rmtree(target.parent / "cnn-lab" / ".venv", ignore_errors=True)  # a test's venv: 5 GB with the CUDA build


@pytest.fixture(scope="session")
def gradescope() -> Iterator[SimulatedGradescope]:
    """A stand-in /autograder with this repository's grader installed, shared by the session."""
    simulated = SimulatedGradescope()
    yield simulated
    simulated.close()


class SuiteReport:
    """At the end of the run: the time each file took (setup, call and teardown of its tests summed,
    fixtures included), and the lines tests recorded with `record_property("summary", line)`.
    Under pytest-xdist both arrive with the reports, so the controller prints them."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.summaries: dict[str, list[str]] = defaultdict(list)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        path = report.nodeid.split("::")[0]
        self.seconds[path] += report.duration
        if report.when == "call":  # every phase's report carries the test's properties
            self.summaries[path] += [value for name, value in report.user_properties if name == "summary"]

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        for path, lines in self.summaries.items():
            if lines:
                terminalreporter.section(f"summary of {path}")
                for line in lines:
                    terminalreporter.write_line(line)
        if self.seconds:
            terminalreporter.section("time per test file")
            for path, total in sorted(self.seconds.items(), key=lambda item: -item[1]):
                terminalreporter.write_line(f"{total:8.1f} s  {path}")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(SuiteReport(), "suite-report")
    # pytest-xdist (3.7 on) hands `--dist loadfile` files out by their number of tests, not in collection order,
    # unless told not to: that put LONGEST_FIRST's few-test files (the image build, the student install, Ray)
    # last, however the tests were launched.
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


# The files that take minutes, longest first (seconds each took in CI on the 2-core Intel host at f978f86:
# validity_trained 1169, adversarial 982, class_grading 877, container 766, ray_calibration 244; the rest in the
# order CI measured on 2026-12-05). Under `--dist loadfile` each file goes whole to the next free worker in
# collection order (`pytest_configure` keeps xdist from reordering); alphabetical order handed the two validity
# files out last, so one worker ran on alone for minutes. Longest first keeps the workers' loads even; the
# container file goes early all the same, since its image build (minutes on a machine without podman's layers)
# waits on the disk, not the cores.
LONGEST_FIRST = ("test_validity_trained.py", "test_adversarial.py", "test_container.py", "test_class_grading.py",
                 "test_validity_unit_mutants.py", "test_gradescope.py", "test_ray_calibration.py", "test_hangs.py",
                 "test_notebook_edition.py", "test_student_install.py", "test_worker_isolation.py",
                 "test_trained_networks.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)
    items.sort(key=rank)  # a stable sort: each file keeps its own order
