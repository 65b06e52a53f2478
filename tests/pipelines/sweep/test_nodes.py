"""The test-resolution sweep: the three transforms at every resolution, named plainly, and
the predicted best test resolution beside the measured one."""

from __future__ import annotations

import io

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fixres_kedro.fixres.preprocessing import InputPipeline
from fixres_kedro.parameters import RuntimeParams, SweepParams
from fixres_kedro.pipelines.sweep.nodes import (
    evaluate_at_resolutions,
    evaluation_pipeline,
    plot_resolution_sweep,
    predict_test_resolutions,
    transform_label,
)

pytestmark = pytest.mark.keras  # exercises the Keras backend: run on every backend

SWEEP = SweepParams(resolutions=[32, 48], resize_ratio=1.75, batch_size=4, prediction_draws=500)
TRANSFORMS = ("resize", "resize_crop", "resize_shorter_crop")
RUNTIME = RuntimeParams(workers=1)


def test_the_crop_transform_at_224_is_the_examples_392_then_224():
    pipeline = evaluation_pipeline("resize_crop", 224, SWEEP)
    assert (pipeline.recipe, pipeline.resize_size, pipeline.image_size) == ("finetune", 392, 224)
    assert evaluation_pipeline("resize", 160, SWEEP).recipe == "initial"


def test_the_standard_transform_at_224_resizes_the_shorter_side_to_256():
    pipeline = evaluation_pipeline("resize_shorter_crop", 224, SWEEP)
    assert (pipeline.recipe, pipeline.image_size, pipeline.crop_ratio) == ("standard", 224, 0.875)
    photo = np.zeros((300, 400, 3), np.float32)
    assert pipeline.preprocess(photo, False, np.random.default_rng(0)).shape == (224, 224, 3)
    wider = evaluation_pipeline("resize_shorter_crop", 224, SWEEP.model_copy(update={"crop_ratio": 0.7}))
    assert wider.crop_ratio == 0.7


def test_the_sweep_evaluates_all_three_transforms_by_default():
    assert SweepParams(resolutions=[64]).transforms == TRANSFORMS


def test_each_transform_is_named_in_words_with_its_own_ratio():
    labels = [transform_label(transform, SWEEP) for transform in TRANSFORMS]
    assert labels == ["whole photo squashed to S x S", "squashed to 1.75S x 1.75S, centre S x S",
                      "shorter side to S / 0.875, centre S x S (standard)"]


def _split(count: int = 8) -> pd.DataFrame:
    rows = []
    for index in range(count):
        buffer = io.BytesIO()
        Image.new("RGB", (40 + index, 30), (index * 30, 0, 0)).save(buffer, format="PNG")
        rows.append({"image": buffer.getvalue(), "label": index % 2})
    return pd.DataFrame(rows)


def _decoded(count: int = 8) -> pd.DataFrame:
    return pd.DataFrame({"image": [np.zeros((240, 320 + index, 3), np.uint8) for index in range(count)],
                         "label": [index % 2 for index in range(count)]})


INITIAL = InputPipeline(name="initial", recipe="initial", image_size=128)
FINETUNE = InputPipeline(name="finetune", recipe="finetune", image_size=224, train_image_size=128)
VANILLA = InputPipeline(name="vanilla", recipe="initial", image_size=224)


def test_predictions_cover_every_model_and_transform():
    table = predict_test_resolutions(_decoded(), INITIAL, FINETUNE, VANILLA, SWEEP, seed=0)
    assert list(zip(table["model"], table["transform"])) == [
        (model, transform) for model in ("initial", "finetune", "vanilla") for transform in TRANSFORMS]
    rows = table.set_index(["model", "transform"])
    # The paper's formula: 128 px * 0.875 * 2 / (1 + sqrt(0.05)), the vanilla model 224 / 128 of it.
    assert rows.loc[("initial", "resize_shorter_crop"), "predicted_resolution_paper"] == pytest.approx(183.07, abs=0.05)
    assert rows.loc[("vanilla", "resize_shorter_crop"), "predicted_resolution_paper"] == pytest.approx(320.37, abs=0.05)
    # The fine-tune trains on its own square 392 -> 224 transform: predicted at 224 for it.
    assert rows.loc[("finetune", "resize_crop"), "predicted_resolution"] == pytest.approx(224)
    # The project's sampler draws smaller crops than the paper assumes: larger predictions.
    assert (rows.loc["initial", "inverse_sqrt_area"] > rows.loc["initial", "inverse_sqrt_area_paper"] + 0.2).all()


def test_evaluate_at_resolutions_gives_a_row_per_transform_and_resolution():
    split = _split()
    inputs = keras.layers.Input((None, None, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(pooled))
    table = evaluate_at_resolutions(model, split, SWEEP, RUNTIME)
    assert list(zip(table["transform"], table["resolution"])) == [
        ("resize", 32), ("resize", 48), ("resize_crop", 32), ("resize_crop", 48),
        ("resize_shorter_crop", 32), ("resize_shorter_crop", 48),
    ]
    assert table["top1"].between(0, 1).all() and (table["examples"] == 8).all()
    dataset = InputPipeline(name="initial", recipe="initial", image_size=32)
    predictions = predict_test_resolutions(_decoded(), dataset, dataset, dataset, SWEEP, seed=0)
    combined, figure = plot_resolution_sweep(table, table, table, dataset, dataset, dataset, predictions, SWEEP)
    assert len(combined) == 18 and set(combined["model"]) == {"initial", "finetune", "vanilla"}
    assert len(figure.axes) == 3


def test_the_table_and_the_plot_set_the_predicted_beside_the_measured_best():
    table = pd.DataFrame([
        {"transform": transform, "resolution": resolution, "top1": top1, "top1_stderr": 0.02,
         "loss": 1.0, "examples": 100}
        for transform in TRANSFORMS for resolution, top1 in ((128, 0.6), (192, 0.7), (256, 0.65))
    ])
    predictions = predict_test_resolutions(_decoded(), INITIAL, FINETUNE, VANILLA, SWEEP, seed=0)
    combined, figure = plot_resolution_sweep(table, table, table, INITIAL, FINETUNE, VANILLA, predictions, SWEEP)
    assert (combined["best_resolution"] == 192).all()
    merged = combined.drop_duplicates(["model", "transform"]).set_index(["model", "transform"])
    expected = predictions.set_index(["model", "transform"])
    for column in ("predicted_resolution", "predicted_resolution_paper"):
        assert merged[column].to_dict() == pytest.approx(expected[column].to_dict())
    assert set(combined["transform_label"]) == {transform_label(t, SWEEP) for t in TRANSFORMS}
    legend = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert [transform_label(t, SWEEP) for t in TRANSFORMS] == [entry for entry in legend if "S x S" in entry]
    assert legend.count("best measured: 192") == 3
    predicted = round(float(expected.loc[("initial", "resize_shorter_crop"), "predicted_resolution"]))
    assert f"predicted: {predicted}" in legend
