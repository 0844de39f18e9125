"""What a student reads when a training check falls short of its threshold.

Not training code (`TRAINING_CODE` in training_profiles.py): its wording can change without a calibration.
"""
from __future__ import annotations

from .training import Curve
from .worker.course_initialisation import RULE


def percentages(values: list[float]) -> str:
    return " ".join(f"{v:6.1%}" for v in values)


def shortfall_feedback(curve: Curve, calibrated: dict, part: str, failed_units: list[str]) -> str:
    """The student's test accuracy per epoch beside the reference solution's (seed 0, the grading seed), the
    threshold and what correct implementations reached in its calibration, and the unit checks of the same file
    that failed, which usually say why."""
    accuracies = calibrated["accuracies"]
    lines = [f"The network did not learn enough: {curve.test_accuracy[-1]:.1%} test accuracy against a threshold of "
             f"{calibrated['threshold']:.1%} (correct implementations reached {min(accuracies):.1%} to "
             f"{max(accuracies):.1%} in {len(accuracies)} calibration runs: the reference solution over seeds and "
             "thread counts, and other coding styles).",
             "Test accuracy per epoch:",
             f"  yours          {percentages(curve.test_accuracy)}"]
    if "curve" in calibrated:
        lines.append(f"  the reference  {percentages(calibrated['curve'])}")
    if failed_units:
        lines.append(f"The unit checks of {part} that failed above usually say why:")
        lines += [f"  {name}" for name in failed_units]
    else:
        lines.append(f"The unit checks of {part} that ran pass: look at what reaches the output (does it depend on "
                     "the input?) and, for the loop, at the optimizer steps.")
    return "\n".join(lines)


def initialisation_note(curve: Curve, calibrated: dict) -> str | None:
    """How the network started, where it did not start exactly as the reference solution does: layers that do not
    pair one to one with the reference's (by role, in order of use) start from the course's rule by role, and
    parameters the course cannot place keep the student's own values."""
    notes = []
    reference = calibrated.get("layout")
    if reference and curve.layout != reference:
        differ = sorted(set(curve.layout) | set(reference))
        counts = "; ".join(f"{kind}: {curve.layout.get(kind, 0)} (the reference {reference.get(kind, 0)})"
                           for kind in differ if curve.layout.get(kind, 0) != reference.get(kind, 0))
        notes.append("Your network's parameters do not pair one to one with the reference solution's by role and "
                     f"order of use ({counts}), so it started from the course's rule by role ({RULE}), not exactly "
                     "from the reference's starting weights.")
    if curve.kept:
        notes.append(f"These parameters kept your own initial values, since the course's initialisation cannot place "
                     f"them (forward never uses them, or first uses them outside a convolution, linear map or "
                     f"normalisation): {', '.join(curve.kept[:10])}{' ...' * (len(curve.kept) > 10)}.")
    return " ".join(notes) or None
