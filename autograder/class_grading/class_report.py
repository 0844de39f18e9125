"""One self-contained HTML page about a graded class (a `grade_class` batch folder).

    python -m autograder.class_grading.class_report BATCH [--reference CURVES] [-o BATCH/report.html]

The page holds the score distribution, the pass rate of every check, the most common
failure messages, the training curves of the class (thin grey lines) against the reference
(`--reference`: the curves of the solution graded with the same budget, e.g. from
`pytest autograder --impl solutions --budget cpu --curves solution.json`) and every
student's score. Plots are PNG images embedded in the page, so it can be mailed or archived
as one file.
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import statistics
from html import escape
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402

from ..rubric import number_order  # noqa: E402
from .class_results import ClassResults, CheckSummary  # noqa: E402
from ..instructor.plot_curves import plot as plot_curves  # noqa: E402

STYLE = """
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 1em 0; } td, th { border: 1px solid #ccc; padding: 3px 8px; }
th { background: #eee; text-align: left; } td.number { text-align: right; } img { max-width: 100%; }
"""


def png(figure: plt.Figure) -> str:
    """An <img> holding `figure` as an embedded PNG."""
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return image(buffer.getvalue())


def image(data: bytes) -> str:
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def score_histogram(scores: list[float], max_score: float) -> str:
    figure, axis = plt.subplots(figsize=(7, 3))
    axis.hist(scores, bins=10, range=(0, max_score), color="steelblue", edgecolor="white")
    axis.set(xlabel=f"score (of {max_score:g})", ylabel="students", title="Score distribution")
    return png(figure)


def pass_rate_chart(summaries: list[CheckSummary]) -> str:
    figure, axis = plt.subplots(figsize=(8, 0.22 * len(summaries) + 1))
    labels = [f"{s.check.number} {s.check.id.removeprefix('test_')}" for s in summaries]
    rates = [100 * s.pass_rate for s in summaries]
    axis.barh(labels, rates, color=["indianred" if r < 50 else "steelblue" for r in rates])
    axis.invert_yaxis()
    axis.set(xlim=(0, 100), xlabel="students who passed (%)", title="Pass rate per check")
    axis.tick_params(axis="y", labelsize=7)
    return png(figure)


def table(header: list[str], rows: list[list[str]], numeric: frozenset[int] | set[int] = frozenset()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f'<td{" class=number" if i in numeric else ""}>{escape(str(c))}</td>'
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def named(students: list[str], most: int = 12) -> str:
    more = f" and {len(students) - most} more" if len(students) > most else ""
    return ", ".join(students[:most]) + more


def common_failures(summaries: list[CheckSummary], limit: int = 15) -> list[list[str]]:
    """The messages shared by most students, across checks: [students, check, message]."""
    found = [(count, s.check, s.examples[key]) for s in summaries for key, count in s.messages.items()]
    found.sort(key=lambda f: (-f[0], number_order(f[1].number)))
    return [[str(count), f"{check.number} {check.id}", message] for count, check, message in found[:limit]]


def report_html(graded: ClassResults, title: str, reference: dict | None, names: bool = True) -> str:
    """The page; `names=False` leaves the submitters' names and emails out (a report to share)."""
    scores, summaries = graded.scores(), graded.check_summaries()
    values = list(scores.values())
    sections = [f"<h1>{escape(title)}</h1>"]
    if not values:
        return "".join(sections) + "<p>No graded submissions.</p>"
    sections.append(table(["submissions", "mean", "median", "lowest", "highest", "full marks"], [[
        str(len(values)), f"{statistics.mean(values):.1f}", f"{statistics.median(values):g}", f"{min(values):g}",
        f"{max(values):g}", str(sum(v >= graded.max_score for v in values))]]))
    sections += ["<h2>Score distribution</h2>", score_histogram(values, graded.max_score)]
    sections += ["<h2>Pass rate per check</h2>", pass_rate_chart(summaries),
                 table(["check", "points", "passed", "lost by"],
                       [[f"{s.check.number} {s.check.id}", f"{s.check.points:g}", f"{100 * s.pass_rate:.0f}%",
                         named(s.failed)] for s in summaries], numeric={1, 2})]
    sections += ["<h2>Most common failure messages</h2>",
                 table(["students", "check", "message (numbers vary between students)"],
                       common_failures(summaries), numeric={0})]
    curves = list(graded.curves.values())
    if curves or reference:
        buffer = io.BytesIO()
        plot_curves(curves, reference, buffer)
        note = "" if reference else " (no reference curves given: pass --reference)"
        sections += [f"<h2>Training curves: the class (grey) against the reference (dashed){escape(note)}</h2>",
                     image(buffer.getvalue())]
    board = graded.leaderboard()
    if board:
        sections += ["<h2>Leaderboard (the best ten of each column)</h2>",
                     table(["column", "students, best first"],
                           [[name, ", ".join(f"{student} {value:g}" for student, value in rows[:10])]
                            for name, rows in board.items()])]
    errors = {s: graded.error(d) for s, d in graded.results.items()}
    named_columns = ["name", "email"] if names and graded.submitters else []
    known = ["submitted"] if graded.submitters else []
    sections += ["<h2>Students</h2>", table(["student", *named_columns, *known, "score", "status", "standard"], [
        [student, *(graded.submitters.get(student, {}).get(k, "") for k in [*named_columns, *known]),
         f"{score:g}", errors[student] or graded.status(graded.results[student]),
         graded.standard(graded.results[student])] for student, score in sorted(scores.items())],
        numeric={1 + len(named_columns) + len(known)})]
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(sections)}</body></html>")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("batch", type=Path, help="a folder written by grade_class")
    parser.add_argument("--reference", type=Path, help="curves of the solution, drawn dashed")
    parser.add_argument("-o", "--out", type=Path, default=None, help="default: BATCH/report.html")
    parser.add_argument("--no-names", action="store_true",
                        help="leave the submitters' names and emails out (from a Gradescope export), to share the page")
    args = parser.parse_args(argv)
    if not (args.batch / "results").is_dir():
        parser.error(f"{args.batch} holds no results/ folder: grade the class with autograder.class_grading.grade_class first")
    reference = json.loads(args.reference.read_text()) if args.reference else None
    out = args.out or args.batch / "report.html"
    out.write_text(report_html(ClassResults.load(args.batch), f"CNN lab: {args.batch.name}", reference,
                               names=not args.no_names))
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
