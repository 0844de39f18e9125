"""What a student reads for a failed check: the rule it checks, and what their code did.

The judge's exceptions arrive here from pytest: a `StudentError` from the worker (the student's own
traceback), a check's assertion, or hypothesis's group around them; anything else is the grader's
own fault and is named as one.
"""
from __future__ import annotations

from typing import Callable

import pytest

from .worker_client import StudentError


def leaves(error: BaseException) -> list[BaseException]:
    """The errors inside an exception group, nested groups flattened; [error] for any other error."""
    inner = getattr(error, "exceptions", None)  # BaseExceptionGroup (a backport's on Python 3.10)
    return [leaf for e in inner for leaf in leaves(e)] if isinstance(inner, tuple) else [error]


def explained(error: BaseException) -> BaseException:
    """The error a student's feedback is about. When a property check's failure does not repeat on replay (the
    student's code timed out once on a loaded machine), hypothesis reports a group around the real failures."""
    found = leaves(error)
    return next((e for e in found if isinstance(e, StudentError)),
                next((e for e in found if isinstance(e, AssertionError)), error))


def feedback(function: Callable, excinfo: pytest.ExceptionInfo) -> str:
    """What a student reads for a failed check: the broken rule, and their own traceback if they raised."""
    error = explained(excinfo.value)
    if isinstance(error, StudentError):
        expected = (function.__doc__ or "").strip().splitlines()[0] if function.__doc__ else ""
        parts = [f"Expected: {expected}" if expected else "", error.summary, error.trace]
        return "\n".join(p for p in parts if p).rstrip()
    if isinstance(error, pytest.fail.Exception):
        return str(error)
    if isinstance(error, AssertionError):
        # Keep the check's own message; drop pytest's rewritten-expression explanation.
        return str(error).split("\nassert ")[0].strip() or "assertion failed"
    return f"autograder error: {type(error).__name__}: {error}"
