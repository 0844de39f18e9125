"""The autograder image, built from the Dockerfile and run as Gradescope runs it (`pytest -m container`).

Needs Linux, root and podman (`.ci/run` installs it; without them every test here is skipped and
says why). No registry can be reached, so the base is a minimal Debian made with debootstrap and
imported once as BASE_IMAGE. The build runs the repository's own Dockerfile and setup.sh, torch
coming from CNNLAB_TORCH_INDEX (Gradescope's image takes PyTorch's CPU-only index) and the data from
CNNLAB_RAW_DATA. Podman keeps the layers: a rerun rebuilds only what changed, and the Python and
torch layer is reused while setup.sh stays the same.

Each upload is graded by `/autograder/run_autograder` in a fresh container with the upload at
/autograder/submission, under Gradescope's default limits or the ones docs/gradescope.md recommends. As in every test
grading (`gradescope_layout.COURSE_PROFILE`), the course's standard is the smoke profile: a rubric.toml saying so
is mounted over the image's, and every grading is asserted to apply it. The cpu profile's time and memory in a
container are `python -m autograder.benchmarks.container`'s to measure, and that the standard and the accuracies
hold beside a busy core is `tests/test_gradescope.py`'s to show: here either would take one of CI's two cores
for minutes. The run's summary gives each grading's score, wall time and peak memory (page cache included, as
the memory limit counts it).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from autograder.gradescope.uploads import STUDENT_FILES
from autograder.rubric import RUBRIC_FILE, gradescope_timeout

from . import loopback
from .gradescope_layout import COURSE_PROFILE, Graded, with_the_tests_profile
from .submissions.hostile import HOSTILE, LISTENER_PORT
from .test_adversarial import SECRETS
from .test_gradescope import assert_complete_and_valid

pytestmark = pytest.mark.container

REPO = Path(__file__).resolve().parent.parent
IMAGE = "localhost/cnnlab-autograder-test"
BASE_IMAGE = "localhost/cnnlab-debian-base"
DEBIAN_MIRROR = os.environ.get("CNNLAB_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# This machine's package sources: torch and its CUDA libraries lie in folder indexes on its disk, mounted
# into the build; everything else comes from PyPI, trusted through the host's certificate authorities.
LOCAL_INDEXES = [folder for folder in (Path("/opt/pypi-more"), Path("/opt/pypi")) if folder.is_dir()]
TORCH_INDEX = os.environ.get("CNNLAB_TORCH_INDEX", "file:///opt/pypi-more/simple" if LOCAL_INDEXES else "")
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
# Runs here need runc (crun refuses this machine's hybrid cgroup layout) and explicit ulimits.
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""
# Every grading's container sits in this cgroup v1 group, whose peak memory is reset before each one.
MEMORY_GROUP = Path("/sys/fs/cgroup/memory/cnnlab-container-test")
HOSTILE_CASES = ("read_secrets_from_disk", "write_results_json", "sys_exit_at_import", "open_network_socket",
                 "network_by_other_routes")
# Run in the container in place of run_autograder: the listeners of tests/loopback.py on the container's own
# loopback around the grading, then what reached them, as one line of JSON.
LISTENING_GRADING = Path(loopback.__file__).read_text() + """
import json, subprocess, sys
sockets = listen(int(sys.argv[1]))
code = subprocess.run(["/autograder/run_autograder"]).returncode
print("LISTENERS " + json.dumps({"listening": len(sockets), "heard": heard(sockets)}), flush=True)
sys.exit(code)
"""


@dataclass(frozen=True)
class Limits:
    name: str
    cpus: float
    memory: str  # podman's form: 768m, 3g

    def __str__(self) -> str:
        return f"{self.cpus:g} CPU, {self.memory}"


GRADESCOPE_DEFAULT = Limits("Gradescope's default", 0.5, "768m")
RECOMMENDED = Limits("recommended", 2, "3g")  # docs/gradescope.md's "(recommended)" row


def why_not_here() -> str | None:
    if sys.platform != "linux" or os.getuid() != 0:
        return "the image is built and run as root on Linux"
    if shutil.which("podman") is None or shutil.which("debootstrap") is None:
        return "needs podman and debootstrap (.ci/run installs them: apt-get install podman debootstrap ...)"
    return None


class Podman:
    """podman with this test's containers.conf."""

    def __init__(self, folder: Path) -> None:
        conf = folder / "containers.conf"
        conf.write_text(CONTAINERS_CONF)
        self.env = os.environ | {"CONTAINERS_CONF": str(conf)}

    def __call__(self, *arguments: str, timeout: float, input: bytes | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(["podman", *arguments], env=self.env, input=input, capture_output=True,
                              timeout=timeout)


def make_base_image(podman: Podman, folder: Path) -> None:
    """A minimal Debian bookworm, bootstrapped from the mirror apt uses (no registry can be reached)."""
    if podman("image", "exists", BASE_IMAGE, timeout=60).returncode == 0:
        return
    rootfs = folder / "rootfs"
    done = subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs), DEBIAN_MIRROR],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"debootstrap failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    archive = subprocess.run(["tar", "-C", str(rootfs), "-c", "."], capture_output=True, timeout=300).stdout
    imported = podman("import", "-", BASE_IMAGE, input=archive, timeout=300)
    assert imported.returncode == 0, imported.stderr.decode()[-3000:]
    shutil.rmtree(rootfs)


