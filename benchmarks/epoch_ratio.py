"""Is the input pipeline the bottleneck? The same model trained on synthetic in-memory
batches and on the real input pipeline, in one process; the ratio of their epoch times.

    python benchmarks/epoch_ratio.py --archive ../shared/data/flower_photos.tgz \\
        [--size 128] [--epochs 4] [--backbone resnet50v2] [--batch-size 32] \\
        [--steps-per-execution 16] [--workers 0] [--max-photos N] [--json out.json]

Both runs train the same architecture from the same seed, with the same batch size,
``steps_per_execution`` and ``TrainingCheckpoint`` (a checkpoint written after every epoch,
as in a real run), so "epoch time" is what the project logs: the wall time of the epoch,
its checkpoint included. The synthetic run feeds one fixed batch of the right shape again
and again (no decoding, no augmentation); the real run reads the training split the way
the ``initial`` (or, with ``--recipe finetune``, the ``finetune``) node does. The first epoch
(compilation) is left out; the figures are medians of the others. Printed: both medians, the
ratio real / synthetic (issue #10's target: at most 1.15 on a GPU), and the checkpoint's
share of an epoch (target: at most 5%).
"""

# ruff: noqa: T201, PLC0415  (a script that prints; imports after the arguments are read)

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import harness


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", type=Path, required=True)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--recipe", choices=("initial", "finetune"), default="initial")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--backbone", default="resnet50v2")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps-per-execution", type=int, default=1)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--max-photos", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import keras

    from fixres_kedro.fixres.checkpoint import TrainingCheckpoint
    from fixres_kedro.fixres.dataset import ImageBatches, SyncEpoch
    from fixres_kedro.fixres.model import get_training_model
    from fixres_kedro.fixres.preprocessing import InputPipeline
    from fixres_kedro.fixres.training import compile_model
    from fixres_kedro.fixres.photos import decode_photos

    watch = harness.Stopwatch()
    train, class_names = harness.train_split(args.archive, args.max_photos)
    images, labels, classes = decode_photos(list(train["image"])), train["label"].to_numpy(), len(class_names)
    print(f"{len(images)} training photos decoded in {watch.seconds:.1f} s; "
          f"backend {keras.backend.backend()}, {args.backbone} at {args.size} px, batch {args.batch_size}")
    pipeline = InputPipeline(name="benchmark", recipe=args.recipe, image_size=args.size,
                             train_image_size=args.size // 2 if args.recipe == "finetune" else None,
                             batch_size=args.batch_size)
    real = ImageBatches(images, labels, pipeline, train=True, workers=args.workers)
    first = real[0]

    class Synthetic(keras.utils.PyDataset):
        """The real pipeline's first batch, served for every index."""

        def __len__(self) -> int:
            return len(real)

        def __getitem__(self, index: int):
            return first

    def train(data, name: str) -> dict:
        model = get_training_model(classes, args.backbone, seed=0)
        compile_model(model, 1e-3, args.steps_per_execution, "auto")
        with tempfile.TemporaryDirectory() as folder:
            checkpoint = TrainingCheckpoint(Path(folder) / name, name)
            callbacks = [SyncEpoch(data), checkpoint] if isinstance(data, ImageBatches) else [checkpoint]
            model.fit(data, epochs=args.epochs, shuffle=False, verbose=0, callbacks=callbacks)
            checkpoint.release()
        epochs = checkpoint.history["epoch_seconds"][1:]  # the first one compiles
        shares = [c / e for c, e in zip(checkpoint.history["checkpoint_seconds"][1:], epochs)]
        return {"epoch_seconds": epochs, "median": harness.median(epochs),
                "checkpoint_share_median": harness.median(shares), "checkpoint_share_max": max(shares)}

    results = {"synthetic": train(Synthetic(workers=1), "synthetic"), "real": train(real, "real")}
    ratio = harness.ratio(results["real"]["median"], results["synthetic"]["median"])
    for name, result in results.items():
        print(f"{name:9s} epochs (after the first): {', '.join(f'{s:.2f}' for s in result['epoch_seconds'])} s; "
              f"median {result['median']:.2f} s; checkpoint {result['checkpoint_share_median']:.1%} "
              f"of an epoch (max {result['checkpoint_share_max']:.1%})")
    print(f"real / synthetic epoch time: {ratio:.3f} (target <= 1.15)")
    harness.write_json(args.json, {**vars(args), "archive": str(args.archive), "json": None,
                                   "backend": keras.backend.backend(), "results": results, "ratio": ratio})
    return 0


if __name__ == "__main__":
    sys.exit(main())
