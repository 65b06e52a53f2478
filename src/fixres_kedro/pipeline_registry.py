"""Project pipelines, one per folder of ``fixres_kedro.pipelines``.

``fixres`` (also the default) is the whole experiment. Its parts run alone too:
``data`` (the split), ``initial``, ``finetune`` and ``vanilla`` (one training run
each), ``training`` (all three) and ``report`` (the comparison).
"""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline


def register_pipelines() -> dict[str, Pipeline]:
    pipelines = find_pipelines(raise_errors=True)
    # find_pipelines imports only the requested folders when --pipelines names some.
    if "fixres" in pipelines:
        pipelines["__default__"] = pipelines["fixres"]
    return pipelines
