"""The table of the four fine-tuning variants."""

from __future__ import annotations

import pytest

from fixres_kedro.metrics import Metrics
from fixres_kedro.pipelines.variants.nodes import compare_finetune_variants


def test_compare_finetune_variants_tabulates_four_rows():
    def metrics(top1, epochs=1):
        return Metrics(model="finetune", top1=top1, loss=1.0, validation_examples=100, epochs=epochs,
                       train_seconds=2.0, parameters={"dataset": {"image_size": 224}})
    table, figure = compare_finetune_variants(metrics(0.8), metrics(0.75), metrics(0.7, 0), metrics(0.5, 0))
    assert list(table["variant"]) == ["example", "official", "bn_stats", "none"]
    assert list(table["epochs"]) == [1, 1, 0, 0]
    assert table["top1_stderr"].iloc[0] == pytest.approx((0.8 * 0.2 / 100) ** 0.5)
    assert figure.axes
