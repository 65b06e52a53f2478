"""``model.fit`` trains on exactly the batches ``ImageBatches`` defines for each epoch.

Batch ``i`` of epoch ``e`` is a pure function of ``(seed, e, i)``; this checks that the
order Keras serves them in, through its worker queue, is that order too, from the
first epoch and after a resumption, on whichever backend runs the tests.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fixres_kedro.fixres.dataset import ImageBatches
from fixres_kedro.fixres.preprocessing import InputPipeline
from fixres_kedro.fixres.training import train_and_evaluate

pytestmark = pytest.mark.keras  # exercises the Keras backend: run on every backend

N_IMAGES, BATCH, EPOCHS = 40, 2, 3  # 20 batches an epoch: longer than the worker queue


class ExampleIdRecorder(keras.layers.Layer):
    """Writes the example ids of every training batch it sees into a variable.

    Example ``i`` is a constant photo of value ``i``, which every transform of the
    recipes (crop, bilinear resize, flip) keeps constant; a variable rather than a
    Python list, so that it records under a compiled train step on every backend.
    """

    def __init__(self, capacity: int, **kwargs):
        super().__init__(**kwargs)
        self.ids = self.add_weight(shape=(capacity,), initializer="zeros",
                                   trainable=False, name="ids")
        self.count = self.add_weight(shape=(), initializer="zeros", dtype="int32",
                                     trainable=False, name="count")

    def call(self, x, training=False):
        if training:
            size = keras.ops.shape(x)[0]
            slots = keras.ops.one_hot(self.count + keras.ops.arange(size), self.ids.shape[0])
            self.ids.assign(self.ids + keras.ops.sum(slots * x[:, :1, 0, 0], axis=0))
            self.count.assign(self.count + size)
        return x


def _recording_model(capacity: int) -> tuple[keras.Model, ExampleIdRecorder]:
    keras.utils.set_random_seed(0)
    inputs = keras.layers.Input((None, None, 3))
    recorder = ExampleIdRecorder(capacity)
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(recorder(inputs))
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x)), recorder


def _served_order(recipe: str, shuffle: str, epochs: int = EPOCHS) -> np.ndarray:
    images = [np.full((9 + i % 5, 11 + i % 3, 3), i, np.uint8) for i in range(N_IMAGES)]
    labels = np.arange(N_IMAGES) % 2
    pipeline = InputPipeline(name="order", recipe=recipe, image_size=8, batch_size=BATCH,
                             train_image_size=8, shuffle=shuffle)
    model, recorder = _recording_model(N_IMAGES * epochs)
    train_and_evaluate(
        model, ImageBatches(images, labels, pipeline, train=True, workers=2),
        ImageBatches(images, labels, pipeline, train=False),
        epochs=epochs, learning_rate=1e-3, verbose=0,
    )
    count = int(keras.ops.convert_to_numpy(recorder.count))
    assert count == N_IMAGES * epochs
    return np.rint(keras.ops.convert_to_numpy(recorder.ids)).astype(int)


def _expected_order(recipe: str, shuffle: str, epochs: int = EPOCHS) -> np.ndarray:
    pipeline = InputPipeline(name="order", recipe=recipe, image_size=8, batch_size=BATCH,
                             train_image_size=8, shuffle=shuffle)
    images = [np.zeros((2, 2, 3), np.uint8)] * N_IMAGES
    batches = ImageBatches(images, np.zeros(N_IMAGES), pipeline, train=True)
    orders = []
    for epoch in range(epochs):
        batches.set_epoch(epoch)
        orders.append(batches.order)
    return np.concatenate(orders)


@pytest.mark.parametrize(("recipe", "shuffle"), [("initial", "examples"),
                                                 ("finetune", "batches")])
def test_fit_serves_each_epochs_batches_in_order(recipe, shuffle):
    np.testing.assert_array_equal(_served_order(recipe, shuffle),
                                  _expected_order(recipe, shuffle))
