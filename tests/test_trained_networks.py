"""Networks students trained themselves, graded end to end (rubric.toml's [trained], enabled by this course).

The student release is completed with the solution's files, trained at smoke size by the README's own cells
(on the CPU, two epochs, ResNet-18 at width 4), joined by one checkpoint for each kind of bad input, zipped as a
student zips `assignment/`, and graded by run_autograder in a simulated Gradescope whose course enables the
trained networks. A mutant's architecture is then shown to refuse the solution's checkpoint by name.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Iterator

import pytest
import torch

from autograder.class_grading.class_results import ClassResults
from autograder.rubric import RUBRIC_FILE, TRAINED_PART, trained_networks
from autograder.worker.package_loader import load_module

from .gradescope_layout import SimulatedGradescope, scratch_folder_under_tmp
from .grading import GRADING_HANG_BOUND
from .submissions.build import SOLUTIONS, build_mutant
from .submissions.mutants import MUTANTS

LENET = 'module = "baseline", factory = "LeNet5", dataset = "mnist"'
RESNET = 'module = "resnet", factory = "resnet18", kwargs = { width = 4 }, dataset = "cifar10"'
COURSE = f"""[trained]
enabled = true
max_megabytes = 1
timeout = 120
seconds = 5
networks = [
  {{ name = "lenet5", {LENET}, accuracy = 0.7, points = 2 }},
  {{ name = "resnet18", {RESNET}, accuracy = 0.2, points = 2 }},
  {{ name = "untrained", {LENET}, accuracy = 0.7, points = 1 }},
  {{ name = "shapes", {RESNET}, accuracy = 0.2, points = 1 }},
  {{ name = "missing", {LENET}, accuracy = 0.7, points = 1 }},
  {{ name = "code", {LENET}, accuracy = 0.7, points = 1 }},
  {{ name = "wholemodel", {LENET}, accuracy = 0.7, points = 1 }},
  {{ name = "nonfinite", {LENET}, accuracy = 0.7, points = 1 }},
  {{ name = "history", {LENET}, accuracy = 0.7, points = 1 }},
  {{ name = "oversize", {LENET}, accuracy = 0.7, points = 1 }},
  {{ name = "compressed", {LENET}, accuracy = 0.7, points = 1 }},
  {{ name = "legacy", {LENET}, accuracy = 0.7, points = 1 }},
]
"""
MARKER = Path(f"/tmp/cnnlab-trained-code-ran-{os.getpid()}")  # where the `code` checkpoint's command would write
# The README's cells at smoke size: on the CPU, two epochs, a narrow ResNet.
SMOKE_SIZE = {'device="cuda"': 'device="cpu"', "epochs=15": "epochs=2", "epochs=10": "epochs=2",
              "resnet18()": "resnet18(width=4)"}


class CodeRunner:
    """Pickled, it runs `touch MARKER` when unpickled by anything that runs code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture(scope="module")
def course() -> Iterator[SimulatedGradescope]:
    """A simulated Gradescope whose course grades trained networks (its rubric.toml's [trained] replaced)."""
    simulated = SimulatedGradescope()
    rubric = simulated.root / "source" / "autograder" / "rubric.toml"
    rubric.write_text(rubric.read_text().split("\n[trained]\n")[0] + "\n" + COURSE)
    yield simulated
    simulated.close()


def readme_cells(readme: str) -> tuple[str, dict[str, str]]:
    """The README's import cell, and its training line per checkpoint name."""
    imports, lines = re.findall(r"In a notebook:\n```python\n(.*?)```\nthen one cell per network.*?\n```python\n(.*?)```",
                                readme, re.S)[0]
    return imports, {re.search(r'checkpoint="(\w+)"', line).group(1): line for line in lines.splitlines()}


