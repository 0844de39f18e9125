"""The worker: the only process that imports and runs code from the graded folder.

    python -I worker.py IMPL_DIR REQUEST_FD REPLY_FD

It reads requests from REQUEST_FD and writes replies to REPLY_FD in the format of
`wire.py`. Student objects stay here, named by integer handles; only plain data (tensors,
numbers, strings) goes back. Every reply is {"ok": value} or {"error": {...}} carrying the
student's own traceback. `handle_request` is also what the --inprocess mode calls directly.
"""
from __future__ import annotations

import ctypes
import importlib
import math
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

if __name__ == "__main__":
    # Started with `python -I`, so our sibling modules are not on the path by default.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import import_policy
    from loop_fixtures import (Loader, RecordingLoss, SpyOptimizer, SpyScheduler, loop_model,
                               record_forward_calls)
    from package_loader import load_package
    from training_run import Settings, TrainingRun, training_cnn
    import wire
else:
    from . import import_policy
    from .loop_fixtures import (Loader, RecordingLoss, SpyOptimizer, SpyScheduler, loop_model,
                                record_forward_calls)
    from .package_loader import load_package
    from .training_run import Settings, TrainingRun, training_cnn
    from . import wire

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

PACKAGE = "submission"


class StudentCodeError(Exception):
    """Student code raised: carries the traceback cut down to the student's frames."""

    def __init__(self, kind: str, summary: str, trace: str) -> None:
        super().__init__(summary)
        self.kind, self.summary, self.trace = kind, summary, trace


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
    """The worker's state: the graded folder, imported modules and live objects."""

    def __init__(self, impl: Path) -> None:
        self.impl = impl.resolve()
        self.objects: dict[int, nn.Module] = {}
        self.runs: dict[int, TrainingRun] = {}
        self.next_handle = 1
        self.package_loaded = False
        self.policy_passed: set[str] = set()

    def run_student(self, kind: str, what: str, fn: Callable[[], Any]) -> Any:
        """Call student code, turning anything it raises (SystemExit included) into StudentCodeError."""
        try:
            return fn()
        except (Exception, SystemExit, KeyboardInterrupt, GeneratorExit) as error:
            summary = f"{what} raised {type(error).__name__}: {error}"
            if isinstance(error, SystemExit):
                summary = f"{what} called sys.exit({error.code!r})"
            raise StudentCodeError(kind, summary, student_traceback(error, self.impl)) from None

    def module(self, name: str) -> Any:
        if not (self.impl / f"{name}.py").is_file():
            raise StudentCodeError("import", f"{name}.py is missing from the submission", "")
        if name not in self.policy_passed:  # files do not change during a session: read each once
            forbidden = import_policy.violations(self.impl / f"{name}.py")
            if forbidden:
                raise StudentCodeError("import", f"{name}.py uses {', '.join(forbidden)}: this lab asks you to write "
                                                 "the blocks yourself, without ready-made or pretrained models", "")
            self.policy_passed.add(name)
        if not self.package_loaded:
            self.run_student("import", "loading the submission", lambda: load_package(self.impl, PACKAGE))
            self.package_loaded = True
        return self.run_student("import", f"importing {name}.py",
                                lambda: importlib.import_module(f"{PACKAGE}.{name}"))

    def get(self, handle: int) -> nn.Module:
        if handle not in self.objects:
            raise KeyError(f"no object with handle {handle}")
        return self.objects[handle]

    # Requests. Each takes plain data and returns plain data.

    def op_ping(self) -> dict:
        return {"pid": os.getpid(), "torch": torch.__version__}

    def _build(self, module: str, name: str, args: list, kwargs: dict, seed: int) -> nn.Module:
        mod = self.module(module)
        if not hasattr(mod, name):
            raise StudentCodeError("import", f"{module}.py defines no {name}", "")
        call = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
        torch.manual_seed(seed)
        obj = self.run_student("build", f"{name}({call})", lambda: getattr(mod, name)(*args, **kwargs))
        if not isinstance(obj, nn.Module):
            raise StudentCodeError("build", f"{name}({call}) returned a {type(obj).__name__}, not an nn.Module", "")
        return obj

    def op_build(self, module: str, name: str, args: list, kwargs: dict, seed: int) -> int:
        handle, self.next_handle = self.next_handle, self.next_handle + 1
        self.objects[handle] = self._build(module, name, args, kwargs, seed)
        return handle

    def op_release(self) -> None:
        """Drop every object and run: a check's models (a default-width ResNet-34 among them) end with it.
        Reference counting frees them at once; a full gc.collect() would cost 80 ms a check for nothing."""
        self.objects.clear()
        self.runs.clear()
        release_free_memory()

    def _forward(self, handle: int, x: torch.Tensor, train: bool) -> torch.Tensor:
        model = self.get(handle)
        self.run_student("forward", "train()/eval()", lambda: model.train(train))
        y = self.run_student("forward", "forward", lambda: model(x))
        if not isinstance(y, torch.Tensor):
            raise StudentCodeError("forward", f"forward returned a {type(y).__name__}, not a tensor", "")
        return y

    def op_forward(self, handle: int, x: torch.Tensor, train: bool) -> torch.Tensor:
        with torch.no_grad():
            return self._forward(handle, x, train).as_subclass(torch.Tensor).detach().clone()

    def op_backward(self, handle: int, x: torch.Tensor, grad_output: torch.Tensor, train: bool) -> dict:
        model = self.get(handle)
        for p in model.parameters():
            p.grad = None
        x = x.clone().requires_grad_(True)
        y = self._forward(handle, x, train)
        if y.shape != grad_output.shape:
            raise StudentCodeError("forward", f"forward returned shape {tuple(y.shape)}, expected "
                                              f"{tuple(grad_output.shape)}", "")
        if not y.requires_grad:
            raise StudentCodeError("backward", "the output does not depend on any parameter or on the input "
                                               "through autograd (was it detached, or computed under no_grad?)", "")
        self.run_student("backward", "backward", lambda: y.backward(grad_output))
        return {
            "output": y.detach().as_subclass(torch.Tensor).clone(),
            "input_grad": None if x.grad is None else x.grad.clone(),
            "param_grads": {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()},
        }

    def op_parameters(self, handle: int) -> list[dict]:
        return [{"name": n, "shape": list(p.shape), "requires_grad": p.requires_grad}
                for n, p in self.get(handle).named_parameters()]

    def op_modules(self, handle: int) -> list[dict]:
        summary = []
        for path, module in self.get(handle).named_modules():
            entry: dict[str, Any] = {"path": path, "type": type(module).__name__,
                                     "params": {n: list(p.shape) for n, p in module.named_parameters(recurse=False)}}
            if isinstance(module, nn.Conv2d):
                entry.update(kind="conv2d", groups=module.groups, stride=list(module.stride),
                             padding=list(module.padding) if not isinstance(module.padding, str) else module.padding,
                             kernel_size=list(module.kernel_size), bias=module.bias is not None)
            elif isinstance(module, nn.BatchNorm2d):
                entry.update(kind="batchnorm2d", eps=module.eps, momentum=module.momentum)
            elif isinstance(module, nn.Linear):
                entry.update(kind="linear", bias=module.bias is not None)
            summary.append(entry)
        return summary

    def op_trace(self, handle: int, x: torch.Tensor, train: bool) -> list[str]:
        self.run_student("forward", "train()/eval()", lambda: self.get(handle).train(train))
        return self.run_student("forward", "forward", lambda: call_order(self.get(handle), x))

    def op_parameter_order(self, handle: int, x: torch.Tensor, train: bool) -> list[str]:
        self.run_student("forward", "train()/eval()", lambda: self.get(handle).train(train))
        return self.run_student("forward", "forward", lambda: parameter_order(self.get(handle), x))

    def op_state(self, handle: int) -> dict:
        return {k: v.detach().clone() for k, v in self.get(handle).state_dict().items()}

    def op_load(self, handle: int, tensors: dict) -> None:
        model = self.get(handle)
        named = dict(model.named_parameters()) | dict(model.named_buffers())
        with torch.no_grad():
            for name, value in tensors.items():
                if name not in named or named[name].shape != value.shape:
                    raise KeyError(f"cannot load {name} {tuple(value.shape)}")
                named[name].copy_(value)

    def op_train_epoch(self, state: dict, batches: list, use_scheduler: bool) -> dict:
        train = self.module("train")
        model = loop_model()
        model.load_state_dict(state)
        model.eval()  # so that a loop that never calls model.train() shows
        calls = record_forward_calls(model)
        optimizer = SpyOptimizer(model.parameters())
        scheduler = SpyScheduler(optimizer) if use_scheduler else None
        loader = Loader(batches)
        criterion = RecordingLoss()
        returned = self.run_student("loop", "train_one_epoch", lambda: train.train_one_epoch(
            model, loader, optimizer, criterion, torch.device("cpu"), scheduler))
        return {
            "returned": describe_number(returned),
            "state": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "applied_gradients": optimizer.applied_gradients,
            "fresh_gradients": optimizer.fresh_gradients,
            "batch_losses": criterion.values,
            "scheduler_steps": None if scheduler is None else scheduler.steps_taken,
            "forward_calls": calls,
        }

    def op_evaluate(self, state: dict, batches: list) -> dict:
        train = self.module("train")
        model = loop_model()
        model.load_state_dict(state)
        model.train()  # so that a loop that never calls model.eval() shows
        calls = record_forward_calls(model)
        loader = Loader(batches)
        returned = self.run_student("loop", "evaluate", lambda: train.evaluate(model, loader, torch.device("cpu")))
        return {
            "returned": describe_number(returned),
            "state": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "has_gradients": any(p.grad is not None for p in model.parameters()),
            "forward_calls": calls,
        }


    def op_training_start(self, module: str | None, factory: str, kwargs: dict, seed: int, images: torch.Tensor,
                       labels: torch.Tensor, settings: dict, device: str, threads: int) -> int:
        """Build the model (the student's factory, or the grader's CNN when module is None) and its run."""
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.set_flush_denormal(True)  # weights decaying towards zero would otherwise slow CPUs down 10x
        if module is None:
            torch.manual_seed(seed)
            model = training_cnn(images.shape[1])
        else:
            model = self._build(module, factory, [], kwargs, seed)
        handle, self.next_handle = self.next_handle, self.next_handle + 1
        self.runs[handle] = self.run_student("train", "moving the model to the device", lambda: TrainingRun(
            model, images, labels, Settings(**settings), seed, torch.device(device)))
        return handle

    def op_training_epoch(self, run: int, student_loop: bool) -> float:
        loop = self.module("train").train_one_epoch if student_loop else None
        loss = self.run_student("train", "training", lambda: self.runs[run].train_epoch(loop))
        return float(loss)

    def op_training_predict(self, run: int, images: torch.Tensor) -> torch.Tensor:
        return self.run_student("train", "forward", lambda: self.runs[run].predict(images))

    def op_training_end(self, run: int) -> None:
        self.runs.pop(run, None)


