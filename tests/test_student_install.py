"""The student release installs into a fresh venv by its own README's commands, and its quick checks
then say where the points they cannot check are.

Only Linux runs here; the README's Windows, macOS and Colab commands are the same steps with
another path or without the CPU-only index line.
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

CPU_INDEX = " --index-url https://download.pytorch.org/whl/cpu"

def fenced_block(readme: str, after: str) -> list[str]:
    """The command lines of the first fenced block after the line `after` (comments dropped)."""
    found = re.search(rf"^{re.escape(after)}\n```\w*\n(.*?)^```", readme, re.S | re.M)
    assert found, f"the README has no command block after {after!r}"
    return [line.split("  #")[0].strip() for line in found.group(1).splitlines() if line.strip()]

def test_the_readme_asks_for_the_cpu_only_build_on_linux(release: Path) -> None:
    setup = fenced_block((release / "README.md").read_text(), "Linux:")
    assert any(CPU_INDEX in line for line in setup), setup
    required = tomllib.loads((release / "pyproject.toml").read_text())["project"]["dependencies"]
    assert not [r for r in required if "==" in r], f"the release pins exactly: {required}"

def test_the_release_installs_into_a_fresh_venv_from_its_readme(release: Path, raw_dir: Path) -> None:
    readme = (release / "README.md").read_text()
    # PyTorch's CPU-only index cannot be reached from here: that line takes this machine's index instead.
    setup = [line.replace(CPU_INDEX, "") for line in fenced_block(readme, "Linux:")]
    quick_check = fenced_block(readme, "## Check your work")[0]
    assert quick_check == '.venv/bin/pytest autograder -m "not training"', quick_check
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTEST_", "CNNLAB_"))}
    env |= {"CNNLAB_RAW_DATA": str(raw_dir)}  # prepare reads the files on disk instead of downloading them
    for command in setup:
        done = subprocess.run(command, shell=True, cwd=release, env=env, capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    checked = subprocess.run(quick_check, shell=True, cwd=release, env=env, capture_output=True, text=True,
                             timeout=900)
    assert checked.returncode == 1, f"the skeleton should fail its checks:\n{checked.stdout[-3000:]}{checked.stderr[-2000:]}"
    assert "CNN lab score" in checked.stdout, f"no score table:\n{checked.stdout[-3000:]}"
    table = checked.stdout.split("CNN lab score")[1].splitlines()
    explanation = next((line for line in table if "points checked here" in line), None)
    assert explanation and "more are checked on Gradescope only" in explanation, table
