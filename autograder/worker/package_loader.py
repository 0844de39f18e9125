"""Import an implementation folder (`solutions/`, `assignment/`, a submission) as a package.

The folder's modules import each other relatively (`from .resnet import ResNet`), so the
folder is loaded as a package under a name of the caller's choosing; it needs no
`__init__.py` and nothing is added to sys.path.
"""
from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_package(folder: Path, name: str) -> ModuleType:
    """Register `folder` as package `name` (replacing an earlier one) and return it."""
    for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
        del sys.modules[key]
    init = folder / "__init__.py"
    if init.is_file():
        spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(folder)])
    else:  # a plain folder of modules: a package with no code of its own
        spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [str(folder)]
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    if spec.loader is not None:
        spec.loader.exec_module(package)
    return package


def load_module(folder: Path, package: str, module: str) -> ModuleType:
    """Import `module` (e.g. "resnet") of `folder`, loading the folder as `package` if needed."""
    if package not in sys.modules:
        load_package(folder, package)
    return importlib.import_module(f"{package}.{module}")
