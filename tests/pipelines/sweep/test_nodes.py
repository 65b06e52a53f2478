"""The test-resolution sweep: both transforms at every resolution."""

from __future__ import annotations

import io

import keras
import pandas as pd
import pytest
from PIL import Image

from fixres_kedro.fixres.preprocessing import InputPipeline
from fixres_kedro.parameters import RuntimeParams, SweepParams
from fixres_kedro.pipelines.sweep.nodes import (
    evaluate_at_resolutions,
    evaluation_pipeline,
    plot_resolution_sweep,
)

pytestmark = pytest.mark.keras  # exercises the Keras backend: run on every backend

SWEEP = SweepParams(resolutions=[32, 48], transforms=["resize", "resize_crop"], resize_ratio=1.75, batch_size=4)
RUNTIME = RuntimeParams(workers=1)


def test_the_crop_transform_at_224_is_the_examples_392_then_224():
    pipeline = evaluation_pipeline("resize_crop", 224, SWEEP)
    assert (pipeline.recipe, pipeline.resize_size, pipeline.image_size) == ("finetune", 392, 224)
    assert evaluation_pipeline("resize", 160, SWEEP).recipe == "initial"


def test_evaluate_at_resolutions_gives_a_row_per_transform_and_resolution():
    rows = []
    for index in range(8):
        buffer = io.BytesIO()
        Image.new("RGB", (40 + index, 30), (index * 30, 0, 0)).save(buffer, format="PNG")
        rows.append({"image": buffer.getvalue(), "label": index % 2})
    split = pd.DataFrame(rows)
    inputs = keras.layers.Input((None, None, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(pooled))
    table = evaluate_at_resolutions(model, split, SWEEP, RUNTIME)
    assert list(zip(table["transform"], table["resolution"])) == [
        ("resize", 32), ("resize", 48), ("resize_crop", 32), ("resize_crop", 48)
    ]
    assert table["top1"].between(0, 1).all() and (table["examples"] == 8).all()
    dataset = InputPipeline(name="initial", recipe="initial", image_size=32)
    combined, figure = plot_resolution_sweep(table, table, table, dataset, dataset, dataset)
    assert len(combined) == 12 and set(combined["model"]) == {"initial", "finetune", "vanilla"}
    assert len(figure.axes) == 3
