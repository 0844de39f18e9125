"""How fast this machine runs the grader's kind of work now, against the machine the limits were set on.

The time limits in rubric.toml bound endless loops; they were set on an idle 2-core machine.
A slower or busier machine must not turn honest code into a timeout, so every limit is
multiplied by `speed_factor()`: the time of a fixed single-threaded convolution workload,
measured at the start of the grading, over the time `rubric.toml` records for it
(`reference_seconds`). The factor is never below 1: a faster machine keeps the limits as
written, so an endless loop is still cut by them.
"""
from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F

ROUNDS = 3  # the median of three: one preempted round does not set the factor


def workload_seconds(threads: int = 1) -> float:
    """One round of a fixed workload: forward and backward through a 3x3 convolution, on `threads` threads."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(16, 16, 32, 32, generator=generator)
    weight = torch.randn(16, 16, 3, 3, generator=generator, requires_grad=True)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        start = time.perf_counter()
        for _ in range(30):
            F.conv2d(x, weight, padding=1).square().sum().backward()
        return time.perf_counter() - start
    finally:
        torch.set_num_threads(before)


def speed_factor(reference_seconds: float) -> float:
    """How many times slower than the reference machine this one is now (at least 1), on one thread."""
    workload_seconds()  # the first round pays for allocations and kernel selection
    measured = statistics.median(workload_seconds() for _ in range(ROUNDS))
    return max(1.0, measured / reference_seconds)
