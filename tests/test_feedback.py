"""What a student reads for a failed check, whatever form the failure reached pytest in."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.judge.feedback import feedback
from autograder.judge.worker_client import StudentTimeout


def check() -> None:
    """BasicBlock keeps the input's shape at stride 1"""


def test_a_property_failure_that_does_not_repeat_names_the_students_timeout() -> None:
    # On a loaded machine a student's forward can time out once and answer in time on hypothesis's replay.
    calls = []

    @settings(max_examples=5, database=None, derandomize=True)
    @given(st.integers())
    def property_check(n: int) -> None:
        calls.append(n)
        if len(calls) == 1:
            raise StudentTimeout("timeout", "BasicBlock.forward did not return within 20 s", "")

    with pytest.raises(Exception) as excinfo:
        property_check()
    assert excinfo.typename != "StudentTimeout", "hypothesis no longer wraps a failure that does not repeat"
    text = feedback(check, excinfo)
    assert text == ("Expected: BasicBlock keeps the input's shape at stride 1\n"
                    "BasicBlock.forward did not return within 20 s"), text


def test_a_grader_fault_is_named_as_one() -> None:
    with pytest.raises(KeyError) as excinfo:
        {}["conv1"]
    assert feedback(check, excinfo) == "autograder error: KeyError: 'conv1'"