@dataclass
class Built:
    podman: Podman
    seconds: float
    folder: Path


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory, raw_dir: Path) -> Iterator[Built]:
    reason = why_not_here()
    if reason:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("container")
    podman = Podman(folder)
    make_base_image(podman, folder)
    pip_conf = folder / "pip.conf"
    pip_conf.write_text("[global]\n" + ("cert = /run/host-ca.crt\n" if HOST_CA.exists() else "")
                        + "extra-index-url = " + " ".join([f"file://{d}/simple" for d in LOCAL_INDEXES]
                                                          + ["https://pypi.org/simple"]) + "\n")
    mounts = [f"{raw_dir}:/run/raw-data:ro", f"{pip_conf}:/etc/pip.conf:ro",
              *(f"{d}:{d}:ro" for d in LOCAL_INDEXES), *([f"{HOST_CA}:/run/host-ca.crt:ro"] if HOST_CA.exists() else [])]
    arguments = ["build", "--pull=never", "--layers", "-t", IMAGE, "--build-arg", f"BASE_IMAGE={BASE_IMAGE}",
                 "--build-arg", "CNNLAB_RAW_DATA=/run/raw-data", *(f"--volume={m}" for m in mounts)]
    if TORCH_INDEX:
        arguments += ["--build-arg", f"CNNLAB_TORCH_INDEX={TORCH_INDEX}"]
    started = time.monotonic()
    built = podman(*arguments, str(REPO), timeout=1800)
    log = built.stdout.decode(errors="replace") + built.stderr.decode(errors="replace")
    assert built.returncode == 0, f"the image did not build:\n{log[-6000:]}"
    seconds = time.monotonic() - started
    # The build ran this too, but a step podman takes from its layer cache prints nothing: ask the image itself.
    verified = podman("run", "--rm", "--workdir=/autograder/source", IMAGE, "/autograder/venv/bin/python", "-m",
                      "autograder.instructor.calibrate", "--verify", timeout=600)
    said = verified.stdout.decode(errors="replace") + verified.stderr.decode(errors="replace")
    assert verified.returncode == 0 and "thresholds of every calibrated profile hold" in said, \
        f"the image's thresholds do not hold for its data and settings:\n{said[-3000:]}"
    (folder / "rubric.toml").write_text(with_the_tests_profile(RUBRIC_FILE.read_text()))
    yield Built(podman, seconds, folder)
    podman("container", "prune", "--force", timeout=120)


