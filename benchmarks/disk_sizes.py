"""The disk a full-size run takes: a ResNet50V2 model file and a training checkpoint.

    python benchmarks/disk_sizes.py [--classes 5]

Builds the example's model (``get_training_model``) for tf_flowers' 5 classes, compiles
it as training does (Adam), saves it as the catalog saves models (``KerasModelDataset``:
a ``.keras`` file of the architecture and weights, no optimizer state) and has
``TrainingCheckpoint`` write one checkpoint of it (the weights and the optimizer's
variables), driven through its callback methods as ``fit`` drives them after one epoch,
without training; prints both sizes in MiB (2**20 bytes). docs/faults.md quotes them.
"""

# ruff: noqa: T201  (a script that prints)

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import harness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=5)
    classes = parser.parse_args().classes

    from fixres_kedro.datasets import KerasModelDataset  # noqa: PLC0415
    from fixres_kedro.fixres.checkpoint import TrainingCheckpoint, newest_checkpoint  # noqa: PLC0415
    from fixres_kedro.fixres.model import get_training_model  # noqa: PLC0415
    from fixres_kedro.fixres.training import compile_model  # noqa: PLC0415

    model = compile_model(get_training_model(classes, seed=0), learning_rate=1e-3)
    # Adam's moments exist once the optimizer is built, as after a training step.
    model.optimizer.build(model.trainable_variables)
    with tempfile.TemporaryDirectory() as folder:
        model_file = Path(folder) / "model.keras"
        KerasModelDataset(filepath=str(model_file)).save(model)
        checkpoints = Path(folder) / "checkpoints"
        callback = TrainingCheckpoint(checkpoints, "disk_sizes")
        callback.set_model(model)
        callback.on_train_begin()
        callback.on_epoch_begin(0)
        callback.on_epoch_end(0, {})
        callback.on_train_end()  # waits for the checkpoint's background write
        callback.release()
        checkpoint = newest_checkpoint(checkpoints)
        variables = len(model.weights) + len(model.optimizer.variables)
        print(f"ResNet50V2, {classes} classes: model file {harness.size_mib(model_file):.1f} MiB, "
              f"checkpoint {harness.size_mib(checkpoint):.1f} MiB ({variables} variables)")


if __name__ == "__main__":
    main()
