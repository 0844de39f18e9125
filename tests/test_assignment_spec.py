"""The repository's ASSIGNMENT_SPEC.md is the course's master copy, ../shared/ASSIGNMENT_SPEC.md."""
from __future__ import annotations

from pathlib import Path

import pytest


def test_the_spec_is_the_shared_master_copy(repo: Path) -> None:
    master = repo.parent / "shared" / "ASSIGNMENT_SPEC.md"
    if not master.exists():
        pytest.skip(f"no master copy beside this checkout ({master})")
    assert (repo / "ASSIGNMENT_SPEC.md").read_text() == master.read_text(), (
        f"ASSIGNMENT_SPEC.md differs from {master}: copy the master over it")
