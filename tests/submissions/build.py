"""Build test submissions from the reference solution: mutants (one bug each) and style variants.

A variant's files hold only what a student writes (the spec's student classes and
functions, with their imports); `splice` puts them into the solution's file in place of
the reference definitions, so the given code stays exactly as students receive it.
"""
from __future__ import annotations

import ast
import shutil
from pathlib import Path

from .mutants import TRAINING_MUTANTS, WEAK_LEARNERS, Mutant

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = REPO / "solutions"
VARIANTS = Path(__file__).resolve().parent / "variants"


def copy_solution(dest: Path) -> Path:
    shutil.copytree(SOLUTIONS, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def build_mutant(mutant: Mutant, dest: Path) -> Path:
    copy_solution(dest)
    path = dest / mutant.file
    text = path.read_text()
    if text.count(mutant.find) != 1:
        raise ValueError(f"mutant {mutant.name}: the snippet occurs {text.count(mutant.find)} times in {mutant.file}")
    path.write_text(text.replace(mutant.find, mutant.replace))
    return dest


def _span(node: ast.stmt) -> tuple[int, int]:
    """0-based first line (decorators included) and end line of a top-level definition."""
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return first - 1, node.end_lineno or node.lineno


def splice(solution: str, student: str) -> str:
    """The solution's file with its definitions replaced by the student's same-named ones."""
    student_tree = ast.parse(student)
    student_lines = student.splitlines(keepends=True)
    definitions, imports = {}, []
    for node in student_tree.body:
        start, end = _span(node)
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            definitions[node.name] = "".join(student_lines[start:end])
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append("".join(student_lines[start:end]))
    lines = solution.splitlines(keepends=True)
    solution_tree = ast.parse(solution)
    for node in reversed(solution_tree.body):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in definitions:
            start, end = _span(node)
            while end < len(lines) and lines[end].startswith(" ") and lines[end].strip().startswith("#"):
                end += 1  # a trailing indented comment, such as the END SOLUTION marker, belongs to the body
            lines[start:end] = [definitions.pop(node.name)]
    if definitions:
        raise ValueError(f"the variant defines {sorted(definitions)}, which the solution's file does not")
    last_import = max(_span(n)[1] for n in solution_tree.body if isinstance(n, (ast.Import, ast.ImportFrom)))
    lines[last_import:last_import] = imports
    return "".join(lines)


def build_variant(name: str, dest: Path) -> Path:
    copy_solution(dest)
    for student_file in sorted((VARIANTS / name).glob("*.py")):
        target = dest / student_file.name
        target.write_text(splice(target.read_text(), student_file.read_text()))
    return dest


def variant_files(name: str) -> set[str]:
    """The student files a variant writes its own way (the others are the solution's)."""
    return {path.name for path in (VARIANTS / name).glob("*.py")}


def variant_names() -> list[str]:
    return sorted(p.name for p in VARIANTS.iterdir() if p.is_dir() and not p.name.startswith("_"))


def main(argv: list[str] | None = None) -> None:
    """`python -m tests.submissions.build OUT`: every correct variant built as a folder of OUT (for calibrate --also);
    with --training-mutants, every training mutant and weaker learner instead, as OUT/MUTANT-CHECK (for calibrate
    --power)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("out", type=Path, help="a new folder: one subfolder per variant (or per training mutant)")
    parser.add_argument("--training-mutants", action="store_true",
                        help="build the training mutants and weaker learners, each named MUTANT-CHECK")
    args = parser.parse_args(argv)
    if args.training_mutants:
        for case in TRAINING_MUTANTS + WEAK_LEARNERS:
            print(build_mutant(case.mutant, args.out / case.key))
        return
    for name in variant_names():
        print(build_variant(name, args.out / name))


if __name__ == "__main__":
    main()
