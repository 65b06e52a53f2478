"""Data-parallel training with the engines Keras already has.

``runtime.data_parallel: true`` trains on every local accelerator (and, launched as
several processes, on several hosts):

* JAX: ``keras.distribution.DataParallel`` over ``keras.distribution.list_devices()``;
  each batch is split along its first axis, the weights are replicated, and the
  gradient is the global batch's. Several processes join through
  ``keras.distribution.initialize()`` (``jax.distributed``), configured by Keras'
  ``KERAS_DISTRIBUTION_*`` variables (see ``initialize_processes``).
* TensorFlow: ``tf.distribute.MirroredStrategy`` over the local GPUs (the logical CPU
  devices when there is no GPU); one host only (see ``_tf_strategy``). BatchNormalization is synchronised across replicas during
  training so that it normalises with the global batch's statistics, as one device
  would.

The batch size parameter is the **global** batch: with ``n`` devices each computes
``batch_size / n`` examples a step, and the learning rate keeps its meaning. Scale the
learning rate with the global batch if you change it (the linear rule: twice the batch,
twice the rate).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import keras

from fixres_kedro.fixres.errors import InvalidParameterError

logger = logging.getLogger(__name__)

@dataclass
class Replicas:
    """Where a data-parallel node runs: how many devices share each global batch.

    ``batch_multiple`` is what every batch's size must divide by (JAX shards a batch
    evenly over the devices; TensorFlow splits uneven batches itself). With several
    processes, each feeds its own ``1 / process_count`` of every batch
    (``process_index``).
    """

    count: int = 1
    batch_multiple: int = 1
    process_count: int = 1
    process_index: int = 0
    strategy: object | None = None  # the tf.distribute strategy, under TensorFlow
    _synchronised: list = field(default_factory=list, repr=False)

    def adopt(self, model: keras.Model) -> keras.Model:
        """The model, ready for data-parallel training; call it on every model trained
        in the ``data_parallel`` block.

        A model made inside the block keeps its weights; one made outside (loaded from
        the catalog) is cloned inside it, weights copied, because TensorFlow's
        strategies and JAX's layouts apply when variables are created. Under
        TensorFlow its BatchNormalization layers are synchronised across replicas.
        """
        if self.count == 1 and self.process_count == 1:
            return model
        if not _made_here(model, self):  # trainable flags are not copied: set them after
            clone = keras.models.clone_model(model)
            clone.set_weights(model.get_weights())
            model = clone
        if self.strategy is not None:  # TensorFlow: global-batch BatchNorm statistics
            for layer in _batch_norms(model):
                layer.synchronized = True
                self._synchronised.append(layer)
        return model

    def release(self) -> None:
        """Undo ``adopt``'s BatchNorm synchronisation, so the saved model loads on any
        backend (Keras refuses ``synchronized=True`` outside TensorFlow)."""
        for layer in self._synchronised:
            layer.synchronized = False
        self._synchronised.clear()


def _batch_norms(model: keras.Model) -> list[keras.layers.BatchNormalization]:
    return [
        layer for layer in model._flatten_layers(include_self=False, recursive=True)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]


def _made_here(model: keras.Model, replicas: Replicas) -> bool:
    if replicas.strategy is not None:
        return all(
            replicas.strategy.extended.variable_created_in_scope(v.value) for v in model.weights
        )
    distribution = keras.distribution.distribution()
    sharding = getattr(model.weights[0].value, "sharding", None)
    return sharding is not None and len(sharding.device_set) == len(distribution.device_mesh.devices.flat)


def initialize_processes() -> None:
    """Join a multi-process (multi-host) run if this process is configured for one.

    JAX: Keras' ``KERAS_DISTRIBUTION_JOB_ADDRESSES`` (the coordinator first, comma
    separated), ``KERAS_DISTRIBUTION_NUM_PROCESSES`` and
    ``KERAS_DISTRIBUTION_PROCESS_ID`` start ``jax.distributed``. Nothing happens
    otherwise (several hosts under TensorFlow are refused: ``_tf_strategy``).
    """
    if keras.backend.backend() != "jax" or "KERAS_DISTRIBUTION_NUM_PROCESSES" not in os.environ:
        return
    import jax  # noqa: PLC0415

    if getattr(initialize_processes, "_done", False):
        return
    # CPU hosts (and the tests) need a collectives implementation across processes.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    keras.distribution.initialize()
    initialize_processes._done = True
    logger.info(
        "Process %d of %d, %d local and %d global devices",
        jax.process_index(), jax.process_count(), jax.local_device_count(), jax.device_count(),
    )


_TF_STRATEGIES: dict[str, object] = {}


def _tf_strategy():
    """The process's MirroredStrategy (made once: its collectives are set up then).

    Several hosts are refused under TensorFlow: Keras 3's ``fit`` fails under
    ``MultiWorkerMirroredStrategy`` on a per-worker dataset (the only way to give each
    worker its share of a global batch; ``scripts/tf_multiworker_repro.py``), and a
    ``PyDataset`` would be sharded between workers by whole batches. Use the JAX
    backend for several hosts.
    """
    import tensorflow as tf  # noqa: PLC0415

    if "TF_CONFIG" in os.environ:
        raise InvalidParameterError(
            "runtime.data_parallel: several hosts (TF_CONFIG is set) need the JAX backend "
            "(KERAS_BACKEND=jax with KERAS_DISTRIBUTION_* variables; see the README)"
        )
    if "strategy" not in _TF_STRATEGIES:
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        _TF_STRATEGIES["strategy"] = tf.distribute.MirroredStrategy([d.name for d in devices])
    return _TF_STRATEGIES["strategy"]


@contextlib.contextmanager
def data_parallel(enabled: bool) -> Iterator[Replicas]:
    """Run the block data-parallel on every device (``enabled``), or as it is.

    Models made inside the block, or handed to ``Replicas.adopt``, train on all the
    devices; on exit the previous distribution (none) is back.
    """
    if not enabled:
        yield Replicas()
        return
    backend = keras.backend.backend()
    if backend == "jax":
        import jax  # noqa: PLC0415

        initialize_processes()
        devices = keras.distribution.list_devices()
        previous = keras.distribution.distribution()
        # Each process already feeds its own share of every batch (ImageBatches).
        distribution = keras.distribution.DataParallel(devices=devices, auto_shard_dataset=False)
        keras.distribution.set_distribution(distribution)
        replicas = Replicas(
            count=len(devices), batch_multiple=len(devices),
            process_count=jax.process_count(), process_index=jax.process_index(),
        )
        try:
            yield replicas
        finally:
            replicas.release()
            keras.distribution.set_distribution(previous)
    elif backend == "tensorflow":
        strategy = _tf_strategy()
        replicas = Replicas(count=strategy.num_replicas_in_sync, strategy=strategy)
        try:
            with strategy.scope():
                yield replicas
        finally:
            replicas.release()
    else:
        raise InvalidParameterError(
            f"runtime.data_parallel needs the jax or tensorflow backend, not {backend}"
        )
