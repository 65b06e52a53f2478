"""Why several hosts are refused under TensorFlow: Keras 3's ``fit`` with
``MultiWorkerMirroredStrategy`` on a per-worker dataset, reproduced on one machine.

Run (two processes on 127.0.0.1, a few seconds each):

    python scripts/tf_multiworker_repro.py 0 23451,23452 & python scripts/tf_multiworker_repro.py 1 23451,23452

With Keras 3.15.1 and TensorFlow 2.21 (2026-11-28) both workers stop in ``fit``, in
``TensorFlowTrainer._maybe_symbolic_build``, which reduces the first distributed batch
with ``strategy.reduce`` and fails with "Attempt to convert a value (PerReplica:{...})
... to a Tensor". A per-worker dataset (``distribute_datasets_from_function``) is the
only way to give each worker its share of a global batch that Keras' ``PyDataset``
makes; see also keras-team/keras#20585 (TensorFlow's own multi-worker Keras tutorial
fails under Keras 3).
"""

import json
import os
import sys

index, ports = int(sys.argv[1]), sys.argv[2].split(",")
os.environ["TF_CONFIG"] = json.dumps({
    "cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
    "task": {"type": "worker", "index": index},
})
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

keras.config.disable_traceback_filtering()
strategy = tf.distribute.MultiWorkerMirroredStrategy()
rng = np.random.default_rng(0)
images = rng.normal(size=(32, 8, 8, 3)).astype("float32")
labels = np.arange(32) % 3
GLOBAL_BATCH = 8


def worker_dataset(context: tf.distribute.InputContext) -> tf.data.Dataset:
    """This worker's share of every global batch."""
    share = GLOBAL_BATCH // context.num_input_pipelines
    first = context.input_pipeline_id * share

    def batches():
        for start in range(0, len(images), GLOBAL_BATCH):
            rows = slice(start + first, start + first + share)
            yield images[rows], labels[rows]

    return tf.data.Dataset.from_generator(batches, output_signature=(
        tf.TensorSpec((None, 8, 8, 3), tf.float32), tf.TensorSpec((None,), tf.int64)))


with strategy.scope():
    inputs = keras.layers.Input((8, 8, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
history = model.fit(strategy.distribute_datasets_from_function(worker_dataset), epochs=2, verbose=0)
print("worker", index, "trained:", history.history["loss"])
