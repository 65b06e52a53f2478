"""``PaceWarning``: one line, after the first measured steps, with the training's duration."""

from __future__ import annotations

import logging
import re
import time

import keras
import numpy as np

from fixres_kedro.fixres.training import PaceWarning


class _SlowStep(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        time.sleep(0.05)


def test_one_warning_gives_the_whole_trainings_duration_at_the_measured_pace(caplog):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.zeros((40, 4), "float32"), np.zeros((40, 2), "float32")
    with caplog.at_level(logging.WARNING, logger="fixres_kedro.fixres.training"):
        # The slow step runs before PaceWarning in each batch: every step costs >= 0.05 s.
        model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[_SlowStep(), PaceWarning("initial", measured=3)])
    records = [r for r in caplog.records if "trains on the CPU" in r.getMessage()]
    lines = [r.getMessage() for r in records]
    assert len(lines) == 1, lines
    # The measured pace, for the hook that estimates the rest of the run.
    assert records[0].pace["steps_per_epoch"] == 10 and records[0].pace["epochs"] == 3
    found = re.fullmatch(r"initial trains on the CPU at ([\d.]+) s a step: its 3 epochs of 10 steps take about "
                         r"(\d+) min (\d\d) s \(a GPU host takes minutes; docs/gpu.md\)", lines[0])
    assert found, lines[0]
    assert 0.05 <= float(found.group(1)) < 0.5  # printed to 0.1 s
    # 30 steps of at least 0.05 s each (whole seconds printed).
    assert 1 <= int(found.group(2)) * 60 + int(found.group(3)) <= 15
