"""The judge's side of the worker: start it, send requests, enforce time limits, read replies.

    worker = SubprocessWorker(Path("assignment"))
    block = Submission(worker).build("resnet", "BasicBlock", 64, 64, stride=1)
    y = block.forward(torch.randn(2, 64, 8, 8))

Student code never runs in this process (unless --inprocess picks `InProcessWorker`, for
debugging). A reply is plain data; errors arrive as exceptions carrying the student's
traceback: `StudentError`, `StudentTimeout`, `WorkerCrashed`.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..worker import wire
from ..worker.contract import (BackwardReply, DeviceReply, EpochReply, EvaluateReply, ModuleInfo, ParameterInfo,
                               StudentError, describe_call)
from ..worker.serve import handle_request
from ..worker.session import Session
from .allocator import with_faster_allocator
from .pipe_channel import PipeChannel
from .processes import kill_process_group, own_process_group

if TYPE_CHECKING:  # the sandbox is Linux only, and imported only where one is made
    from .sandbox import Sandbox

WORKER_FOLDER = Path(__file__).resolve().parent.parent / "worker"
STARTUP_HANG_BOUND = 300.0  # seconds for a new worker's first answer: only a broken interpreter takes this long
RELEASE_HANG_BOUND = 30.0  # seconds to drop a check's objects: a student __del__ that loops gets the worker closed


class StudentTimeout(StudentError):
    """The student's code did not answer within the check's time limit."""


class WorkerCrashed(StudentError):
    """The worker process died (os._exit, a segfault, out of memory) or sent a malformed reply."""


class Worker:
    """Sends one request at a time. `deadline` (set by `set_time_limit`) bounds every request until reset."""

    def __init__(self) -> None:
        self.deadline: float | None = None
        self.limit: float | None = None  # the seconds the deadline was set to, for the timeout's message
        self.full_limit = True  # False: the grading's time left cut this check's limit short
        # What hung or killed the worker, by the student code that did: (module, "") its import,
        # (module, name) a constructor, (module, name, member) a method or a function.
        self.stuck: dict[tuple[str, ...], StudentError] = {}
        self.imported: set[str] = set()

    def set_time_limit(self, seconds: float | None, full: bool = True) -> None:
        """Bound every request until reset; `full=False`: the grading's time left cut it below the check's own."""
        self.deadline = None if seconds is None else time.monotonic() + seconds
        self.limit, self.full_limit = seconds, full

    def request(self, op: str, **args: Any) -> Any:
        reply = self._exchange({"op": op, "args": args})
        if not isinstance(reply, dict) or not (("ok" in reply) ^ ("error" in reply)):
            raise WorkerCrashed("worker", "the worker sent a malformed reply", "")
        if "error" in reply:
            error = reply["error"] if isinstance(reply["error"], dict) else {}
            raise StudentError(str(error.get("kind", "?")), str(error.get("summary", "?")), str(error.get("trace", "")))
        return reply["ok"]

    def hung(self, module: str) -> tuple[str, StudentError] | None:
        """The first student code of `module` that hung or killed the worker, as (what, error), if any did."""
        return next(((code_name(key), error) for key, error in self.stuck.items() if key[0] == module), None)

    def guarded(self, target: tuple[str, ...], op: str, **args: Any) -> Any:
        """A request that runs the student code `target`: (module, name) a class or function, (module, name,
        member) a method. Its module is imported by a request of its own first, so that a hang is blamed on
        the code that hung. Once that code (or its module's import) has hung or killed the worker, later
        requests for it fail at once with the same error rather than wait out another time limit: an endless
        loop costs one check's limit, not one per check."""
        module = target[0]
        if module not in self.imported:
            self._guarded((module, ""), "import", module=module)
            self.imported.add(module)
        return self._guarded(target, op, **args)

    def _guarded(self, key: tuple[str, ...], op: str, **args: Any) -> Any:
        for earlier_key in (key, (key[0], "")):
            if earlier_key in self.stuck:
                earlier = self.stuck[earlier_key]
                raise type(earlier)(earlier.kind, f"in an earlier check, {code_name(earlier_key)}: {earlier.summary}; "
                                                  "so it was not tried again", earlier.trace)
        try:
            return self.request(op, **args)
        except StudentTimeout as error:
            if self.full_limit:  # cut short by the grading's time left, it is not known to hang
                self.stuck[key] = error
            raise
        except WorkerCrashed as error:
            self.stuck[key] = error
            raise

    def construct(self, target: tuple[str, str], op: str, **args: Any) -> Any:
        """A request that runs the constructor `target` = (module, name), guarded like any student code."""
        return self.guarded(target, op, **args)

    def _exchange(self, request: dict) -> Any:
        raise NotImplementedError

    def release(self) -> None:
        """At the end of a check, drop what it built in the worker (its memory, not its imports)."""

    def kill_strays(self) -> None:
        """Kill processes the submission started (the worker itself stays)."""

    def interrupt(self) -> None:
        """From another thread: end the request under way (its thread then sees the worker crash)."""

    def close(self) -> None:
        pass


class InProcessWorker(Worker):
    """Runs student code in this very process: for debugging only, nothing is isolated or timed."""

    def __init__(self, impl: Path) -> None:
        super().__init__()
        self.session = Session(impl)

    def release(self) -> None:
        self.request("release")

    def _exchange(self, request: dict) -> Any:
        # A round trip through the wire format keeps both modes returning the same plain data.
        return wire.decode(wire.encode(handle_request(self.session, wire.decode(wire.encode(request)))))


class SubprocessWorker(Worker):
    """A `python -I autograder/worker` child in its own process group, restarted after a crash or a
    timeout. Requests go to its stdin and replies come from its stdout (the worker moves both off
    fds 0 and 1 before any student code runs, so a print lands on stderr).

    With a sandbox, the child runs as the sandbox's user under its limits, and closing the
    worker also kills whatever that user left running, unless `sweeps` is False (a worker beside
    others of the same user: whoever started them all sweeps once they are closed). `portable`: use
    only what every OS has (processes.py), as on Windows. `dies_with_parent`: killed with the thread that
    started it (Linux), for a worker started by a Ray task, which its node may kill outright.
    """

    def __init__(self, impl: Path, sandbox: Sandbox | None = None, threads: int | None = None,
                 portable: bool = False, sweeps: bool = True, dies_with_parent: bool = False) -> None:
        super().__init__()
        self.impl, self.sandbox, self.threads, self.portable = impl, sandbox, threads, portable
        self.sweeps, self.dies_with_parent = sweeps, dies_with_parent
        self.stopped = False  # interrupted: no new request is sent
        self.process: subprocess.Popen | None = None
        self.channel: PipeChannel | None = None
        self.starts = 0

    def _start(self) -> None:
        args = [str(self.impl)]
        command = (self.sandbox.command(args) if self.sandbox
                   else [sys.executable, "-I", str(WORKER_FOLDER), *args])
        environment = with_faster_allocator(self.sandbox.environment() if self.sandbox else dict(os.environ))
        if self.threads:  # torch's default is every CPU of the affinity mask, whatever the quota
            environment["OMP_NUM_THREADS"] = str(self.threads)
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0, env=environment,
                                        **own_process_group(self.portable, self.dies_with_parent))
        self.channel = PipeChannel(self.process.stdin, self.process.stdout, self._time_left)
        self.starts += 1

    def release(self) -> None:
        if self.process is None:  # a worker that died or timed out took its objects with it
            return
        self.set_time_limit(RELEASE_HANG_BOUND)
        try:
            self.request("release")
        except StudentError:  # a hung or crashed worker was closed, which frees everything
            pass
        finally:
            self.set_time_limit(None)

    def kill_strays(self) -> None:
        if self.sweeps and self.sandbox is not None and self.process is not None:
            if self.sandbox.kill_leftovers(spare=self.process.pid):
                # Forked copies of the worker share its pipes and may have left replies in them.
                self.close()

    def close(self) -> None:
        if self.process is None:
            return
        kill_process_group(self.process, self.portable)
        self.process.wait()
        if self.sandbox and self.sweeps:
            self.sandbox.kill_leftovers()
        self.channel.close()
        self.process, self.channel = None, None

    def interrupt(self) -> None:
        self.stopped = True
        process = self.process
        if process is not None:
            kill_process_group(process, self.portable)

    def _exchange(self, request: dict) -> Any:
        if self.stopped:
            raise WorkerCrashed("crash", "the grading was stopped", "")
        try:
            if self.process is None:
                self._start_and_wait()
            return self._round_trip(request)
        except StudentTimeout:
            self.close()
            raise
        except (BrokenPipeError, EOFError, wire.WireError) as error:
            code = self._exit_status()
            self.close()
            if isinstance(error, wire.WireError):
                raise WorkerCrashed("crash", f"the worker's reply was malformed ({error}); "
                                             "did the submission write to its pipes?", "") from None
            raise WorkerCrashed("crash", _death_message(code), "") from None

    def _exit_status(self) -> int | None:
        """The worker's exit status, waiting a little: on a loaded machine the pipes close before it is reaped."""
        try:
            return self.process.wait(timeout=2) if self.process else None
        except subprocess.TimeoutExpired:
            return None  # alive with its pipes closed (os._exit() in a forked child)

    def _start_and_wait(self) -> None:
        """Start the worker and wait for its first answer. Start-up (importing torch, seconds on a loaded
        machine) is the grader's time, not the check's: the check's deadline moves on by as much."""
        started, deadline = time.monotonic(), self.deadline
        self._start()
        self.deadline = started + STARTUP_HANG_BOUND
        try:
            self._round_trip({"op": "ping", "args": {}})
        finally:
            self.deadline = None if deadline is None else deadline + (time.monotonic() - started)

    def _round_trip(self, request: dict) -> Any:
        self.channel.write(wire.encode(request))
        return wire.receive(self.channel.read_exact)

    def _time_left(self) -> float | None:
        """Seconds until the deadline (None: no deadline); past it, the submission has timed out."""
        if self.deadline is None:
            return None
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise StudentTimeout("timeout", f"did not return within its time limit of {self.limit:.0f} s "
                                            "(an endless loop, or far too slow)", "")
        return left


