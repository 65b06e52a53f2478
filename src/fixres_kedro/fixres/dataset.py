"""``make_dataset``: the Keras example's batches of a split, for ``model.fit`` on any backend.

``ImageBatches`` applies an ``InputPipeline`` to decoded photos. Batch ``i`` of epoch ``e``
is a pure function of ``(seed, e, i)``, so that prefetching threads, several processes
and a resumed run all see the same batches.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import keras
import numpy as np
import pandas as pd

from fixres_kedro.fixres.errors import InvalidParameterError
from fixres_kedro.fixres.photos import decode_split, default_workers
from fixres_kedro.fixres.preprocessing import InputPipeline, buffer_shuffle


def make_dataset(
    split: pd.DataFrame, pipeline: InputPipeline, train: bool, workers: int = 0, **placement: int
) -> ImageBatches:
    """The example's ``make_dataset``: a split (columns ``image``, ``label``) through the
    recipe's preprocessing, in batches of ``batch_size``, shuffled for training as
    ``pipeline.shuffle`` says. ``workers`` threads compute batches ahead (0: one per
    core); ``placement`` is the data-parallel layout (``ImageBatches``).
    """
    images = decode_split(list(split["image"]), workers)
    return ImageBatches(images, split["label"].to_numpy(), pipeline, train, workers=workers,
                        **placement)


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
        workers: int = 0,
        batch_multiple: int = 1,
        process_count: int = 1,
        process_index: int = 0,
    ) -> None:
        # Keras reads the batches in order on one thread (no enqueuer of its own, which
        # would serve batches it prefetched before an epoch began at the start of the
        # next); this class computes the next ones ahead on its own threads, keyed by
        # (epoch, index), so that whatever Keras asks for is that epoch's batch.
        super().__init__(workers=1, use_multiprocessing=False)
        self.loader_workers = workers or default_workers()
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


def inference_batches(batches: ImageBatches) -> tuple[ImageBatches, np.ndarray]:
    """The same photos in batches all of ``batch_size`` (the last one padded with copies),
    and the mask of the real rows.

    One input shape per resolution: the backend compiles one program, not one more for
    the short last batch, and the same program for every model of the same architecture
    (which the persistent compilation cache then shares between them).
    """
    size = batches.pipeline.batch_size
    full = ImageBatches(batches.images, batches.labels, batches.pipeline, train=False,
                        workers=batches.loader_workers, batch_multiple=size)
    real = np.concatenate([np.arange(size) < len(chosen) for chosen in full.batches])
    return full, real
