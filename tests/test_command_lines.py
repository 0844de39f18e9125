"""Every `python -m` entry point the READMEs and docs/ name answers --help with its usage and does nothing
else, gives every option a help line, and names the budget profiles when given one that is not."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.training_profiles import profile_names

REPO = Path(__file__).resolve().parent.parent
READMES = (REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "autograder" / "instructor" / "student_readme.md")
ENTRY_POINTS = sorted({name for readme in READMES for name in re.findall(r"python -m ([\w.]+)", readme.read_text())}
                      - {"pytest"})


def run(module: str, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *arguments], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def options_without_help(usage: str) -> list[str]:
    """Option lines of an argparse --help text that carry no description (on their line or the next)."""
    lines = usage.splitlines()
    bare = []
    for i, line in enumerate(lines):
        option = re.match(r"^  (-\S.*?)(\s{2,}\S.*)?$", line)
        if option is None:
            continue
        described_below = i + 1 < len(lines) and re.match(r"^\s{4,}\S", lines[i + 1])
        if not option.group(2) and not described_below:
            bare.append(option.group(1))
    return bare


def test_the_readmes_name_the_entry_points() -> None:
    assert {"autograder.instructor.calibrate", "autograder.gradescope.run_autograder", "data_scripts.prepare", "tests.grading"} <= set(
        ENTRY_POINTS), ENTRY_POINTS


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_help_shows_the_usage_and_every_option_is_described(module: str, tmp_path: Path) -> None:
    before = sorted(REPO.rglob("*.json"))
    done = run(module, "--help")
    assert done.returncode == 0, f"{module} --help exited {done.returncode}:\n{done.stderr[-2000:]}"
    assert done.stdout.startswith("usage:"), f"{module} --help did something else:\n{done.stdout[:1000]}"
    assert options_without_help(done.stdout) == [], f"{module}: options without a help line"
    assert sorted(REPO.rglob("*.json")) == before, f"{module} --help wrote files"


def test_an_unknown_budget_lists_the_profiles_instead_of_a_traceback() -> None:
    done = run("autograder.instructor.calibrate", "--budget", "gpu-typo")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert all(name in done.stderr for name in profile_names()), done.stderr
