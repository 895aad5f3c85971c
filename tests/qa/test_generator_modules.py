"""The generators' modules: one per question family, small, and importing one another in one direction only."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "docsbot.qa.generators"
FOLDER = Path(__file__).resolve().parents[2] / "docsbot" / "qa" / "generators"
MODULES = sorted(path.stem for path in FOLDER.glob("*.py"))


def _tree(module: str) -> ast.Module:
    path = FOLDER / f"{module}.py"
    return ast.parse(path.read_text(), str(path))


def _imported(module: str) -> dict[str, set[str]]:
    """The package's modules that this one imports, anywhere in it (functions too), with the names it takes from
    each; ``from docsbot.qa.generators import vocabulary`` imports the vocabulary module."""
    found: dict[str, set[str]] = {}
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(f"{PACKAGE}."):
                    found.setdefault(alias.name.removeprefix(f"{PACKAGE}."), set())
        elif isinstance(node, ast.ImportFrom) and node.module == PACKAGE:
            for alias in node.names:
                target = alias.name if alias.name in MODULES else "__init__"
                found.setdefault(target, set()).update(set() if target == alias.name else {alias.name})
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(f"{PACKAGE}."):
            found.setdefault(node.module.removeprefix(f"{PACKAGE}."), set()).update(a.name for a in node.names)
    found.pop(module, None)
    return found


def test_no_module_imports_a_module_that_imports_it_back():
    graph = {module: set(_imported(module)) for module in MODULES}
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        for target in sorted(graph.get(module, ())):
            if target in path:
                cycles.append(" -> ".join([*path[path.index(target):], target]))
            else:
                visit(target, [*path, target])

    for module in MODULES:
        visit(module, [module])
    assert not cycles, cycles


def test_no_module_uses_another_modules_private_names():
    offenders = [f"{module} imports {name} from {source}" for module in MODULES
                 for source, names in _imported(module).items() for name in names if name.startswith("_")]
    aliases = {module: {alias.asname or alias.name for node in ast.walk(_tree(module))
                        if isinstance(node, ast.ImportFrom) and node.module == PACKAGE for alias in node.names}
               for module in MODULES}
    offenders += [f"{module} uses {node.value.id}.{node.attr}" for module in MODULES for node in ast.walk(_tree(module))
                  if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                  and node.value.id in aliases[module] and node.attr.startswith("_")]
    assert not offenders, offenders


@pytest.mark.parametrize("module", MODULES)
def test_each_module_holds_one_family_in_under_300_lines(module):
    path = FOLDER / f"{module}.py"
    assert len(path.read_text().splitlines()) <= 300
    assert ast.get_docstring(_tree(module)), "its docstring says what it holds"
