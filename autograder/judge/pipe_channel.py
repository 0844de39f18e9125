"""A child process's stdin and stdout as a message channel, read and written under a deadline.

Threads do the blocking reads and writes, so the same code runs on every OS (Windows has no
`select` on pipes, nor non-blocking pipe writes). The reader holds at most `QUEUED_CHUNKS`
chunks of `CHUNK` bytes ahead of the judge, so a worker that floods its pipe costs no more.
"""
from __future__ import annotations

import queue
import threading
from typing import IO, Callable

CHUNK = 1 << 20
QUEUED_CHUNKS = 16


class PipeChannel:
    """Writes to `requests` (the child's stdin) and reads from `replies` (its stdout), both
    unbuffered (`Popen(..., bufsize=0)`).

    `time_left()` gives the seconds left before the deadline (None: no deadline) and raises once
    it has passed; it is asked again after every wait, so a deadline moved meanwhile counts.
    """

    def __init__(self, requests: IO[bytes], replies: IO[bytes], time_left: Callable[[], float | None]) -> None:
        self.requests, self.replies, self.time_left = requests, replies, time_left
        self.chunks: queue.Queue[bytes] = queue.Queue(QUEUED_CHUNKS)
        self.buffer = bytearray()
        self.closed = threading.Event()
        threading.Thread(target=self._pump, name="worker-replies", daemon=True).start()

    def _pump(self) -> None:
        """Move what the child writes into `chunks`, ending with b"" at end of file (or on close)."""
        try:
            while not self.closed.is_set():
                chunk = self.replies.read(CHUNK)  # what the pipe holds, up to CHUNK
                self._put(chunk)
                if not chunk:
                    return
        except (OSError, ValueError):  # the judge closed the pipe meanwhile
            self._put(b"")

    def _put(self, chunk: bytes) -> None:
        while not self.closed.is_set():
            try:
                self.chunks.put(chunk, timeout=1.0)
                return
            except queue.Full:
                continue

    def read_exact(self, size: int) -> bytes:
        """Exactly `size` bytes; EOFError if the child closed its stdout first."""
        while len(self.buffer) < size:
            try:
                chunk = self.chunks.get(timeout=self.time_left())
            except queue.Empty:
                continue  # time_left() raises once the deadline has passed
            if not chunk:
                self.chunks.put(b"")  # the end stays the end for later reads
                raise EOFError
            self.buffer += chunk
        data, self.buffer = bytes(self.buffer[:size]), self.buffer[size:]
        return data

    def write(self, data: bytes) -> None:
        """Send all of `data`; BrokenPipeError if the child closed its stdin. A child that stopped
        reading leaves a large write blocked in a full pipe: the deadline bounds that too."""
        done, failed = threading.Event(), []

        def send() -> None:
            view = memoryview(data)
            try:
                while view:
                    view = view[self.requests.write(view):]
            except (OSError, ValueError) as error:
                failed.append(error)
            finally:
                done.set()

        threading.Thread(target=send, name="worker-requests", daemon=True).start()
        while not done.wait(self.time_left()):
            pass  # time_left() raises once the deadline has passed
        if failed:
            raise BrokenPipeError(str(failed[0]))

    def close(self) -> None:
        """Stop the reader (it may stay blocked until every holder of the pipe's other end has exited)."""
        self.closed.set()
        for stream in (self.requests, self.replies):
            try:
                stream.close()
            except OSError:
                pass
