"""A persistent cache of compiled programs, so a second run does not compile again.

Most of a short run on an accelerator is compilation (ResNet50V2's training step, one
evaluation program per input shape). ``enable_compilation_cache(root)`` keeps what the
backend compiles under ``root/<backend>-<versions>/``:

* JAX: its own persistent cache (``jax_compilation_cache_dir``), every program however
  quick to compile. JAX keys each entry by the program, the devices and the jax/jaxlib
  versions; the folder name adds the Keras version, so an upgrade starts a new folder.
* TensorFlow: XLA's persistent cache (``--tf_xla_persistent_cache_directory``) for the
  ``jit_compile`` functions; it must be set before TensorFlow starts XLA.
* PyTorch: Inductor's cache folder (``TORCHINDUCTOR_CACHE_DIR``), used when Keras
  compiles with ``torch.compile``.

The folder is only ever read by the same versions that wrote it; deleting it is always
safe (the next run compiles again).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import keras

logger = logging.getLogger(__name__)


def cache_folder(root: str | Path) -> Path:
    """The cache folder of this backend and these versions under ``root``."""
    backend = keras.backend.backend()
    versions = [f"keras-{keras.__version__}"]
    if backend == "jax":
        import jax  # noqa: PLC0415
        import jaxlib  # noqa: PLC0415

        versions[:0] = [f"jax-{jax.__version__}", f"jaxlib-{jaxlib.__version__}"]
    elif backend == "tensorflow":
        import tensorflow as tf  # noqa: PLC0415

        versions[:0] = [f"tensorflow-{tf.__version__}"]
    elif backend == "torch":
        import torch  # noqa: PLC0415

        versions[:0] = [f"torch-{torch.__version__}"]
    return Path(root) / "-".join(versions)


def enable_compilation_cache(root: str | Path) -> Path:
    """Make this process read and write compiled programs under ``root`` (idempotent)."""
    folder = cache_folder(root)
    if getattr(enable_compilation_cache, "_folder", None) == folder:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    backend = keras.backend.backend()
    if backend == "jax":
        import jax  # noqa: PLC0415

        jax.config.update("jax_compilation_cache_dir", str(folder))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    elif backend == "tensorflow":
        flag = f"--tf_xla_persistent_cache_directory={folder}"
        flags = os.environ.get("TF_XLA_FLAGS", "")
        if "tf_xla_persistent_cache_directory" not in flags:
            os.environ["TF_XLA_FLAGS"] = f"{flags} {flag}".strip()
    elif backend == "torch":
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(folder))
    enable_compilation_cache._folder = folder
    logger.debug("Compiled programs are cached in %s", folder)
    return folder
