"""The worker's main loop: read a request, run its handler, write the reply.

Requests and replies are `wire` messages; `HANDLERS` is the whole protocol. Every reply is
{"ok": value} or {"error": ErrorReply}; `handle_request` never raises, so nothing the
submission does ends the loop but a crash or a signal.
"""
from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

import torch

from . import checkpoint_requests, import_policy, loop_requests, module_requests, training_requests, wire
from .contract import StudentError
from .session import Session


def ping(session: Session) -> dict:
    return {"pid": os.getpid(), "torch": torch.__version__}


def release(session: Session) -> None:
    session.release()


HANDLERS: dict[str, Callable[..., Any]] = {
    "ping": ping,
    "release": release,
    "import": module_requests.import_module,
    "build": module_requests.build,
    "forward": module_requests.forward,
    "backward": module_requests.backward,
    "parameters": module_requests.parameters,
    "modules": module_requests.modules,
    "trace": module_requests.trace,
    "parameter_order": module_requests.parameter_order,
    "state": module_requests.state,
    "load": module_requests.load,
    "train_epoch": loop_requests.train_epoch,
    "evaluate": loop_requests.evaluate,
    "device_moves": loop_requests.device_moves,
    "training_start": training_requests.training_start,
    "training_initialise": training_requests.training_initialise,
    "training_epoch": training_requests.training_epoch,
    "training_predict": training_requests.training_predict,
    "training_end": training_requests.training_end,
    "trained_predict": checkpoint_requests.trained_predict,
}


def handle_request(session: Session, request: Any) -> dict:
    """Run one request; never raises (the judge gets an error reply instead)."""
    op = request.get("op") if isinstance(request, dict) else None
    handler = HANDLERS.get(op) if isinstance(op, str) else None
    if handler is None:
        return {"error": {"kind": "protocol", "summary": f"unknown request {op!r}", "trace": ""}}
    try:
        return {"ok": handler(session, **request.get("args", {}))}
    except StudentError as error:
        return {"error": {"kind": error.kind, "summary": error.summary, "trace": error.trace}}
    except BaseException as error:  # our own fault or a broken object from the student
        return {"error": {"kind": "worker", "summary": f"{type(error).__name__}: {error}",
                          "trace": "".join(traceback.format_exception(error))[-4000:]}}


def volunteer_for_the_oom_killer() -> None:
    """When the container's memory runs out, the kernel kills this process (and the submission's
    children, which inherit the score), not the judge that reports what happened."""
    try:
        Path("/proc/self/oom_score_adj").write_text("1000")
    except OSError:  # not Linux
        pass


def read_exact(fd: int, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def serve(impl: Path, request_fd: int, reply_fd: int) -> None:
    volunteer_for_the_oom_killer()
    import_policy.enforce()
    session = Session(impl)
    worker = os.getpid()
    while True:
        try:
            request = wire.receive(lambda size: read_exact(request_fd, size))
        except EOFError:  # the judge closed the pipe: grading is over
            return
        reply = handle_request(session, request)
        if os.getpid() != worker:  # a copy the submission forked has returned here: only the worker answers
            os._exit(0)
        try:
            message = wire.encode(reply)
        except Exception as error:
            message = wire.encode({"error": {"kind": "worker", "summary": f"reply not encodable: {error}", "trace": ""}})
        write_all(reply_fd, message)


def take_stdin_and_stdout() -> tuple[int, int]:
    """The judge's pipes, moved off fds 0 and 1 (which become /dev/null and stderr) before any
    student code runs: what a submission prints or reads cannot reach the protocol."""
    request_fd, reply_fd = os.dup(0), os.dup(1)
    nothing = os.open(os.devnull, os.O_RDONLY)
    os.dup2(nothing, 0)
    os.close(nothing)
    os.dup2(2, 1)
    return request_fd, reply_fd


def main(argv: list[str]) -> None:
    """IMPL_DIR: serve the judge on this process's stdin and stdout."""
    if len(argv) != 1:
        sys.exit(f"usage: python -I WORKER_FOLDER IMPL_DIR (got {argv})")
    serve(Path(argv[0]), *take_stdin_and_stdout())
