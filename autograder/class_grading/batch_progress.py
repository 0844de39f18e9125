"""A class batch's progress for the person waiting on it: graded, running and failed uploads, the rate, an ETA.

On a terminal it is a tqdm bar; otherwise one plain line per finished upload, which a log file or a
scheduler's output keeps readably.
"""
from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm


class BatchProgress:
    """Say, as each upload finishes, how far a batch of `total` uploads graded `workers` at a time is."""

    def __init__(self, total: int, workers: int, stream: TextIO = sys.stderr) -> None:
        self.total, self.workers, self.stream = total, workers, stream
        self.done = self.failed = 0
        self.started = time.monotonic()
        self.bar = None
        if stream.isatty():
            self.bar = tqdm(total=total, unit="upload", file=stream, dynamic_ncols=True, smoothing=0)

    @property
    def running(self) -> int:
        return min(self.workers, self.total - self.done)

    def finished(self, student: str, score: float, failed: bool) -> None:
        """One upload is graded (`failed`: it ended in an autograder error, not in a score of its code)."""
        self.done += 1
        self.failed += failed
        last = f"{student}: {'autograder error' if failed else f'{score:g}'}"
        if self.bar is not None:
            self.bar.set_postfix_str(f"running {self.running}, failed {self.failed}, last {last}", refresh=False)
            self.bar.update(1)
        else:
            print(self.line(last), file=self.stream, flush=True)

    def line(self, last: str) -> str:
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed * 3600 if elapsed > 0 else 0.0
        left = f", about {elapsed / self.done * (self.total - self.done) / 60:.0f} min left" if self.done < self.total else ""
        return (f"{self.done}/{self.total} graded, {self.running} running, {self.failed} failed, "
                f"{rate:.0f} uploads/h{left}  ({last})")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
