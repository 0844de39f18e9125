"""Training checks side by side: each in a worker of its own, as many at once as the grading's CPUs and memory allow.

A training run depends only on its seed, its settings and the code it trains: the worker builds the model after
torch.manual_seed, batches with a generator of its own and trains on the standard's thread count, so a run
computes the same accuracies to the last digit in any worker, alone or beside others. The pool starts the runs
longest first, so that its workers finish together; the checks still take their results, and report, in rubric
order.

    pool = TrainingPool(start_worker, slots=2)
    pool.start([("test_train_densenet_cifar10", densenet_job), ("test_train_lenet5_mnist", lenet_job)])
    finished = pool.result("test_train_lenet5_mnist")   # waits for it; raises what the job raised

With one slot no thread is started: each job runs when its check asks for it, in the check's own thread and the
grading's one worker, as every check did before the pool.
"""
from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from .worker_client import Worker

Job = Callable[[Worker, "Finished"], Any]  # runs one check's training in the worker it is given


@dataclass
class Finished:
    """What a job left besides its value: the lines it logged and whether it ran with its full time limit."""

    log: list[str] = field(default_factory=list)
    full_limit: bool = True
    value: Any = None
    error: BaseException | None = None


class TrainingPool:
    def __init__(self, start_worker: Callable[[], Worker], slots: int, on_close: Callable[[], None] = lambda: None,
                 serial_worker: Worker | None = None) -> None:
        """`start_worker` makes a worker for each slot; `serial_worker` is the one used with a single slot;
        `on_close` runs once every slot's worker is closed (sweeping what the submission left running)."""
        self.start_worker, self.slots, self.on_close = start_worker, slots, on_close
        self.serial_worker = serial_worker
        self.jobs: dict[str, Job] = {}
        self.futures: dict[str, Future] = {}
        self.executor: ThreadPoolExecutor | None = None
        self.workers: list[Worker] = []
        self.local = threading.local()
        self.lock = threading.Lock()
        self.closed = False

    @property
    def parallel(self) -> bool:
        return self.slots > 1

    def start(self, jobs: list[tuple[str, Job]], make_room: Callable[[], None] = lambda: None) -> None:
        """Queue the jobs, in the order given (longest first), on no more slots than there are jobs; with one
        slot they wait for `result`. Side by side, `make_room` runs first (closing a worker no longer needed)."""
        self.jobs.update(jobs)
        self.slots = min(self.slots, max(1, len(jobs)))
        if not self.parallel:
            return
        make_room()
        self.executor = self.executor or ThreadPoolExecutor(max_workers=self.slots, thread_name_prefix="training")
        for name, job in jobs:
            self.futures[name] = self.executor.submit(self._run_in_slot, job)

    def started(self, name: str) -> bool:
        return name in self.jobs

    def result(self, name: str) -> Finished:
        """The finished job `name`: waits for it (or, with one slot, runs it now). Its error is in `error`.
        Once every job has been collected, the slots' workers are closed."""
        job = self.jobs.pop(name)
        try:
            if not self.parallel:
                return self._run(job, self.serial_worker)
            return self.futures.pop(name).result()
        finally:
            if not self.jobs:
                self.close()

    def _run_in_slot(self, job: Job) -> Finished:
        worker = getattr(self.local, "worker", None)
        if worker is None:
            worker = self.local.worker = self.start_worker()
            with self.lock:
                self.workers.append(worker)
        with self.lock:
            if self.closed:  # a job already under way when the pool closed: not started
                return Finished(error=RuntimeError("the grading was stopped"))
        return self._run(job, worker)

    @staticmethod
    def _run(job: Job, worker: Worker) -> Finished:
        finished = Finished()
        try:
            finished.value = job(worker, finished)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:  # pytest's failures too: the check raises it in its own thread
            finished.error = error
        finally:
            worker.set_time_limit(None)
            worker.kill_strays()
            worker.release()
        return finished

    def close(self) -> None:
        """Stop: queued jobs are dropped, running ones end with their worker (killed), every slot is closed."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
        if self.executor is not None:
            for future in self.futures.values():
                future.cancel()
            with self.lock:  # a slot starting now sees `closed` and runs nothing
                for worker in self.workers:
                    worker.interrupt()
            self.executor.shutdown(wait=True)
            for worker in self.workers:
                worker.close()
            self.on_close()
