"""The public surface of tauro.runtime is what its docstring promises, and its layers.

The import checks parse the modules' sources, so an import inside
``if TYPE_CHECKING:`` or a function counts like any other: a cycle hidden that way
is still a cycle.
"""

from __future__ import annotations

import ast
import importlib
import pathlib
import re
import sys

import pytest

import tauro.runtime


def test_exports_are_complete_and_public() -> None:
    assert sorted(tauro.runtime.__all__) == sorted(
        name
        for name in vars(tauro.runtime)
        if (not name.startswith("_") and name[0].isupper())
        or name
        in ("all_running", "open_actor_system", "open_systemd_notifier", "run_until_signalled")
    )
    for name in tauro.runtime.__all__:
        obj = getattr(tauro.runtime, name)
        assert obj.__module__.startswith("tauro.runtime._"), name
        assert name in (tauro.runtime.__doc__ or ""), f"{name} is not described"


def test_the_runtime_imports_only_trio_outcome_errors_and_the_standard_library() -> None:
    allowed = {"trio", "outcome", "tauro.errors", "tauro.runtime", *sys.stdlib_module_names}
    for path in _package_dir("tauro.runtime").glob("*.py"):
        for name in _imports(path, "tauro.runtime"):
            assert any(name == a or name.startswith(a + ".") for a in allowed), (path.name, name)


# tauro.testing (the emulators) is checked here too: it has no layering test of its own.
@pytest.mark.parametrize("package", ["tauro.runtime", "tauro.testing"])
def test_the_modules_of_a_package_import_each_other_without_a_cycle(package: str) -> None:
    assert _find_cycle(_module_graph(package)) is None


def test_the_cycle_check_finds_a_cycle_hidden_behind_type_checking(tmp_path: pathlib.Path) -> None:
    (tmp_path / "_low.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg._high import High\n"
    )
    (tmp_path / "_high.py").write_text("from pkg import _low\n")
    (tmp_path / "_alone.py").write_text("import trio\n")
    graph = _module_graph("pkg", tmp_path)
    assert graph == {"_low": {"_high"}, "_high": {"_low"}, "_alone": set()}
    assert _find_cycle(graph) in (["_low", "_high", "_low"], ["_high", "_low", "_high"])


def test_the_docstring_lists_the_modules_bottom_up() -> None:
    graph = _module_graph("tauro.runtime")
    docstring = tauro.runtime.__doc__ or ""
    listed = re.findall(r"^    (\w+) {2,}", docstring.split("bottom-up")[1], re.MULTILINE)
    assert sorted(listed) == sorted(set(graph) - {"__init__"})
    for position, module in enumerate(listed):
        assert graph[module] <= set(listed[:position]), f"{module} imports a module listed below it"


def _package_dir(package: str) -> pathlib.Path:
    return pathlib.Path(importlib.import_module(package).__file__ or "").parent


def _imports(path: pathlib.Path, package: str) -> set[str]:
    """Every module ``path`` imports, wherever the import stands (TYPE_CHECKING too).

    ``from package import name`` counts as an import of ``package.name`` when
    that is a module of the package, else of ``package`` itself.
    """
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative imports are not checked"
            module = node.module or ""
            for alias in node.names:
                submodule = path.parent / f"{alias.name}.py"
                is_sibling = module == package and submodule.exists()
                names.add(f"{module}.{alias.name}" if is_sibling else module)
    return names


def _module_graph(package: str, directory: pathlib.Path | None = None) -> dict[str, set[str]]:
    """Each module of ``package`` (one directory) and the modules of it that it imports."""
    directory = directory or _package_dir(package)
    graph: dict[str, set[str]] = {}
    prefix = package + "."
    for path in directory.glob("*.py"):
        imported = _imports(path, package)
        uses = {n.removeprefix(prefix).split(".")[0] for n in imported if n.startswith(prefix)}
        if package in imported and path.stem != "__init__":
            uses.add("__init__")  # from the package's __init__
        graph[path.stem] = uses
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (``[a, b, a]``), or None when the modules stand in layers.

    ``__init__`` re-exporting its modules is not a cycle; a module importing
    from the package ``__init__`` is an edge to it like any other.
    """
    edges = {
        module: set() if module == "__init__" else imported for module, imported in graph.items()
    }
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for imported in sorted(edges.get(module, set())):
            cycle = visit(imported, [*path, module])
            if cycle is not None:
                return cycle
        done.add(module)
        return None

    for module in sorted(edges):
        cycle = visit(module, [])
        if cycle is not None:
            return cycle
    return None
