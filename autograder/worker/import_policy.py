"""The lab's one rule on imports: write the blocks yourself, no ready-made or pretrained models.

The worker enforces it twice. Before a module runs, its source is read for references to
`FORBIDDEN` (imports, dotted names, strings), so the plain forms fail with a message that
names the line. While it runs, those modules cannot be imported and torch.hub cannot fetch.
Submission code shares the worker's interpreter, so a determined one can undo the second
layer; the sandbox's missing network and empty read-only model caches still leave no
weights to load.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import torch.hub

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
