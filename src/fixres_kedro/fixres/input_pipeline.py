"""The three input pipelines of the Keras FixRes example, for every Keras backend.

The example's ``make_dataset`` picks one of two preprocessing functions:

* ``preprocess_initial`` (the *initial* 128 px pipeline, and the *vanilla* 224 px one):
  train = random distorted crop, bilinear resize to ``image_size``, random flip;
  validation = bilinear resize of the whole image to ``image_size``.
* ``preprocess_finetune`` (the *finetune* 224 px FixRes pipeline): resize to
  ``int(image_size / train_image_size * image_size)`` (392 for 224 and 128), random flip
  for training only, centre crop ``image_size``.

``InputPipeline`` is the recipe (what a dataset builder node produces and the catalog
stores as JSON); ``ImageBatches`` applies it to decoded photos and feeds ``model.fit``.
Photos are decoded once per process and split, never once per epoch: by the catalog
(``DecodedSplitDataset``, the ``*_split@decoded`` entries; ``fixres.photos``);
random draws come from ``(seed, epoch, batch)`` so that any worker order, and a resumed
run, sees the same batches.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Literal

import keras
import numpy as np
import pandas as pd

from fixres_kedro.fixres import transforms
from fixres_kedro.fixres.config import (
    Config,
    check,
    config,
    non_negative_int,
    optional,
    pair_range,
    positive_int,
)
from fixres_kedro.fixres.errors import InvalidParameterError, Problem
from fixres_kedro.fixres.photos import decode_photos, default_workers

RECIPES = ("initial", "finetune")
SHUFFLE_MODES = ("examples", "buffer", "batches", "none")


@config
class InputPipeline(Config):
    """One input pipeline: the recipe and the numbers the example hard-codes.

    This is also the type of a run's ``dataset`` parameters (without ``seed`` and
    ``workers``, which the dataset builder adds). ``shuffle`` is ``examples`` (a new
    permutation of the split every epoch, the default here), ``buffer`` (the Keras
    example's ``dataset.shuffle(shuffle_buffer)``: tf.data's streaming shuffle through a
    buffer of ``shuffle_buffer`` photos in the split's order, anew every epoch),
    ``batches`` (the batches are made once from the split's order, as tfds'
    ``.batch(batch_size)``, and only their order changes between epochs) or ``none``.
    """

    name: str
    recipe: Literal[RECIPES]  # type: ignore[valid-type]
    image_size: int = check(positive_int)
    batch_size: int = check(positive_int, 32)
    # finetune only: the low-res training size, from which the resize is derived
    train_image_size: int | None = check(optional(positive_int), None)
    resize_to: int | None = check(optional(positive_int), None)  # finetune: overrides it
    area_range: tuple[float, float] = check(pair_range(1.0), (0.05, 1.0))
    aspect_ratio_range: tuple[float, float] = check(pair_range(), (0.75, 1.33))
    shuffle: Literal[SHUFFLE_MODES] = "examples"  # type: ignore[valid-type]
    shuffle_buffer: int = check(positive_int, 1280)  # shuffle: buffer (the example's 128 * 10)
    seed: int = check(non_negative_int, 42)
    workers: int = check(non_negative_int, 0, compare=False)  # 0: one per CPU core

    def validate(self) -> list[Problem]:
        if self.recipe != "finetune":
            return []
        if self.resize_to is None and self.train_image_size is None:
            return [Problem("train_image_size", "is missing (the finetune recipe needs it)")]
        if self.resize_size < self.image_size:
            key, value = (("resize_to", self.resize_to) if self.resize_to is not None
                          else ("train_image_size", self.train_image_size))
            return [Problem(key, (
                f"must be a positive integer no larger than image_size ({self.image_size}), "
                f"got {value!r}: the finetune recipe resizes to {self.resize_size} and "
                f"centre-crops {self.image_size}"
            ) if key == "train_image_size" else (
                f"must be at least image_size ({self.image_size}), got {value!r}: the "
                "resize must hold the centre crop"
            ))]
        return []

    @property
    def resize_size(self) -> int:
        """The finetune recipe's resize before the centre crop (392 for 224 / 128)."""
        if self.resize_to is not None:
            return self.resize_to
        if self.train_image_size is None:
            raise ValueError("the finetune recipe needs train_image_size or resize_to")
        return int(self.image_size / self.train_image_size * self.image_size)

    def to_dict(self) -> dict:
        """A JSON-ready description (what the catalog stores)."""
        spec = super().to_dict()
        if self.recipe == "finetune":
            spec["resize_size"] = self.resize_size
        return spec

    @classmethod
    def from_dict(cls, spec: dict) -> InputPipeline:
        """Rebuild a pipeline from ``to_dict`` output (extra keys are ignored)."""
        names = cls.__dataclass_fields__.keys()
        return cls(**{key: value for key, value in spec.items() if key in names})

    def draw(
        self, shape: tuple[int, ...], train: bool, rng: np.random.Generator
    ) -> tuple[transforms.Box | None, bool]:
        """The random choices for one photo of ``shape``: crop box (initial recipe,
        training) and flip, drawn from ``rng`` in that order."""
        if not train:
            return None, False
        box = None
        if self.recipe == "initial":
            box = transforms.sample_distorted_box(
                rng, shape[0], shape[1], self.area_range, self.aspect_ratio_range,
            )
        return box, bool(rng.random() < 0.5)

    def preprocess(
        self,
        image: np.ndarray,
        train: bool,
        rng: np.random.Generator,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Transform one decoded HxWx3 photo into a float32 model input (0-255).

        ``out``, if given, is the float32 ``image_size x image_size x C`` array to fill
        (one image of a preallocated batch); it is returned. The draws from ``rng`` are
        the same either way: the crop box, then the flip (``draw``).
        """
        box, flip = self.draw(image.shape, train, rng)
        return self.apply(image, box, flip, out)

    def apply(
        self,
        image: np.ndarray,
        box: transforms.Box | None,
        flip: bool,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """``preprocess`` with its random choices given (see ``draw``)."""
        size = self.image_size
        if out is None:
            channels = image.shape[2] if image.ndim == 3 else 1
            out = np.empty((size, size, channels), np.float32)
        if self.recipe == "initial":
            if box is not None:
                image = transforms.crop(image, box)
            if flip:
                resized = transforms.work_array("flip", out.shape)
                transforms.resize_bilinear(image, size, size, out=resized)
                transforms.flip_left_right(resized, out=out)
            else:
                transforms.resize_bilinear(image, size, size, out=out)
        else:
            resize = self.resize_size
            resized = transforms.work_array("finetune_resize", (resize, resize, out.shape[2]))
            transforms.resize_bilinear(image, resize, resize, out=resized)
            if flip:
                # The centre crop of the mirrored image is the mirror of the crop at the
                # mirrored offset (they differ when the margin is odd): copy only that.
                top = (resized.shape[0] - size) // 2
                left = resized.shape[1] - size - (resized.shape[1] - size) // 2
                window = transforms.crop(resized, transforms.Box(top, left, size, size))
                transforms.flip_left_right(window, out=out)
            else:
                np.copyto(out, transforms.center_crop(resized, size, size))
        return out


def decode_split(photos: Sequence[bytes] | Sequence[np.ndarray], workers: int = 0) -> list[np.ndarray]:
    """A split's photos as decoded arrays.

    Decoded photos (``numpy`` arrays, as the catalog's ``*_split@decoded`` entries load
    them) are passed through, not copied; encoded ones (bytes) are decoded on ``workers``
    threads (``fixres_kedro.fixres.photos.decode_photos``). A photo that cannot be decoded
    raises ``UnreadablePhotoError`` naming its position in the split.
    """
    decoded = [isinstance(photo, np.ndarray) for photo in photos]
    if all(decoded):
        return list(photos)
    if any(decoded):
        raise ValueError("a split's image column mixes decoded arrays and encoded bytes")
    count = len(photos)
    return decode_photos(photos, workers, lambda index: f"photo {index} of a split of {count}")


def buffer_shuffle(count: int, buffer_size: int, rng: np.random.Generator) -> np.ndarray:
    """The order ``tf.data.Dataset.shuffle(buffer_size)`` gives ``range(count)``.

    tf.data fills a buffer with the first ``buffer_size`` elements, then repeatedly
    emits one at a uniformly random place in the buffer and puts the next element there
    (once the input is used up, the buffer only empties). The permutation is drawn from
    ``rng``, not TensorFlow's generator, so the orders are alike in law, not equal: an
    element moves at most a few buffers from its place in the split's order.
    """
    buffer = list(range(min(buffer_size, count)))
    upcoming = len(buffer)
    order = np.empty(count, dtype=np.int64)
    for position in range(count):
        slot = int(rng.integers(len(buffer)))
        order[position] = buffer[slot]
        if upcoming < count:
            buffer[slot] = upcoming
            upcoming += 1
        else:
            buffer[slot] = buffer[-1]
            buffer.pop()
    return order


class ImageBatches(keras.utils.PyDataset):
    """Batches of one split through one ``InputPipeline``, for ``model.fit``.

    Batch ``i`` of epoch ``e`` is a pure function of ``(seed, e, i)``: Keras may
    prefetch batches on several threads in any order and still get the same data.

    Data-parallel training (``fixres_kedro.fixres.distribute``) needs every batch to
    divide by ``batch_multiple`` (the device count under JAX). A training epoch then
    leaves out the remainder of its short last batch (at most ``batch_multiple - 1``
    examples, others each epoch as the order changes); validation batches are padded
    with copies of their last example weighted 0, so every example counts exactly once.
    With several processes, each returns its own ``1 / process_count`` of every
    batch; the random draws are the whole batch's, so the shares fit together.
    """

    def __init__(
        self,
        images: Sequence[np.ndarray],
        labels: np.ndarray,
        pipeline: InputPipeline,
        train: bool,
        epoch: int = 0,
        batch_multiple: int = 1,
        process_count: int = 1,
        process_index: int = 0,
    ) -> None:
        # Keras reads the batches in order on one thread (no enqueuer of its own, which
        # would serve batches it prefetched before an epoch began at the start of the
        # next); this class computes the next ones ahead on its own threads, keyed by
        # (epoch, index), so that whatever Keras asks for is that epoch's batch.
        super().__init__(workers=1, use_multiprocessing=False)
        self.loader_workers = pipeline.workers or default_workers()
        self._ahead: dict[tuple[int, int], Future] = {}
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        if len(images) == 0:
            raise ValueError(f"the {pipeline.name} pipeline got an empty split")
        self.images = images
        self.labels = np.asarray(labels, dtype=np.int32)
        self.pipeline = pipeline
        self.train = train
        if pipeline.batch_size % batch_multiple or batch_multiple % process_count:
            raise InvalidParameterError(
                f"{pipeline.name}.dataset.batch_size ({pipeline.batch_size}) must divide by "
                f"the {batch_multiple} devices that share it (runtime.data_parallel)"
            )
        self.batch_multiple = batch_multiple
        self.process_count = process_count
        self.process_index = process_index
        # Validation batches carry sample weights (0 for padding) when they are padded;
        # then all of them do, so that every batch has the same structure.
        self.weighted = batch_multiple > 1 and not train
        self.set_epoch(epoch)

    @classmethod
    def from_split(
        cls, split: pd.DataFrame, pipeline: InputPipeline, train: bool, epoch: int = 0,
        **placement: int,
    ) -> ImageBatches:
        """Wrap a split (columns ``image`` and ``label``), decoding it if needed.

        ``image`` holds decoded arrays (a ``*_split@decoded`` catalog entry), used as
        they are, or encoded photos (bytes), decoded here (``decode_split``).
        """
        images = decode_split(list(split["image"]), pipeline.workers)
        return cls(images, split["label"].to_numpy(), pipeline, train, epoch, **placement)

    @property
    def num_batches(self) -> int:
        return len(self.batches)

    def __len__(self) -> int:
        return self.num_batches

    def set_epoch(self, epoch: int) -> None:
        """Draw the example order of ``epoch`` (0-based)."""
        with self._lock:
            self._set_epoch(epoch)

    def _set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        count, batch = len(self.images), self.pipeline.batch_size
        order = np.arange(count)
        full_count = -(-count // batch)
        starts = np.arange(full_count) * batch
        if self.train and self.pipeline.shuffle != "none":
            rng = np.random.default_rng([self.pipeline.seed, epoch, 0])
            if self.pipeline.shuffle == "examples":
                order = rng.permutation(count)
            elif self.pipeline.shuffle == "buffer":
                order = buffer_shuffle(count, self.pipeline.shuffle_buffer, rng)
            else:  # "batches": fixed batch composition, shuffled batch order
                starts = rng.permutation(full_count) * batch
        # Batches are kept as slices of ``order``: with a short last batch, slicing a
        # reordered flat list every ``batch`` examples would change the compositions.
        self.batches = [order[s : s + batch] for s in starts]
        if self.train and self.batch_multiple > 1:
            kept = (len(b) - len(b) % self.batch_multiple for b in self.batches)
            self.batches = [b[:n] for b, n in zip(self.batches, kept) if n]
        self.order = np.concatenate(self.batches)

    def on_epoch_end(self) -> None:
        # Outside ``fit`` (a plain loop over epochs) this is the epoch counter; ``fit``
        # also calls it once before its first epoch, so there ``SyncEpoch`` overrides it.
        self.set_epoch(self.epoch + 1)

    def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
        """Batch ``index`` of the current epoch: images (float32, 0-255), labels, and
        sample weights when the batches are padded (see the class docstring).

        The next ``loader_workers`` batches of the epoch are started on worker threads.
        """
        if not 0 <= index < self.num_batches:
            raise IndexError(index)
        if self.loader_workers <= 1:
            return self._make_batch(self.epoch, index, self.batches[index])
        epoch = self.epoch
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.loader_workers, "fixres-batches")
            wanted = self._ahead.pop((epoch, index), None)
            for key in [k for k in self._ahead if k[0] != epoch or k[1] < index]:
                self._ahead.pop(key).cancel()  # another epoch's, or skipped
            if wanted is None:
                wanted = self._executor.submit(self._make_batch, epoch, index, self.batches[index])
            for ahead in range(index + 1, min(index + 1 + self.loader_workers, self.num_batches)):
                if (epoch, ahead) not in self._ahead:
                    self._ahead[epoch, ahead] = self._executor.submit(
                        self._make_batch, epoch, ahead, self.batches[ahead]
                    )
        return wanted.result()

    def __del__(self) -> None:
        if getattr(self, "_executor", None) is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def _make_batch(self, epoch: int, index: int, chosen: np.ndarray) -> tuple[np.ndarray, ...]:
        """Batch ``index`` of ``epoch``, made of the examples ``chosen``."""
        weights = np.ones(len(chosen), np.float32)
        padding = -len(chosen) % self.batch_multiple
        if padding:  # validation only: training batches were cut to a multiple
            chosen = np.concatenate([chosen, np.repeat(chosen[-1:], padding)])
            weights = np.concatenate([weights, np.zeros(padding, np.float32)])
        share = len(chosen) // self.process_count
        mine = slice(self.process_index * share, (self.process_index + 1) * share)
        rng = np.random.default_rng([self.pipeline.seed, epoch, index + 1])
        # The draws of the examples before this process' share, so it gets the same
        # crops and flips as when one process makes the whole batch.
        draws = [self.pipeline.draw(self.images[i].shape, self.train, rng) for i in chosen[: mine.stop]]
        first = self.images[chosen[0]]
        channels = first.shape[2] if first.ndim == 3 else 1
        size = self.pipeline.image_size
        # Each photo is transformed straight into its slot of the batch: no per-photo
        # output array and no np.stack copy.
        inputs = np.empty((share, size, size, channels), np.float32)
        for slot, i, (box, flip) in zip(inputs, chosen[mine], draws[mine]):
            self.pipeline.apply(self.images[i], box, flip, out=slot)
        batch = (inputs, self.labels[chosen[mine]])
        return batch + (weights[mine],) if self.weighted else batch


class SyncEpoch(keras.callbacks.Callback):
    """Sets the batches' epoch from ``fit``'s own epoch number as each epoch begins.

    Keras' ``fit`` ends an epoch of its data adapter once before the first epoch
    (after building the model), so counting ``on_epoch_end`` calls would train epoch
    ``e`` on the batches of ``e + 1``; and a resumed run (``initial_epoch``) must draw
    the batches of the epoch it resumes. Batches made ahead for another epoch are
    dropped, as they are keyed by (epoch, index).
    """

    def __init__(self, batches: ImageBatches) -> None:
        super().__init__()
        self.batches = batches

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.batches.set_epoch(epoch)
