"""The type of the figures the plotting nodes return, named without importing matplotlib.

Kedro resolves every node's type hints whenever it loads a project's context (its parameter
validation, ``kedro viz build`` included): a hint naming ``matplotlib.figure.Figure`` would
load matplotlib, a quarter of a second, for commands that draw nothing.
"""

from __future__ import annotations

from typing import Any, Protocol


class Figure(Protocol):
    """A ``matplotlib.figure.Figure``: what ``fixres.plots`` draws and ``FigureDataset`` saves."""

    def savefig(self, fname: Any, **kwargs: Any) -> None: ...
