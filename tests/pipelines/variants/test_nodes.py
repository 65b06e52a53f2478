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


def test_the_official_variant_has_the_authors_recipe_and_its_own_input_pipeline():
    from fixres_kedro.pipelines.variants import create_pipeline  # noqa: PLC0415
    from fixres_kedro.pipelines.variants.nodes import DESCRIPTIONS  # noqa: PLC0415

    define = next(n for n in create_pipeline().nodes if n.name == "finetune_official.define_input_pipeline")
    assert "params:finetune_official.dataset" in define.inputs  # not the example's finetune.dataset
    assert "SGD momentum 0.9 wd 1e-4" in DESCRIPTIONS["official"]
    assert "height to 256/224" in DESCRIPTIONS["official"] and "Adam" in DESCRIPTIONS["example"]
    assert all("\n" not in line for line in DESCRIPTIONS.values())
