"""The layering docs/architecture.md states, enforced: every import of every module (at the
top or inside a function) goes to its own layer or below. The table is read from the page,
so the docs and the test cannot disagree."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import nanaudit

PACKAGE = Path(nanaudit.__file__).parent
DOC = PACKAGE.parent / "docs" / "architecture.md"
Graph = dict[str, set[str]]


def stated_layers(text: str) -> list[tuple[str, list[str]]]:
    """(layer, names) from the page's ```layers block, top layer first."""
    block = re.search(r"```layers\n(.*?)```", text, re.DOTALL)
    assert block is not None, "docs/architecture.md has no ```layers block"
    return [(line.split()[0], line.split()[1:]) for line in block.group(1).splitlines() if line]


def module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package).with_suffix("").parts)
    if parts != ["__init__"] and parts[-1] == "__init__":
        parts = parts[:-1]  # a subpackage: its name
    return ".".join(parts) if parts != ["__init__"] else "__init__"


def import_graph(package: Path) -> Graph:
    """Each module's imports of modules of the package (relative names, ``__init__`` for
    the package itself), wherever in the module they are."""
    graph: Graph = {}
    for path in sorted(package.rglob("*.py")):
        name = module_name(path, package)
        here = list(path.relative_to(package).parent.parts)  # the package it is in
        out: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = here[: len(here) - (node.level - 1)]
                target = [*base, *(node.module.split(".") if node.module else [])]
                names = [a.name for a in node.names]
                out.update(_resolve(package, target, names))
            elif isinstance(node, ast.ImportFrom | ast.Import):
                mods = [node.module] if isinstance(node, ast.ImportFrom) else []
                mods += [a.name for a in node.names] if isinstance(node, ast.Import) else []
                for mod in mods:
                    if mod and (mod == package.name or mod.startswith(package.name + ".")):
                        rest = mod.split(".")[1:]
                        names = (
                            [a.name for a in node.names] if isinstance(node, ast.ImportFrom) else []
                        )
                        out.update(_resolve(package, rest, names))
        out.discard(name)
        graph[name] = out
    return graph


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _resolve(package: Path, target: list[str], names: list[str]) -> set[str]:
    """The modules ``from <target> import <names>`` reads: a submodule named in names, or
    the target module (``__init__`` for the package itself)."""
    found = set()
    for n in names:
        sub = package.joinpath(*target, n)
        if sub.with_suffix(".py").is_file() or (sub / "__init__.py").is_file():
            found.add(".".join([*target, n]))
    if not found or len(found) < len(names):
        found.add(".".join(target) if target else "__init__")
    return {f.removesuffix(".__init__") for f in found}


def layer_of(module: str, layers: list[tuple[str, list[str]]]) -> int | None:
    """The index of the layer (0: the top) whose longest matching name covers ``module``."""
    best: tuple[int, int] | None = None
    for i, (_, names) in enumerate(layers):
        for n in names:
            matches = module == n or module.startswith(n + ".")
            if matches and (best is None or len(n) > best[0]):
                best = (len(n), i)
    return best[1] if best is not None else None


def violations(graph: Graph, layers: list[tuple[str, list[str]]]) -> list[str]:
    out = []
    for module, imports in sorted(graph.items()):
        here = layer_of(module, layers)
        if here is None:
            out.append(f"{module} is in no layer")
            continue
        for target in sorted(imports):
            there = layer_of(target, layers)
            if there is not None and there < here:
                out.append(
                    f"{module} ({layers[here][0]}) imports {target} ({layers[there][0]}), "
                    "a layer above it"
                )
    return out


def test_no_import_runs_against_the_stated_layers() -> None:
    layers = stated_layers(DOC.read_text(encoding="utf-8"))
    graph = import_graph(PACKAGE)
    assert len(graph) > 60  # the whole package was read
    problems = violations(graph, layers)
    assert not problems, "\n".join(problems)


def test_nothing_imports_the_package_face() -> None:
    """The version and every shared type live in leaves: only the console entry points
    reach nanaudit/__init__.py."""
    graph = import_graph(PACKAGE)
    assert [m for m, imports in graph.items() if "__init__" in imports] == []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("records.py", "from .pipeline import scan\n"),  # model -> orchestration
        ("options.py", "def later() -> None:\n    from .collect import plan_tasks\n"),
        ("checks/images.py", "from ..plan import ScanPlan\n"),  # library -> config
        ("severity.py", "import nanaudit.report\n"),  # leaf -> model
    ],
)
def test_an_arrow_against_the_layers_fails(tmp_path: Path, module: str, source: str) -> None:
    """A copy of the package with one import added against the layering: the test's
    check names it (and only it)."""
    copy = tmp_path / "nanaudit"
    for path in PACKAGE.rglob("*.py"):
        target = copy / path.relative_to(PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    bad = copy / module
    bad.write_text(bad.read_text(encoding="utf-8") + "\n" + source, encoding="utf-8")
    layers = stated_layers(DOC.read_text(encoding="utf-8"))
    problems = violations(import_graph(copy), layers)
    name = module.removesuffix(".py").replace("/", ".")
    assert len(problems) == 1 and problems[0].startswith(f"{name} ("), problems
