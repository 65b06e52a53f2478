"""The disk a full-size run takes: a ResNet50V2 model file and a training checkpoint.

    python benchmarks/disk_sizes.py [--classes 5]

Builds the example's model (``get_training_model``) for tf_flowers' 5 classes, compiles
it as training does (Adam), saves it as the catalog saves models (``.keras``) and writes
one checkpoint as ``TrainingCheckpoint`` does (weights and the optimizer's variables);
prints both sizes in MiB (2**20 bytes). The README's "Disk" section quotes them.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from fixres_kedro.fixres.checkpoint import _to_host, _variables, write_checkpoint
from fixres_kedro.fixres.model import get_training_model
from fixres_kedro.fixres.training import compile_model


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=5)
    classes = parser.parse_args().classes
    model = compile_model(get_training_model(classes, seed=0), learning_rate=1e-3)
    with tempfile.TemporaryDirectory() as folder:
        model_file = Path(folder) / "model.keras"
        model.save(model_file)
        variables = _variables(model)
        checkpoint = write_checkpoint(Path(folder) / "checkpoints", 1, [v.path for v in variables],
                                      _to_host(variables), {"epochs_done": 1})
        print(f"ResNet50V2, {classes} classes: model file {_size(model_file) / 2**20:.1f} MiB, "
              f"checkpoint {_size(checkpoint) / 2**20:.1f} MiB ({len(variables)} variables)")


if __name__ == "__main__":
    main()
