"""The core (``fixres_kedro.fixres``) knows nothing of Kedro or of the project's datasets."""

from __future__ import annotations

import ast
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import fixres_kedro.fixres as core


def test_no_core_module_imports_kedro_or_the_kedro_layer():
    modules = [f"{core.__name__}.{info.name}" for info in pkgutil.iter_modules(core.__path__)]
    assert len(modules) > 10
    probe = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in ('kedro', 'kedro_datasets')}\n"
        "             | {m for m in sys.modules if m.startswith('fixres_kedro.')\n"
        "                and not m.startswith('fixres_kedro.fixres')}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def _core_sources() -> dict[str, str]:
    folder = Path(core.__file__).parent
    return {path.name: path.read_text() for path in sorted(folder.glob("*.py"))}


def test_no_core_source_imports_kedro_or_the_kedro_layer():
    """Also the imports the probe cannot see: those inside functions, or not yet run."""
    for name, text in _core_sources().items():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                imported = [node.module or ""]
            else:
                continue
            for module in imported:
                assert module.split(".")[0] not in ("kedro", "kedro_datasets"), (name, module)
                assert not module.startswith("fixres_kedro.") or module.startswith("fixres_kedro.fixres"), (
                    name, module)


# `kedro run`, `kedro prune`...: a command; ParallelRunner, SequentialRunner...: a runner.
KEDRO_COMMAND = re.compile(r"\bkedro [a-z]+")
RUNNER = re.compile(r"\b\w*Runner\b")


def test_no_core_source_speaks_of_kedro_commands_or_runners():
    """What to run and how Kedro schedules nodes are the Kedro layer's to say (the CLI
    adds its hints to the core's messages); the core's texts and docstrings name neither."""
    for name, text in _core_sources().items():
        for pattern in (KEDRO_COMMAND, RUNNER):
            found = pattern.findall(text)
            assert not found, f"{name} mentions {found}"
