"""Generate the student skeleton (`assignment/`) from the reference solution (`solutions/`).

Every region between nbgrader's markers `### BEGIN SOLUTION` and `### END SOLUTION`
becomes a `raise NotImplementedError(...)` naming the function and the section of
ASSIGNMENT_SPEC.md to read; everything outside the markers is copied unchanged.

    python -m autograder.instructor.skeleton            # rewrite assignment/
    python -m autograder.instructor.skeleton --check    # exit 1 if assignment/ is out of date
"""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
REPO = Path(__file__).resolve().parents[2]


class MarkerError(ValueError):
    """The solution's markers are unbalanced or outside any function."""


def _enclosing_functions(tree: ast.Module) -> list[tuple[int, int, str, str]]:
    """(first line, last line, qualified name, spec section) of every function in `tree`."""
    found = []
    for top in tree.body:
        if isinstance(top, ast.ClassDef):
            for node in top.body:
                if isinstance(node, ast.FunctionDef):
                    found.append((node.lineno, node.end_lineno, f"{top.name}.{node.name}", top.name))
        elif isinstance(top, ast.FunctionDef):
            found.append((top.lineno, top.end_lineno, top.name, top.name))
    return found


def skeleton_source(source: str, filename: str) -> str:
    """Return `source` with every solution region replaced by a NotImplementedError stub."""
    functions = _enclosing_functions(ast.parse(source, filename))
    lines = source.splitlines(keepends=True)
    out: list[str] = []
    begin: int | None = None
    for number, line in enumerate(lines, start=1):
        marker = line.strip()
        if marker == BEGIN:
            if begin is not None:
                raise MarkerError(f"{filename}:{number}: {BEGIN} inside another solution region")
            begin = number
            owner = [f for f in functions if f[0] < number <= f[1]]
            if not owner:
                raise MarkerError(f"{filename}:{number}: solution region outside a function")
            _, _, name, section = owner[0]
            indent = line[: len(line) - len(line.lstrip())]
            message = f"{name} is yours to write: ASSIGNMENT_SPEC.md, section {filename}, describes {section}"
            out.append(f"{indent}raise NotImplementedError({message!r})\n")
        elif marker == END:
            if begin is None:
                raise MarkerError(f"{filename}:{number}: {END} without {BEGIN}")
            begin = None
        elif begin is None:
            out.append(line)
    if begin is not None:
        raise MarkerError(f"{filename}:{begin}: {BEGIN} is never closed")
    return "".join(out)


def generate(solutions: Path) -> dict[str, str]:
    """Map each skeleton file name to its text, for every `.py` file in `solutions`."""
    return {
        path.name: skeleton_source(path.read_text(), path.name)
        for path in sorted(solutions.glob("*.py"))
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--solutions", type=Path, default=REPO / "solutions",
                        help="the reference solution to read (default: solutions/)")
    parser.add_argument("--out", type=Path, default=REPO / "assignment",
                        help="where the skeleton goes (default: assignment/)")
    parser.add_argument("--check", action="store_true", help="only report whether --out is up to date")
    args = parser.parse_args(argv)

    expected = generate(args.solutions)
    present = {path.name for path in args.out.glob("*.py")}
    stale = sorted(
        name for name, text in expected.items()
        if not (args.out / name).is_file() or (args.out / name).read_text() != text
    )
    extra = sorted(present - expected.keys())
    if args.check:
        for name in stale:
            print(f"{args.out / name} differs from what {args.solutions / name} generates")
        for name in extra:
            print(f"{args.out / name} has no counterpart in {args.solutions}")
        if stale or extra:
            print("Regenerate it with: python -m autograder.instructor.skeleton")
        return 1 if stale or extra else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name in stale:
        (args.out / name).write_text(expected[name])
    for name in extra:
        (args.out / name).unlink()
    print(f"{args.out}: {len(stale)} file(s) written, {len(extra)} removed, {len(expected)} in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