def grade_in_container(built: Built, upload: dict[str, str], limits: Limits, read_only: bool = False,
                       listen_on: int | None = None) -> tuple[Graded, int | None]:
    """Run /autograder/run_autograder on `upload` (mounted `read_only` if asked) in a fresh container of
    `limits`, with podman's default capabilities (no CAP_SYS_ADMIN, as on Gradescope), and with listeners on
    port `listen_on` of the container's loopback if asked; the grading and the container's peak memory in bytes
    (None where cgroup v1 cannot tell)."""
    submission, results = built.folder / "submission", built.folder / "results"
    for folder in (submission, results):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
    for name, text in upload.items():
        (submission / name).write_text(text)
    measured = MEMORY_GROUP.parent.is_dir()
    peak = MEMORY_GROUP / "memory.max_usage_in_bytes"
    if measured:
        MEMORY_GROUP.mkdir(exist_ok=True)
        peak.write_text("0")
    started = time.monotonic()
    upload_mount = f"{submission}:/autograder/submission" + (":ro" if read_only else "")
    ran = built.podman("run", "--rm", *([f"--cgroup-parent=/{MEMORY_GROUP.name}"] if measured else []),
                       f"--cpus={limits.cpus:g}", f"--memory={limits.memory}", f"--volume={upload_mount}",
                       f"--volume={results}:/autograder/results",
                       f"--volume={built.folder / 'rubric.toml'}:/autograder/source/autograder/rubric.toml:ro", IMAGE,
                       *(["/autograder/venv/bin/python", "-c", LISTENING_GRADING, str(listen_on)] if listen_on
                         else ["/autograder/run_autograder"]), timeout=gradescope_timeout() + 120)
    seconds = time.monotonic() - started
    output = ran.stdout.decode(errors="replace") + ran.stderr.decode(errors="replace")
    assert ran.returncode == 0, f"run_autograder exited {ran.returncode} in the container:\n{output[-4000:]}"
    graded = Graded(json.loads((results / "results.json").read_text()), output, seconds)
    if "extra_data" in graded.results:  # graded, not refused: under the course's standard, whatever the load
        assert graded.results["extra_data"]["standard"]["course"], graded.results["extra_data"]
        assert f"budget: the {COURSE_PROFILE} profile, the course's standard" in output, output[-3000:]
    return graded, int(peak.read_text()) if measured else None


def summary(case: str, limits: Limits, graded: Graded, peak: int | None) -> str:
    memory = f"{peak / 2**20:,.0f} MB" if peak is not None else "-"
    profile = re.search(r"^budget: the (\w+) profile", graded.stdout, re.M)  # the course's, asserted above
    chosen = f", {profile.group(1)} profile" if profile else ""
    return f"| {case} | {limits}{chosen} | {graded.results['score']:g} | {graded.seconds:.0f} s | {memory} |"


def files_of(folder: str) -> dict[str, str]:
    return {name: (REPO / folder / name).read_text() for name in STUDENT_FILES}


def with_a_progress_bar(files: dict[str, str]) -> dict[str, str]:
    """`files` with a tqdm bar over train_one_epoch's batches (ASSIGNMENT_SPEC.md allows tqdm): the same arithmetic."""
    loop = "\n    for inputs, targets in loader:\n"
    assert loop in files["train.py"]
    train = files["train.py"].replace(loop, "\n    for inputs, targets in tqdm(loader, unit=\"batch\"):\n", 1)
    return files | {"train.py": train.replace("import torch\n", "import torch\nfrom tqdm import tqdm\n", 1)}


def test_the_docs_recommend_the_limits_tested_here() -> None:
    page = (REPO / "docs" / "gradescope.md").read_text()
    recommended = f"| 2, 3 GB, {gradescope_timeout() / 60:g} min (recommended) |"
    assert recommended in page, f"docs/gradescope.md recommends other limits than {recommended}"
    assert "| 0.5, 768 MB, 10 min (Gradescope's default) |" in page