def code_name(key: tuple[str, ...]) -> str:
    """How feedback names the student code behind a `Worker.stuck` key."""
    module, name, *member = key
    if not name:
        return f"importing {module}.py"
    return f"{name}.{member[0]}" if member else name


def _death_message(code: int | None) -> str:
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        return f"the worker running the submission was killed by {name}" + (
            " (out of memory?)" if name == "SIGKILL" else "")
    if code is None:
        return "the worker running the submission closed its pipes (os._exit() in a child, or a crash in native code)"
    return f"the submission ended the worker process (exit status {code}): os._exit() or a crash in native code"


@dataclass
class RemoteModule:
    """A student nn.Module living in the worker. Every method returns plain data."""

    worker: Worker
    handle: int
    description: str
    target: tuple[str, str]  # (module, class name) in the graded folder

    def run_forward(self, op: str, **args: Any) -> Any:
        """A request that calls the module's forward: guarded, so a forward that hung is not run again."""
        return self.worker.guarded((*self.target, "forward"), op, handle=self.handle, **args)

    def forward(self, x: torch.Tensor, train: bool = False) -> torch.Tensor:
        return self.run_forward("forward", x=x, train=train)

    def backward(self, x: torch.Tensor, grad_output: torch.Tensor, train: bool = True) -> BackwardReply:
        """Forward x, back-propagate grad_output; returns output, input_grad and param_grads."""
        return self.run_forward("backward", x=x, grad_output=grad_output, train=train)

    def parameters(self) -> list[ParameterInfo]:
        """[{"name", "shape", "requires_grad"}] in named_parameters() order."""
        return self.worker.request("parameters", handle=self.handle)

    def parameter_count(self) -> int:
        return sum(int(torch.Size(p["shape"]).numel()) for p in self.parameters())

    def modules(self) -> list[ModuleInfo]:
        """Every submodule: path, type, kind (conv2d, batchnorm2d, linear), configuration, own parameters."""
        return self.worker.request("modules", handle=self.handle)

    def trace(self, x: torch.Tensor, train: bool = False) -> list[str]:
        """Paths of parameter-owning modules (and batch norms) in the order forward calls them."""
        return self.run_forward("trace", x=x, train=train)

    def parameter_order(self, x: torch.Tensor, train: bool = False) -> list[str]:
        """Names of the parameters forward uses, in the order it first uses them (modules or raw parameters)."""
        return self.run_forward("parameter_order", x=x, train=train)

    def state(self) -> dict[str, torch.Tensor]:
        return self.worker.request("state", handle=self.handle)

    def load(self, tensors: dict[str, torch.Tensor]) -> None:
        self.worker.request("load", handle=self.handle, tensors=tensors)


class Submission:
    """The graded folder, reached through a worker."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    def build(self, module: str, name: str, *args: Any, seed: int = 0, **kwargs: Any) -> RemoteModule:
        """Construct `module.name(*args, **kwargs)` in the worker, after torch.manual_seed(seed)."""
        handle = self.worker.guarded((module, name), "build", module=module, name=name, args=list(args),
                                     kwargs=kwargs, seed=seed)
        return RemoteModule(self.worker, handle, describe_call(name, args, kwargs), (module, name))

    def train_epoch(self, state: dict, batches: list, use_scheduler: bool) -> EpochReply:
        return self.worker.guarded(("train", "train_one_epoch"), "train_epoch", state=state, batches=batches,
                                   use_scheduler=use_scheduler)

    def evaluate(self, state: dict, batches: list) -> EvaluateReply:
        return self.worker.guarded(("train", "evaluate"), "evaluate", state=state, batches=batches)

    def device_moves(self, state: dict, batches: list, function: str) -> DeviceReply:
        """What a GPU would refuse in `function` (train_one_epoch or evaluate), run on a simulated one."""
        return self.worker.guarded(("train", function), "device_moves", state=state, batches=batches,
                                   function=function)