def release_free_memory() -> None:
    """Hand freed heap back to the system: glibc keeps it otherwise, and a container counts it."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def call_order(model: nn.Module, x: torch.Tensor) -> list[str]:
    """Paths of the modules owning parameters (and batch norms), in the order forward first calls them."""
    order: list[str] = []
    hooks = [
        module.register_forward_pre_hook(lambda m, i, path=path: order.append(path) if path not in order else None)
        for path, module in model.named_modules()
        if any(True for _ in module.parameters(recurse=False)) or isinstance(module, nn.BatchNorm2d)
    ]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return order


class _FirstUses(TorchFunctionMode):
    """Records which of `names`' tensors each torch function call receives, in the order first received."""

    def __init__(self, names: dict[int, str]) -> None:
        super().__init__()
        self.names, self.order = names, []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        for value in (*args, *kwargs.values()):
            for item in value if isinstance(value, (list, tuple)) else (value,):
                name = self.names.get(id(item))
                if name is not None and name not in self.order:
                    self.order.append(name)
        return func(*args, **kwargs)


def parameter_order(model: nn.Module, x: torch.Tensor) -> list[str]:
    """Names of the parameters forward uses, in the order it first uses them, whatever holds them: an
    nn.Conv2d, or a raw nn.Parameter handed to F.conv2d, registered in any order."""
    recorder = _FirstUses({id(p): name for name, p in model.named_parameters()})
    with torch.no_grad(), recorder:
        model(x)
    return recorder.order


