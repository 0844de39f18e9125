"""Fixtures shared by the project's own tests (not the autograder's checks)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from .gradescope_layout import SimulatedGradescope

REPO = Path(__file__).resolve().parent.parent


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


@pytest.fixture(scope="session")
def gradescope() -> Iterator[SimulatedGradescope]:
    """A stand-in /autograder with this repository's grader installed, shared by the session."""
    simulated = SimulatedGradescope()
    yield simulated
    simulated.close()
