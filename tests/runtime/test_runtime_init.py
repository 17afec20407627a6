"""The public surface of tauro.runtime is what its docstring promises."""

from __future__ import annotations

import ast
import pathlib
import sys

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
    source = pathlib.Path(tauro.runtime.__file__).parent
    for path in source.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                assert any(name == a or name.startswith(a + ".") for a in allowed), (
                    path.name,
                    name,
                )
