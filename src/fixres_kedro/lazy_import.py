"""Modules loaded on first use, for the names node modules need only when a node runs.

Registering the pipelines imports every node module (``kedro registry list``, ``kedro run
--help``, every one-line error), but their pandas and matplotlib appear only in type hints,
which Kedro resolves when it loads a context to validate the parameters (``kedro.validation``;
the figures' hints name ``fixres.figure_type.Figure``, which needs no matplotlib), and in
node bodies. With ``importlib.util.LazyLoader`` a name such as ``pd`` is bound at once and
the library loads at its first attribute access: half a second less for every command that
trains nothing.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_import(name: str) -> ModuleType:
    """The module ``name``: the one already imported, else one that loads on first use."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
