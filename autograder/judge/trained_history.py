"""The training history a student submits beside a checkpoint (checkpoints/NAME.json), and what it claims.

`fit(..., checkpoint=NAME)` in train.py writes it: per epoch the train loss, the test accuracy and the seconds,
with the settings and torch version. The judge reads it as plain JSON (never code), size-capped, and compares its
last test accuracy with the one it measures itself.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

MAX_HISTORY_BYTES = 1 << 20  # a thousand epochs take a few tens of kilobytes
# Beyond sampling: the student's GPU and this CPU compute the same network in different orders of summation,
# which moves an accuracy by far less than a point.
ARITHMETIC_ALLOWANCE = 0.01


@dataclass(frozen=True)
class History:
    train_loss: list[float]
    test_accuracy: list[float]


def read_history(path: Path) -> tuple[History | None, str | None]:
    """The history at `path`, or None and what is wrong with it, in words a student can act on."""
    if not path.is_file():
        return None, f"{path.name} was not submitted"
    if path.stat().st_size > MAX_HISTORY_BYTES:
        return None, f"{path.name} is over {MAX_HISTORY_BYTES // 1024} KiB, far more than a history takes"
    try:
        data = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as error:
        return None, f"{path.name} is not JSON ({error})"
    if not isinstance(data, dict):
        return None, f"{path.name} holds a JSON {type(data).__name__}, not the object fit writes"
    loss, accuracy = data.get("train_loss"), data.get("test_accuracy")
    for key, values in (("train_loss", loss), ("test_accuracy", accuracy)):
        if not isinstance(values, list) or not values or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
            return None, f"{path.name}'s {key} is not a list of one number per epoch"
    if len(loss) != len(accuracy):
        return None, f"{path.name} has {len(loss)} train losses but {len(accuracy)} test accuracies"
    if not all(0 <= a <= 1 for a in accuracy):
        return None, f"{path.name}'s test accuracies are not fractions between 0 and 1"
    return History([float(v) for v in loss], [float(v) for v in accuracy]), None


def claim_differs(measured: float, claimed: float, images: int) -> bool:
    """Whether an accuracy measured on `images` grading images is further from the claimed one than three standard
    errors of its sampling (binomial, at the claimed accuracy) and the arithmetic allowance together."""
    spread = 3 * math.sqrt(max(claimed * (1 - claimed), 0.0) / images)
    return abs(measured - claimed) > spread + ARITHMETIC_ALLOWANCE
