"""The core (``fixres_kedro.fixres``) knows nothing of Kedro or of the project's datasets."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

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
