"""What a trained model's files say, typed: its training ``History``, its ``Metrics`` and
their ``Provenance``. Every reader (the report, the seeds, tracking) uses these fields;
the catalog stores them as JSON (``fixres_kedro.datasets.TypedJSONDataset``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Record(BaseModel):
    # A record is written once by one node; unknown keys in an old file are kept.
    model_config = ConfigDict(extra="allow", frozen=True)


class Provenance(_Record):
    """Where a result comes from: the Kedro run (its id is also the version of every file
    it saved), the environment, the commit, the node, and the versions of its inputs."""

    run_id: str | None = None
    environment: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    node: str | None = None
    inputs: dict[str, str] = Field(default_factory=dict)

    def for_node(self, node: str, inputs: dict[str, str]) -> Provenance:
        return self.model_copy(update={"node": node, "inputs": inputs})


class History(_Record):
    """What training (or another adaptation) did and cost: per-epoch logs, epochs, time."""

    epochs_run: int
    train_examples: int = 0
    train_seconds: float = 0.0
    images_per_second: float | None = None
    peak_accelerator_memory_bytes: int | None = None
    backbone_learns: bool = True
    top1: float | None = None  # the last epoch's validation metrics
    loss: float | None = None
    history: dict[str, list[float]] = Field(default_factory=dict)

    @classmethod
    def untrained(cls) -> History:
        return cls(epochs_run=0, images_per_second=None)


class Metrics(_Record):
    """A model's top-1 and loss on its validation pipeline, with its costs and provenance."""

    model: str
    top1: float
    loss: float
    validation_examples: int
    epochs: int
    train_seconds: float
    images_per_second: float | None = None
    train_flops_estimate: float = 0.0
    peak_accelerator_memory_bytes: int | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)  # dataset, training, runtime
    keras_backend: str | None = None
    keras_version: str | None = None
    backbone: str | None = None  # the keras.applications constructor (ResNet50V2), or tiny
    final_batch_norm: str | None = None  # the layer FixRes fine-tunes (post_bn in ResNet50V2)
    provenance: Provenance = Field(default_factory=Provenance)

    @property
    def dataset(self) -> dict[str, Any]:
        return self.parameters.get("dataset") or {}


def mixed_origins(metrics: list[Metrics]) -> str | None:
    """A warning when ``metrics`` come from more than one run or environment, else None."""
    runs = sorted({str(m.provenance.run_id) for m in metrics})
    environments = sorted({str(m.provenance.environment) for m in metrics})
    if len(runs) == 1 and len(environments) == 1:
        return None
    return (f"these results come from {len(runs)} runs ({', '.join(runs)}) in "
            f"{len(environments)} environment(s) ({', '.join(environments)}): they may not be comparable")