def describe_number(value: Any) -> dict:
    """What a loop function returned: its exact type's name and, if it converts, its float value."""
    try:
        number = float(value)
    except Exception:
        number = None
    if number is not None and not math.isfinite(number):
        number = str(number)
    return {"type": type(value).__name__, "value": number}


def handle_request(session: Session, request: dict) -> dict:
    """Run one request; never raises (the judge gets an error reply instead)."""
    op = request.get("op") if isinstance(request, dict) else None
    method = getattr(session, f"op_{op}", None) if isinstance(op, str) else None
    if method is None:
        return {"error": {"kind": "protocol", "summary": f"unknown request {op!r}", "trace": ""}}
    try:
        return {"ok": method(**request.get("args", {}))}
    except StudentCodeError as error:
        return {"error": {"kind": error.kind, "summary": error.summary, "trace": error.trace}}
    except BaseException as error:  # our own fault or a broken object from the student
        return {"error": {"kind": "worker", "summary": f"{type(error).__name__}: {error}",
                          "trace": "".join(traceback.format_exception(error))[-4000:]}}


def _read_exact(fd: int, size: int) -> bytes | None:
    chunks, remaining = [], size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def volunteer_for_the_oom_killer() -> None:
    """When the container's memory runs out, the kernel kills this process (and the submission's
    children, which inherit the score), not the judge that reports what happened."""
    try:
        Path("/proc/self/oom_score_adj").write_text("1000")
    except OSError:  # not Linux
        pass


def serve(impl: Path, request_fd: int, reply_fd: int) -> None:
    volunteer_for_the_oom_killer()
    import_policy.enforce()
    session = Session(impl)
    worker = os.getpid()
    while True:
        prefix = _read_exact(request_fd, wire.PREFIX_SIZE)
        if prefix is None:
            return
        header = wire.parse_header(_read_exact(request_fd, wire.header_length(prefix)) or b"")
        payload = _read_exact(request_fd, wire.payload_length(header)) or b""
        reply = handle_request(session, wire.decode_body(header, payload))
        if os.getpid() != worker:  # a copy the submission forked has returned here: only the worker answers
            os._exit(0)
        try:
            message = wire.encode(reply)
        except Exception as error:
            message = wire.encode({"error": {"kind": "worker", "summary": f"reply not encodable: {error}", "trace": ""}})
        _write_all(reply_fd, message)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


if __name__ == "__main__":
    serve(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
