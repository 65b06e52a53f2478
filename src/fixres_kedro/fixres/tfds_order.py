"""Moved to ``fixres_kedro.datasets.photo_source.tfds_order``: tfds' order is the photo
source's matter, not the technique's. This name stays only while ``parameters.py`` and
``pipelines/data/nodes.py`` still import from it; delete it once they import from there.

Nothing is imported until a name is asked for, so importing the core stays free of the
dataset layer.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    from fixres_kedro.datasets.photo_source import tfds_order  # noqa: PLC0415

    return getattr(tfds_order, name)
