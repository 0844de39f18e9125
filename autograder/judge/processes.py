"""The process table, read from /proc: what the sandbox and the memory benchmark look at."""
from __future__ import annotations

import os
from pathlib import Path


def process_statuses() -> dict[int, dict[str, str]]:
    """Every live process's /proc/PID/status as {field: value}, by pid (processes that end meanwhile are skipped)."""
    statuses = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        statuses[int(entry)] = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return statuses
