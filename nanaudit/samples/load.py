"""``MODULE:CALLABLE`` → the samples object of ``nanaudit samples``.

MODULE is a dotted module name, found in the working folder first (as ``python -m`` finds
it) and then among the installed packages, or the path of a ``.py`` file (its folder is
searched first, as for a script).  CALLABLE names an attribute of it (dotted for an
attribute of an attribute); it is called without arguments when it is callable (a function
that builds the DataLoader, a Dataset class), and used as it is otherwise (a dataset built
when the module is imported).  Every failure is a :class:`SampleInputError` of one line.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

from . import SampleInputError
from .draw import describe


def split_target(target: str) -> tuple[str, str]:
    module, sep, attr = target.rpartition(":")
    if not sep or not module or not attr:
        raise SampleInputError(f"expected MODULE:CALLABLE (e.g. train:make_loader), got {target!r}")
    return module, attr


def _search_first(folder: Path) -> None:
    entry = str(folder)
    if entry in sys.path:
        sys.path.remove(entry)
    sys.path.insert(0, entry)


def import_module(module: str, cwd: Path) -> ModuleType:
    """The user's module: a file path, or a dotted name searched in ``cwd`` first."""
    if module.endswith(".py") or "/" in module or "\\" in module:
        path = cwd / module
        if not path.is_file():
            raise SampleInputError(f"no such Python file: {module}")
        _search_first(path.resolve().parent)
        name = path.stem
    else:
        _search_first(cwd.resolve())
        name = module
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            raise SampleInputError(
                f"cannot find module {name!r} in the working folder or the installed packages"
            ) from None
        raise SampleInputError(f"importing {name!r} raised {describe(exc)}") from None
    except (Exception, SystemExit) as exc:
        raise SampleInputError(f"importing {name!r} raised {describe(exc)}") from None


def load_samples(target: str, cwd: Path | None = None) -> object:
    """The samples object ``MODULE:CALLABLE`` names (called when it is callable)."""
    module_name, attr = split_target(target)
    obj: object = import_module(module_name, cwd or Path.cwd())
    where = module_name
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise SampleInputError(f"{where} has no attribute {part!r}")
        obj = getattr(obj, part)
        where += f".{part}" if where != module_name else f":{part}"
    if not callable(obj):
        return obj
    try:
        return obj()
    except (Exception, SystemExit) as exc:
        raise SampleInputError(f"calling {target}() raised {describe(exc)}") from None
