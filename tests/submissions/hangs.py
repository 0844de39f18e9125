"""Uploads correct everywhere but in one place whose code never returns: a block's forward or a loop function.

Each case is the solution with a few lines put first in one function's body: a sleep, an endless loop,
or a read of standard input (which the worker has closed, so it fails at once instead). Graded, such an
upload must lose only checks of the file it touches (and the training checks built from that file), and
the first of them must name what happened.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from autograder.gradescope.uploads import STUDENT_FILES

REPO = Path(__file__).resolve().parents[2]
TARGETS = (("resnet.py", "BasicBlock.forward"), ("densenet.py", "DenseLayer.forward"),
           ("densenet.py", "Transition.forward"), ("mobilenet.py", "DepthwiseSeparableConv.forward"),
           ("senet.py", "SEBlock.forward"), ("senet.py", "SEBasicBlock.forward"), ("train.py", "train_one_epoch"),
           ("train.py", "evaluate"))
KINDS = {"sleep": "import time\ntime.sleep(10 ** 6)", "endless_loop": "while True:\n    pass", "stdin": "input()"}
# What the first check that reaches the code says.
SAYS = {"sleep": "did not return within its time limit", "endless_loop": "did not return within its time limit",
        "stdin": "EOFError"}


@dataclass(frozen=True)
class Hang:
    file: str
    function: str  # "Class.method" or "function"
    kind: str

    @property
    def name(self) -> str:
        return f"{self.function.replace('.', '_')}-{self.kind}"

    def files(self) -> dict[str, str]:
        files = {name: (REPO / "solutions" / name).read_text() for name in STUDENT_FILES}
        files[self.file] = first_in_body(files[self.file], self.function, KINDS[self.kind])
        return files


def first_in_body(source: str, function: str, code: str) -> str:
    """`source` with `code` as the first statements of `function` ("Class.method" or "function")."""
    *owner, name = function.split(".")
    scope = ast.parse(source).body
    if owner:
        scope = next(n for n in scope if isinstance(n, ast.ClassDef) and n.name == owner[0]).body
    node = next(n for n in scope if isinstance(n, ast.FunctionDef) and n.name == name)
    lines = source.splitlines(keepends=True)
    first = node.body[0].lineno - 1
    indent = lines[first][:len(lines[first]) - len(lines[first].lstrip())]
    lines[first:first] = [indent + line + "\n" for line in code.splitlines()]
    return "".join(lines)


HANGS = [Hang(file, function, kind) for file, function in TARGETS for kind in KINDS]
