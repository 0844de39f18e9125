"""The lab's rules on imports: what a submission may import (ASSIGNMENT_SPEC.md: the standard library,
torch, torchvision, numpy and tqdm), and that it writes the blocks itself, with no ready-made or
pretrained models.

The first is a warning: `unlisted_imports` finds the modules a file imports that the grader's image
lacks, and the local grader names them before any check runs. The second the worker enforces twice. Before a module runs, its source is read for references to
`FORBIDDEN` (imports, dotted names, strings), so the plain forms fail with a message that
names the line. While it runs, those modules cannot be imported and torch.hub cannot fetch.
Submission code shares the worker's interpreter, so a determined one can undo the second
layer; the sandbox's missing network and empty read-only model caches still leave no
weights to load.
"""
from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import torch.hub

# Besides the standard library: what ASSIGNMENT_SPEC.md lets a submission import, and all the grader's image has.
ALLOWED = ("torch", "torchvision", "numpy", "tqdm")
FORBIDDEN = ("torchvision.models", "timm", "transformers", "torch.hub", "torch.utils.model_zoo")
HUB_FUNCTIONS = ("load", "load_state_dict_from_url", "download_url_to_file", "list", "help")


def violations(path: Path) -> list[str]:
    """'line N: what' for each reference to a forbidden module in the file's source."""
    try:
        tree = ast.parse(path.read_text(errors="replace"))
    except SyntaxError:
        return []  # the import itself reports the syntax error, with its line
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Attribute):
            names = [dotted(node)]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value]
        hit = next((f for f in FORBIDDEN for name in names if name == f or name.startswith(f + ".")), None)
        if hit:
            found.append(f"line {node.lineno}: {hit}")
    return sorted(set(found), key=lambda s: int(s.split()[1].rstrip(":")))


@dataclass(frozen=True)
class UnlistedImport:
    file: str
    line: int
    module: str

    def warning(self) -> str:
        return (f"{self.file}, line {self.line}: imports {self.module}, which ASSIGNMENT_SPEC.md does not list. "
                f"Gradescope's grader does not have it: there, every check that imports {self.file} fails.")


def unlisted_imports(folder: Path) -> list[UnlistedImport]:
    """Each import, in the folder's .py files, of a module neither the standard library nor ALLOWED nor one of
    the folder's own files. An import guarded by `except ImportError` (or broader) does not count: it fails
    softly on purpose."""
    own = {path.stem for path in folder.glob("*.py")} | {path.name for path in folder.iterdir() if path.is_dir()}
    known = set(sys.stdlib_module_names) | set(ALLOWED) | own
    found = []
    for path in sorted(folder.glob("*.py")):
        try:
            imports = unguarded_imports(ast.parse(path.read_text(errors="replace")))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue  # importing the file reports it, with its line
        for node in imports:
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module] if node.module and not node.level else [])
            found += [UnlistedImport(path.name, node.lineno, name) for name in names
                      if name.partition(".")[0] not in known]
    return found


def unguarded_imports(node: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """The import statements under `node`, leaving out those in a try block whose handlers catch ImportError."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [node]
    if isinstance(node, ast.Try) and any(catches_import_error(handler) for handler in node.handlers):
        children = [*node.handlers, *node.orelse, *node.finalbody]
    else:
        children = list(ast.iter_child_nodes(node))
    return [found for child in children for found in unguarded_imports(child)]


def catches_import_error(handler: ast.ExceptHandler) -> bool:
    caught = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(c is None or (isinstance(c, ast.Name) and c.id in ("ImportError", "ModuleNotFoundError", "Exception",
                                                                   "BaseException")) for c in caught)


def dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def enforce() -> None:
    """Make the forbidden modules unimportable and torch.hub unable to fetch, in this process."""
    for name in FORBIDDEN:
        if name.startswith("torch.hub"):
            continue
        sys.modules[name] = None  # `import name` now raises ImportError
    for module in (torch.hub, sys.modules.get("torch.utils.model_zoo")):
        for function in HUB_FUNCTIONS:
            if hasattr(module, function):
                setattr(module, function, refuse)


def refuse(*args: object, **kwargs: object) -> None:
    raise ImportError("torch.hub is not available in this lab: build and train the model yourself")
