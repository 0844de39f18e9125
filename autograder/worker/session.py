"""The worker's state between requests: the graded folder, its imported modules and live objects.

Student objects stay in the worker, named by integer handles; requests (`module_requests`,
`loop_requests`, `training_requests`) take and return plain data. Every call into student code
goes through `Session.run_student`, which turns whatever it raises into a StudentError
carrying the student's own traceback.
"""
from __future__ import annotations

import ctypes
import importlib
import traceback
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from . import import_policy
from .contract import StudentError, describe_call
from .package_loader import load_package

PACKAGE = "submission"


def student_traceback(error: BaseException, impl: Path) -> str:
    """The traceback lines that lie in the student's files, plus the line that raised."""
    frames = traceback.extract_tb(error.__traceback__)
    kept = [f for f in frames if Path(f.filename).resolve().is_relative_to(impl)]
    if frames and (not kept or kept[-1] is not frames[-1]):
        kept.append(frames[-1])
    lines = traceback.format_list(kept) if kept else []
    text = "".join(lines) + "".join(traceback.format_exception_only(type(error), error))
    return ("Traceback (most recent call last):\n" + text) if lines else text


class Session:
    def __init__(self, impl: Path) -> None:
        self.impl = impl.resolve()
        self.objects: dict[int, Any] = {}  # nn.Modules built by `build`, TrainingRuns by `training_start`
        self.next_handle = 1
        self.package_loaded = False
        self.policy_passed: set[str] = set()

    def run_student(self, kind: str, what: str, fn: Callable[[], Any]) -> Any:
        """Call student code, turning anything it raises (SystemExit included) into StudentError."""
        try:
            return fn()
        except (Exception, SystemExit, KeyboardInterrupt, GeneratorExit) as error:
            summary = f"{what} raised {type(error).__name__}: {error}"
            if isinstance(error, SystemExit):
                summary = f"{what} called sys.exit({error.code!r})"
            raise StudentError(kind, summary, student_traceback(error, self.impl)) from None

    def module(self, name: str) -> Any:
        """The graded folder's module `name`, imported once it passed the import policy."""
        if not (self.impl / f"{name}.py").is_file():
            raise StudentError("import", f"{name}.py is missing from the submission", "")
        if name not in self.policy_passed:  # files do not change during a session: read each once
            forbidden = import_policy.violations(self.impl / f"{name}.py")
            if forbidden:
                raise StudentError("import", f"{name}.py uses {', '.join(forbidden)}: this lab asks you to write "
                                             "the blocks yourself, without ready-made or pretrained models", "")
            self.policy_passed.add(name)
        if not self.package_loaded:
            self.run_student("import", "loading the submission", lambda: load_package(self.impl, PACKAGE))
            self.package_loaded = True
        return self.run_student("import", f"importing {name}.py",
                                lambda: importlib.import_module(f"{PACKAGE}.{name}"))

    def build(self, module: str, name: str, args: list, kwargs: dict, seed: int) -> nn.Module:
        """`module.name(*args, **kwargs)` from the graded folder, after torch.manual_seed(seed)."""
        found = self.module(module)
        if not hasattr(found, name):
            raise StudentError("import", f"{module}.py defines no {name}", "")
        call = describe_call(name, args, kwargs)
        torch.manual_seed(seed)
        obj = self.run_student("build", call, lambda: getattr(found, name)(*args, **kwargs))
        if not isinstance(obj, nn.Module):
            raise StudentError("build", f"{call} returned a {type(obj).__name__}, not an nn.Module", "")
        return obj

    def keep(self, obj: Any) -> int:
        """Hold `obj` until the next `release`; its handle."""
        handle, self.next_handle = self.next_handle, self.next_handle + 1
        self.objects[handle] = obj
        return handle

    def get(self, handle: int, kind: type = nn.Module) -> Any:
        if handle not in self.objects:
            raise KeyError(f"no object with handle {handle}")
        obj = self.objects[handle]
        if not isinstance(obj, kind):
            raise KeyError(f"handle {handle} is a {type(obj).__name__}, not a {kind.__name__}")
        return obj

    def release(self) -> None:
        """Drop every object: a check's models (a default-width ResNet-34 among them) end with it.
        Reference counting frees them at once; a full gc.collect() would cost 80 ms a check for nothing."""
        self.objects.clear()
        release_free_memory()


def release_free_memory() -> None:
    """Hand freed heap back to the system: glibc keeps it otherwise, and a container counts it."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
