"""The score table that ends every grading's terminal output: points per part, and where the rest went."""
from __future__ import annotations

from ..rubric import load_rubric
from .results import Outcome, in_rubric_order


def score_table(outcomes: list[Outcome]) -> list[str]:
    """Lines of the table: per part, the checks passed and the points, then the total."""
    parts: dict[str, list[Outcome]] = {}
    for outcome in in_rubric_order(outcomes):
        parts.setdefault(outcome.part, []).append(outcome)
    width = max(len(p) for p in parts) + 2
    lines = [f"{'part':<{width}}{'checks passed':>15}{'points':>16}"]
    for part, items in parts.items():
        got, best = sum(o.points for o in items), sum(o.max_points for o in items)
        passed = sum(o.passed for o in items)
        lines.append(f"{part:<{width}}{f'{passed} / {len(items)}':>15}{f'{got:g} / {best:g}':>16}")
    total, best = sum(o.points for o in outcomes), sum(o.max_points for o in outcomes)
    lines.append(f"{'total':<{width}}{'':>15}{f'{total:g} / {best:g}':>16}")
    return lines


def unchecked_points_line(outcomes: list[Outcome], deselected: set[str]) -> str:
    """Where the points that are not in the table went: deselected here, or checked on Gradescope only
    (the checks that need the reference solution, and the hidden ones, are not in a student's copy)."""
    rubric = load_rubric()
    checked = {o.number for o in outcomes}
    elsewhere = [c for c in rubric.values() if c.number not in checked and c.id not in deselected]
    total, here = sum(c.points for c in rubric.values()), sum(o.max_points for o in outcomes)
    line = f"{here:g} of {total:g} points checked here"
    if deselected:
        line += f"; {sum(rubric[name].points for name in deselected):g} deselected (-m, -k, --part)"
    if elsewhere:
        hidden = sum(c.points for c in elsewhere if c.visibility != "visible")
        line += f"; {sum(c.points for c in elsewhere):g} more are checked on Gradescope only" + (
            f" ({hidden:g} of them shown after the due date)" if hidden else "")
    return line