def test_the_image_builds_from_the_dockerfile_and_setup_sh(image: Built, record_property) -> None:
    listed = image.podman("image", "inspect", "--format", "{{.Size}}", IMAGE, timeout=60)
    size = int(listed.stdout.decode().strip() or 0)
    record_property("summary", f"| build (layers podman had are reused) | - | - | {image.seconds:.0f} s | "
                               f"image {size / 2**30:.1f} GiB |")


def test_the_solution_scores_full_marks_with_the_recommended_limits(image: Built, record_property) -> None:
    """With a tqdm bar in its loop, under the network filter (torch's threads, the simulated GPU and the bar under
    it): the course's standard, full marks."""
    graded, peak = grade_in_container(image, with_a_progress_bar(files_of("solutions")), RECOMMENDED)
    record_property("summary", summary("solution", RECOMMENDED, graded, peak))
    assert_complete_and_valid(graded)
    assert graded.results["score"] == 100, [t for t in graded.results["tests"] if t["status"] == "failed"]
    sandbox = next((line for line in graded.stdout.splitlines() if line.startswith("sandbox: ")), "")
    assert "runs as user id" in sandbox, f"submission code did not run as the sandbox user:\n{graded.stdout[-3000:]}"
    isolation = sandbox.removeprefix("sandbox: submission code runs as ").split(", limits")[0]
    record_property("summary", f"| sandbox in the image | {isolation} | | | |")
    assert "no network (seccomp filter)" in isolation, "without CAP_SYS_ADMIN the filter keeps the network closed"
    assert graded.results["extra_data"]["sandbox"] == sandbox.removeprefix("sandbox: ")


def test_gradescopes_default_limits_get_a_clear_autograder_error(image: Built, record_property) -> None:
    graded, peak = grade_in_container(image, files_of("solutions"), GRADESCOPE_DEFAULT)
    record_property("summary", summary("solution", GRADESCOPE_DEFAULT, graded, peak))
    assert_complete_and_valid(graded)
    error = next(t for t in graded.results["tests"] if t["name"] == "autograder error")
    assert error["visibility"] == "visible" and "raise the memory to at least" in error["output"], error["output"]


def test_the_skeleton_scores_zero_from_a_read_only_upload(image: Built, record_property) -> None:
    graded, peak = grade_in_container(image, files_of("assignment"), RECOMMENDED, read_only=True)
    record_property("summary", summary("skeleton, upload mounted read-only", RECOMMENDED, graded, peak))
    assert_complete_and_valid(graded)
    error = [t["output"] for t in graded.results["tests"] if t["name"] == "autograder error"]
    assert not error, f"a read-only upload was not graded: {error[0]}"
    assert graded.results["score"] == 0


@pytest.mark.parametrize("case", HOSTILE_CASES)
def test_a_hostile_upload_earns_nothing_in_the_image(case: str, image: Built, record_property) -> None:
    hostile = next(h for h in HOSTILE if h.name == case)
    assert hostile.base == "skeleton", "each case here must start from the skeleton, so any point is unearned"
    graded, peak = grade_in_container(image, hostile.files(), RECOMMENDED, listen_on=LISTENER_PORT)
    record_property("summary", summary(case, RECOMMENDED, graded, peak))
    assert_complete_and_valid(graded)
    assert graded.results["score"] == 0, f"{case} earned {graded.results['score']} points"
    everything = graded.stdout + json.dumps(graded.results)
    assert not [s for s in SECRETS if s in everything], "the submission reached a secret"
    listeners = json.loads(re.search(r"^LISTENERS (.*)$", graded.stdout, re.M).group(1))
    assert listeners["listening"] >= 2 and listeners["heard"] == [], listeners
    assert "no network (seccomp filter)" in graded.stdout, graded.stdout[-3000:]
