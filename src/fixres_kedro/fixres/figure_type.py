"""The type of the figures ``plots`` draws, named without importing matplotlib.

A hint naming ``matplotlib.figure.Figure`` loads matplotlib (a quarter of a second) wherever
the hints are resolved, as a pipeline framework resolves its functions' hints to validate
their parameters, even when nothing is drawn.
"""

from __future__ import annotations

from typing import Any, Protocol


class Figure(Protocol):
    """A ``matplotlib.figure.Figure``: what ``fixres.plots`` draws and ``FigureDataset`` saves."""

    def savefig(self, fname: Any, **kwargs: Any) -> None: ...
