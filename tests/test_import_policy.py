"""What a submission may import (ASSIGNMENT_SPEC.md): the local grader names, before any check runs, each
import the grader's image does not have."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from autograder.worker.import_policy import ALLOWED, UnlistedImport, unlisted_imports

from .submissions.build import REPO, copy_solution

STUDENT_FILE = """\
import os, numpy
from tqdm.auto import tqdm
import scipy.stats
from sklearn.metrics import accuracy_score
from .resnet import BasicBlock
import resnet
try:
    import rich
except ImportError:
    rich = None
try:
    import pandas
finally:
    pass


def helper():
    import einops
"""


def test_only_modules_outside_the_standard_library_the_list_and_the_folder_are_named(tmp_path: Path) -> None:
    (tmp_path / "resnet.py").write_text("import torch\nimport torchvision.transforms\n")
    (tmp_path / "train.py").write_text(STUDENT_FILE)
    (tmp_path / "broken.py").write_text("def (:\n")
    assert unlisted_imports(tmp_path) == [
        UnlistedImport("train.py", 3, "scipy.stats"), UnlistedImport("train.py", 4, "sklearn.metrics"),
        UnlistedImport("train.py", 12, "pandas"), UnlistedImport("train.py", 18, "einops")]
    assert set(ALLOWED) == {"torch", "torchvision", "numpy", "tqdm"}, "ASSIGNMENT_SPEC.md's list"


def test_the_spec_lists_what_the_policy_allows() -> None:
    section = (REPO / "ASSIGNMENT_SPEC.md").read_text().split("## What a submission may import")[1].split("\n## ")[0]
    assert all(f"`{module}`" in section for module in ALLOWED), section


def test_the_solution_and_skeleton_import_only_what_the_spec_lists() -> None:
    assert unlisted_imports(REPO / "solutions") == unlisted_imports(REPO / "assignment") == []


def test_the_grader_warns_before_any_check_runs_and_in_the_results(tmp_path: Path) -> None:
    folder = copy_solution(tmp_path / "upload")
    train = folder / "train.py"
    train.write_text(train.read_text().replace("import torch\n", "import torch\nimport scipy.stats\n", 1))
    line = train.read_text().splitlines().index("import scipy.stats") + 1
    results = tmp_path / "results.json"
    run = subprocess.run([sys.executable, "-m", "pytest", "autograder", "--impl", str(folder), "--part", "train.py",
                          "-m", "not training", "--results-json", str(results), "-p", "no:cacheprovider"],
                         cwd=REPO, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600)
    warning = (f"train.py, line {line}: imports scipy.stats, which ASSIGNMENT_SPEC.md does not list. "
               "Gradescope's grader does not have it")
    lines = run.stdout.splitlines()
    warned = next((i for i, l in enumerate(lines) if l.startswith(f"WARNING: {warning}")), None)
    assert warned is not None, run.stdout[-3000:]
    assert warned < next(i for i, l in enumerate(lines) if l.startswith("autograder/test_train_loop.py")), run.stdout
    assert warning in json.loads(results.read_text())["output"]