@pytest.fixture(scope="module")
def trained(release: Path, raw_dir: Path) -> Iterator[Path]:
    """The release's assignment/, completed and trained as its README says, with the bad checkpoints beside."""
    assignment = release / "assignment"
    for module in SOLUTIONS.glob("*.py"):
        shutil.copy(module, assignment / module.name)
    imports, cells = readme_cells((release / "README.md").read_text())
    script = imports + "import torch\ntorch.manual_seed(0)\n" + "".join(
        cells[name] + "\n" for name in ("lenet5", "resnet18"))
    for cuda, cpu in SMOKE_SIZE.items():
        script = script.replace(cuda, cpu)
    env = os.environ | {"CNNLAB_RAW_DATA": str(raw_dir), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script], cwd=release, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    checkpoints = assignment / "checkpoints"
    history = json.loads((checkpoints / "lenet5.json").read_text())
    lenet = load_module(assignment, "trained_release", "baseline").LeNet5
    for name, weights in (("untrained", lenet().state_dict()), ("wholemodel", lenet()),
                          ("nonfinite", {k: v.fill_(float("nan")) if k.endswith("weight") else v
                                         for k, v in lenet().state_dict().items()})):
        torch.save(weights, checkpoints / f"{name}.pt")
    torch.save({"features.0.weight": CodeRunner(MARKER)}, checkpoints / "code.pt")
    shutil.copy(checkpoints / "lenet5.pt", checkpoints / "history.pt")
    with zipfile.ZipFile(checkpoints / "lenet5.pt") as stored, zipfile.ZipFile(
            checkpoints / "compressed.pt", "w", zipfile.ZIP_DEFLATED) as deflated:  # how a zip bomb is made
        for member in stored.infolist():
            deflated.writestr(member.filename, stored.read(member))
    torch.save(torch.load(checkpoints / "lenet5.pt", weights_only=True), checkpoints / "legacy.pt",
               _use_new_zipfile_serialization=False)
    (checkpoints / "history.json").write_text('{"train_loss": [2.3, 1.4], "test_accuracy": [0.5')
    (checkpoints / "oversize.pt").write_bytes(os.urandom(3 << 19))  # 1.5 MiB, over this course's 1 MiB
    wide = load_module(assignment, "trained_release", "resnet").resnet18(width=8)
    torch.save(wide.state_dict(), checkpoints / "shapes.pt")
    for name in ("untrained", "wholemodel", "nonfinite", "code", "oversize", "shapes", "compressed", "legacy"):
        (checkpoints / f"{name}.json").write_text(json.dumps(history))
    yield assignment


