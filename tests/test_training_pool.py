"""Training checks side by side (`autograder/judge/training_pool.py`), with workers that stand in for real ones."""
from __future__ import annotations

import threading

from autograder.judge.training_pool import Finished, TrainingPool
from autograder.judge.worker_client import Worker, WorkerCrashed

PATIENCE = 10.0  # seconds a job waits for its partner before the test fails (never on a working pool)


class StandInWorker(Worker):
    """Records what the pool does to it; `interrupt` wakes a job blocked in `wait_for_interrupt`."""

    def __init__(self) -> None:
        super().__init__()
        self.interrupted, self.closed, self.released = threading.Event(), False, 0

    def wait_for_interrupt(self) -> None:
        if not self.interrupted.wait(PATIENCE):
            raise AssertionError("never interrupted")
        raise WorkerCrashed("crash", "the grading was stopped", "")

    def interrupt(self) -> None:
        self.interrupted.set()

    def release(self) -> None:
        self.released += 1

    def close(self) -> None:
        self.closed = True


def pool_of(slots: int) -> tuple[TrainingPool, list[StandInWorker], list[str]]:
    started: list[StandInWorker] = []
    swept: list[str] = []

    def start_worker() -> StandInWorker:
        started.append(StandInWorker())
        return started[-1]

    pool = TrainingPool(start_worker, slots, on_close=lambda: swept.append("swept"), serial_worker=StandInWorker())
    return pool, started, swept


def test_two_slots_run_two_checks_at_once_in_workers_of_their_own() -> None:
    pool, started, swept = pool_of(2)
    both_running = threading.Barrier(2, timeout=PATIENCE)

    def job(worker: Worker, finished: Finished) -> int:
        finished.log.append(f"ran in {id(worker)}")
        both_running.wait()  # breaks (and the job fails) unless the other job runs at the same time
        return id(worker)

    workers_at_make_room: list[int] = []
    pool.start([("a", job), ("b", job)], make_room=lambda: workers_at_make_room.append(len(started)))
    assert workers_at_make_room == [0], "room was not made before the slots started their workers"
    a, b = pool.result("b"), pool.result("a")  # taken in any order
    assert a.error is None and b.error is None, (a.error, b.error)
    assert a.value != b.value and {a.value, b.value} == {id(w) for w in started}, "the checks shared a worker"
    assert a.log == [f"ran in {a.value}"]
    assert all(w.closed and w.released == 1 for w in started), "the slots' workers outlived their last check"
    assert swept == ["swept"], "what the submission left running was not swept once, after the last check"


def test_one_slot_runs_each_check_when_asked_in_the_gradings_own_worker() -> None:
    pool, started, _ = pool_of(1)
    ran: list[str] = []

    def job(name: str):
        def run(worker: Worker, finished: Finished) -> Worker:
            ran.append(name)
            return worker
        return run

    pool.start([("long", job("long")), ("short", job("short"))], make_room=lambda: ran.append("room made"))
    assert ran == [], "with one slot nothing runs before its check asks, and the grading's worker stays"
    assert pool.result("short").value is pool.serial_worker and ran == ["short"]
    assert pool.result("long").value is pool.serial_worker and ran == ["short", "long"]
    assert started == [], "one slot started a worker besides the grading's"


def test_one_check_alone_runs_in_the_gradings_own_worker_whatever_the_slots() -> None:
    pool, started, _ = pool_of(2)
    pool.start([("only", lambda worker, finished: worker)])
    assert not pool.parallel and pool.result("only").value is pool.serial_worker and started == []


def test_a_failing_check_costs_only_itself() -> None:
    pool, _, _ = pool_of(2)

    def fails(worker: Worker, finished: Finished) -> None:
        raise AssertionError("the network did not learn")

    pool.start([("fails", fails), ("learns", lambda worker, finished: 0.9)])
    assert str(pool.result("fails").error) == "the network did not learn"
    assert pool.result("learns").value == 0.9


def test_stopping_the_pool_ends_the_checks_under_way_and_starts_no_other() -> None:
    pool, started, swept = pool_of(2)
    ran: list[str] = []

    def blocks(worker: StandInWorker, finished: Finished) -> None:
        ran.append("blocks")
        worker.wait_for_interrupt()

    pool.start([("one", blocks), ("two", blocks), ("queued", lambda worker, finished: ran.append("queued"))])
    while len(started) < 2:  # both slots busy before the stop
        threading.Event().wait(0.01)
    pool.close()
    assert "queued" not in ran, "a check queued behind the stop still ran"
    assert all(w.interrupted.is_set() and w.closed for w in started)
    assert swept == ["swept"]

