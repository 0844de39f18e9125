"""A graded class as data: every student's results.json and curves, tabulated and summarised.

`grade_class` writes a batch folder and `class_report` draws it; both read it through `ClassResults`:

    BATCH/results/<student>.json   the student's results.json, as Gradescope would show it
    BATCH/curves/<student>.json    the training checks' per-epoch curves (absent if none ran)
    BATCH/submitters.json          who submitted each upload, when a Gradescope export said so
"""
from __future__ import annotations

import csv
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import yaml

from ..rubric import Check, course_standard, load_rubric, number_order

ERROR_TEST = "autograder error"  # the test run_autograder puts first when it could not grade
METADATA_FILE = "submission_metadata.yml"  # in a Gradescope export, beside its submission_<id> folders
SUBMITTERS_FILE = "submitters.json"
SUBMITTER_COLUMNS = ("name", "email", "submitted")


def gradescope_submitters(export: Path) -> dict[str, dict[str, str]]:
    """Upload folder -> its submitters' name and email ("; " between a group's) and when it was submitted,
    from a Gradescope export's submission_metadata.yml; {} where there is none, or one not laid out so."""
    try:
        metadata = yaml.safe_load((export / METADATA_FILE).read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    found = {}
    for folder, entry in metadata.items() if isinstance(metadata, dict) else ():
        if not isinstance(entry, dict):
            continue
        people = [p for p in entry.get(":submitters") or [] if isinstance(p, dict)]
        found[str(folder)] = {"name": "; ".join(str(p.get(":name", "")) for p in people),
                              "email": "; ".join(str(p.get(":email", "")) for p in people),
                              "submitted": str(entry.get(":created_at", ""))}
    return found


@dataclass
class CheckSummary:
    """How the class did on one check: who lost it, and with which messages."""

    check: Check
    graded: int
    failed: list[str] = field(default_factory=list)
    messages: Counter = field(default_factory=Counter)  # normalised message -> students
    examples: dict[str, str] = field(default_factory=dict)  # normalised message -> one real message

    @property
    def pass_rate(self) -> float:
        return 1 - len(self.failed) / self.graded if self.graded else 0.0


def failure_message(feedback: str) -> str:
    """The line of a check's feedback that says what went wrong (not the rule it checks)."""
    lines = [line.strip() for line in feedback.splitlines() if line.strip()]
    telling = [line for line in lines if not line.startswith("Expected:")]
    return (telling or lines or ["no feedback"])[0][:200]


def normalised(message: str) -> str:
    """`message` with its numbers masked, so that "41.2% after 3 epochs" and "38.0% ..." count as one."""
    return re.sub(r"\d+(\.\d+)?", "#", message)


@dataclass
class ClassResults:
    results: dict[str, dict]  # student -> results.json document
    curves: dict[str, dict]  # student -> curves document
    submitters: dict[str, dict[str, str]] = field(default_factory=dict)  # student -> SUBMITTER_COLUMNS

    @classmethod
    def load(cls, batch: Path, students: Iterable[str] | None = None) -> "ClassResults":
        """The stored results, curves and submitters of `students` (default: everyone with results)."""
        def documents(folder: str) -> dict[str, dict]:
            return {p.stem: json.loads(p.read_text()) for p in sorted((batch / folder).glob("*.json"))
                    if wanted is None or p.stem in wanted}
        wanted = None if students is None else set(students)
        submitters = json.loads((batch / SUBMITTERS_FILE).read_text()) if (batch / SUBMITTERS_FILE).exists() else {}
        return cls(documents("results"), documents("curves"), submitters)

    @staticmethod
    def checks() -> list[Check]:
        return sorted(load_rubric().values(), key=lambda c: number_order(c.number))

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.checks())

    def scores(self) -> dict[str, float]:
        return {student: document["score"] for student, document in self.results.items()}

    @staticmethod
    def error(document: dict) -> str | None:
        """Why the autograder could not grade this submission, or None when it did."""
        tests = document.get("tests", [])
        return tests[0]["output"] if tests and tests[0]["name"] == ERROR_TEST else None

    @staticmethod
    def standard(document: dict) -> str:
        """The standard the grading applied ("cpu profile, 1 thread"), from results.json's extra_data."""
        applied = document.get("extra_data", {}).get("standard")
        if not applied:
            return "none recorded"
        return f"{applied['profile']} profile, {applied['threads']} thread{'s' * (applied['threads'] > 1)}"

    @staticmethod
    def thresholds(document: dict) -> str:
        """The training thresholds the grading applied, check by check."""
        applied = document.get("extra_data", {}).get("standard", {}).get("thresholds", {})
        return " ".join(f"{name.removeprefix('test_train_')}={value:g}" for name, value in applied.items())

    @classmethod
    def status(cls, document: dict) -> str:
        """"graded"; "autograder error"; or "regrade: ..." when the grading did not apply the course's standard
        in full (the machine ran too slow for some checks, or another profile or thread count was used)."""
        if cls.error(document):
            return "autograder error"
        not_graded = document.get("extra_data", {}).get("not_graded")
        if not_graded:
            return f"regrade: the machine was too slow or too small for checks {', '.join(not_graded)}"
        course, applied = course_standard(), document.get("extra_data", {}).get("standard", {})
        if (applied.get("profile"), applied.get("threads")) != (course.profile, course.threads):
            return (f"regrade: graded under the {cls.standard(document)}, not the course's standard "
                    f"({course.describe()})")
        return "graded"

    def leaderboard(self) -> dict[str, list[tuple[str, float]]]:
        """Leaderboard column -> (student, value), best first (`order` "desc": highest first)."""
        columns: dict[str, list[tuple[str, float]]] = {}
        orders: dict[str, str] = {}
        for student, document in self.results.items():
            for entry in document.get("leaderboard", []):
                columns.setdefault(entry["name"], []).append((student, entry["value"]))
                orders[entry["name"]] = entry.get("order", "desc")
        return {name: sorted(rows, key=lambda row: row[1], reverse=orders[name] == "desc")
                for name, rows in sorted(columns.items())}

    def check_summaries(self) -> list[CheckSummary]:
        """One summary per rubric check, in rubric order."""
        summaries = {c.number: CheckSummary(c, graded=len(self.results)) for c in self.checks()}
        for student, document in self.results.items():
            for test in document["tests"]:
                summary = summaries.get(test.get("number"))
                if summary is None or test["score"] >= test["max_score"]:
                    continue
                message = failure_message(test["output"])
                key = normalised(message)
                summary.failed.append(student)
                summary.messages[key] += 1
                summary.examples.setdefault(key, message)
        return list(summaries.values())

    def write_scores_csv(self, path: Path) -> None:
        """One row per student: who submitted it (when known), total, whether grading worked, then the
        points of every check."""
        checks = self.checks()
        named = SUBMITTER_COLUMNS if self.submitters else ()
        with open(path, "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["student", *named, "score", "max_score", "status", "standard", "thresholds",
                             *(f"{c.number} {c.id}" for c in checks)])
            for student, document in self.results.items():
                points = {t.get("number"): t["score"] for t in document["tests"]}
                writer.writerow([student, *(self.submitters.get(student, {}).get(k, "") for k in named),
                                 document["score"], self.max_score, self.status(document), self.standard(document),
                                 self.thresholds(document), *(points.get(c.number, 0.0) for c in checks)])

    def failures_markdown(self, most_common: int = 3) -> str:
        """Per check that anyone lost: how many lost it, and the most common messages."""
        lines = [f"# Failures per check ({len(self.results)} submissions)", "",
                 "| check | points | lost by | most common messages |", "| --- | --- | --- | --- |"]
        for summary in self.check_summaries():
            if not summary.failed:
                continue
            messages = "<br>".join(f"{count} x {summary.examples[key]}".replace("|", "\\|")
                                   for key, count in summary.messages.most_common(most_common))
            lines.append(f"| {summary.check.number} {summary.check.id} | {summary.check.points:g} | "
                         f"{len(summary.failed)} / {summary.graded} | {messages} |")
        errors = {s: e for s, e in ((s, self.error(d)) for s, d in self.results.items()) if e}
        if errors:
            lines += ["", "## Not graded", ""] + [f"- {student}: {error}" for student, error in errors.items()]
        claims = [(s, c) for s, d in self.results.items() for c in d.get("extra_data", {}).get("trained_claims", [])]
        if claims:
            lines += ["", "## Trained networks whose history claims another accuracy", "",
                      "Measured on the grading test images beside the last epoch of the submitted history, further "
                      "apart than sampling explains: were the checkpoint and its history saved by the same run?", ""]
            lines += [f"- {student}: {claim['network']} measured {claim['measured']:.1%}, "
                      f"claimed {claim['claimed']:.1%}" for student, claim in claims]
        regrades = self.to_regrade()
        if regrades:
            lines += ["", "## To regrade", "", "Delete their results/<student>.json and run grade_class again.", ""]
            lines += [f"- {student}: {status.removeprefix('regrade: ')}" for student, status in regrades.items()]
        return "\n".join(lines) + "\n"

    def to_regrade(self) -> dict[str, str]:
        """Student -> why their grading did not apply the course's standard in full."""
        return {s: status for s, status in ((s, self.status(d)) for s, d in self.results.items())
                if status.startswith("regrade")}