@pytest.fixture(scope="module")
def graded(course: SimulatedGradescope, trained: Path) -> dict:
    """The trained release zipped as a student zips assignment/, graded by run_autograder."""
    MARKER.unlink(missing_ok=True)
    with scratch_folder_under_tmp("trained-upload-") as folder:
        with zipfile.ZipFile(folder / "submission.zip", "w") as archive:
            for path in sorted(trained.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    archive.write(path, path.relative_to(trained).as_posix())
        upload = folder / "upload"
        upload.mkdir()
        shutil.move(folder / "submission.zip", upload / "submission.zip")
        return course.grade(upload).results


def trained_test(results: dict, name: str) -> dict:
    return next(t for t in results["tests"] if t["name"].endswith(f": {name}"))


def test_the_code_running_checkpoint_runs_code_when_unpickled_unsafely(tmp_path: Path) -> None:
    """What the `code` checkpoint would do to a grader that loaded it with weights_only=False."""
    probe = tmp_path / "ran"
    torch.save({"features.0.weight": CodeRunner(probe)}, tmp_path / "code.pt")
    torch.load(tmp_path / "code.pt", weights_only=False)
    assert probe.exists()


@pytest.mark.parametrize("name", ["compressed", "legacy"])
def test_torch_would_load_the_refused_archives(trained: Path, name: str) -> None:
    """The `compressed` and `legacy` checkpoints hold the very weights that score lenet5's points: only the grader's
    refusal of their format stops them."""
    checkpoints = trained / "checkpoints"
    refused = torch.load(checkpoints / f"{name}.pt", weights_only=True)
    stored = torch.load(checkpoints / "lenet5.pt", weights_only=True)
    assert refused.keys() == stored.keys() and all(torch.equal(refused[k], stored[k]) for k in stored)


def test_a_trained_release_scores_its_networks_through_run_autograder(graded: dict) -> None:
    tests = {t["name"].rsplit(": ", 1)[-1]: t for t in graded["tests"] if t.get("number", "").startswith("7.")}
    assert set(tests) == {"lenet5", "resnet18", "untrained", "shapes", "missing", "code", "wholemodel", "nonfinite",
                          "history", "oversize", "compressed", "legacy"}, sorted(tests)
    for name in ("lenet5", "resnet18"):
        assert tests[name]["score"] == tests[name]["max_score"] == 2, tests[name]
        assert re.search(r"measured here on [\d,]+ .* grading test images; the course asks", tests[name]["output"])
        assert "Your history claims" in tests[name]["output"], tests[name]["output"]
    board = {entry["name"] for entry in graded["leaderboard"]}
    assert {"trained lenet5 accuracy % (pass: 70.0)", "trained resnet18 accuracy % (pass: 20.0)"} <= board, board
    other = [t for t in graded["tests"] if "number" in t and not t["number"].startswith("7.")]
    assert sum(t["score"] for t in other) == sum(t["max_score"] for t in other) == 100, (
        "every other check still runs and passes")


@pytest.mark.parametrize("name, message", [
    ("untrained", r"below the 70.0% the course asks"),
    ("shapes", r"checkpoints/shapes.pt does not fit your resnet18\(width=4\): stem.0.weight is \[8, 3, 3, 3\] in the "
               r"checkpoint but \[4, 3, 3, 3\] in your network"),
    ("missing", r"checkpoints/missing.pt is not in the graded folder"),
    ("code", r"holds more than tensors: loading it would import or run code \(posix.system\)\. It was refused, and "
             r"nothing in it ran"),
    ("wholemodel", r"holds more than tensors: loading it would import or run code \([\w.]+\.LeNet5\)"),
    ("nonfinite", r"checkpoints/nonfinite.pt: features.0.weight holds NaN or infinite values"),
    ("history", r"measured here on .*\n.*checkpoints/history.json, the training history, is needed: history.json is "
                r"not JSON"),
    ("oversize", r"checkpoints/oversize.pt is not in the graded folder"),
    ("compressed", r"checkpoints/compressed.pt holds compressed entries, which torch.save never writes, so it was not "
                   r"unpacked"),
    ("legacy", r"checkpoints/legacy.pt is not the zip archive torch.save writes \(the legacy format"),
])
def test_each_bad_checkpoint_costs_its_own_network_alone(graded: dict, name: str, message: str) -> None:
    test = trained_test(graded, name)
    assert test["score"] == 0 and test["status"] == "failed", test
    assert re.search(message, test["output"]), test["output"]
    if name == "code":
        assert not MARKER.exists(), "the code in the checkpoint ran"


def test_the_upload_report_says_why_a_checkpoint_was_refused(graded: dict) -> None:
    assert "oversize.pt (larger than 1 MiB)" in graded["output"], graded["output"]


def test_a_claim_far_from_the_measurement_is_reported_to_the_instructor(graded: dict) -> None:
    note = next(t for t in graded["tests"] if t["name"] == "For the instructor")
    assert note["visibility"] == "hidden" and note["max_score"] == 0, note
    assert re.search(r"Trained untrained: \d+\.\d% measured .*, 80\.\d% in the submitted history", note["output"])
    assert [c["network"] for c in graded["extra_data"]["trained_claims"]] == ["untrained"]
    assert "reported to your instructor" in trained_test(graded, "untrained")["output"]
    assert "reported" not in trained_test(graded, "lenet5")["output"]
    report = ClassResults({"alan": graded}, {}).failures_markdown()
    assert re.search(r"## Trained networks whose history claims another accuracy\n(.*\n)*- alan: untrained measured "
                     r"\d+\.\d%, claimed 80\.\d%", report), report


def test_a_mutants_architecture_refuses_the_solutions_checkpoint_by_name(course: SimulatedGradescope, trained: Path,
                                                                          tmp_path: Path) -> None:
    """The solution's ResNet-18 checkpoint, graded with a BasicBlock that never builds its projection shortcut;
    and a checkpoint over the size limit put straight into the graded folder, as a student's own run has it."""
    mutant = build_mutant(next(m for m in MUTANTS if m.name == "missing_projection"), tmp_path / "mutant")
    (mutant / "checkpoints").mkdir()
    for name in ("resnet18.pt", "resnet18.json", "oversize.pt"):
        shutil.copy(trained / "checkpoints" / name, mutant / "checkpoints" / name)
    results = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if k != "CNNLAB_DATA_DIR"}  # the course's own prepared copy
    done = subprocess.run([sys.executable, "-m", "pytest", "autograder", "--impl", str(mutant), "--part", TRAINED_PART,
                           "-k", "resnet18 or oversize", "--results-json", str(results), "-q", "-p", "no:cacheprovider"],
                          cwd=course.root / "source", env=env, capture_output=True, text=True, timeout=GRADING_HANG_BOUND)
    assert results.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    document = json.loads(results.read_text())
    resnet, oversize = trained_test(document, "resnet18"), trained_test(document, "oversize")
    assert resnet["score"] == 0 and re.search(
        r"checkpoints/resnet18.pt does not fit your resnet18\(width=4\): the checkpoint has stages.1.0.shortcut.0.weight "
        r"\[8, 4, 1, 1\], which your network lacks", resnet["output"]), resnet["output"]
    assert oversize["score"] == 0 and "checkpoints/oversize.pt is 1.5 MiB, over the course's limit of 1 MiB" in (
        oversize["output"]), oversize["output"]


def test_a_course_that_opts_in_must_give_each_network_its_accuracy(tmp_path: Path) -> None:
    """The shipped list carries no accuracy (none was measured here): enabling it as it stands is refused."""
    rubric = tmp_path / "rubric.toml"
    rubric.write_text(RUBRIC_FILE.read_text().replace("enabled = false", "enabled = true"))
    with pytest.raises(ValueError, match="trained network resnet18 has no accuracy"):
        trained_networks(rubric)
