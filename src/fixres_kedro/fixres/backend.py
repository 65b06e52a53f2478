"""The Keras backend: which one will start, and starting it quietly, on demand.

Importing the project starts no backend (every command answers in about a second); the
hooks and the model datasets call ``start_backend`` before the first thing that needs one.
"""

from __future__ import annotations

import importlib.util
import os
import sys

from fixres_kedro.fixres.errors import NoBackendError


def keras_backend() -> str:
    """The backend Keras will start (``KERAS_BACKEND``, else TensorFlow), without starting it."""
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def start_backend() -> None:
    """Import Keras and its backend, TensorFlow's C++ start-up lines (oneDNN notes, CUDA
    probing; 2.21 writes them before its logging reads ``TF_CPP_MIN_LOG_LEVEL``) sent
    nowhere. Called by the hooks before the first node that trains or evaluates: importing
    this package starts no backend, so every command answers in about a second."""
    if "keras" in sys.modules:
        return
    backend = keras_backend()
    if importlib.util.find_spec(backend) is None or importlib.util.find_spec("keras") is None:
        extra = {"tensorflow": "tf", "jax": "jax", "torch": "torch"}.get(backend, backend)
        raise NoBackendError(
            f"the Keras backend {backend!r} is not installed: pip install -e '.[{extra}]' "
            f"(on a GPU host '.[{extra}-gpu]'; see docs/gpu.md)" if extra in ("tf", "jax") else
            f"the Keras backend {backend!r} is not installed: pip install -e '.[{extra}]'")
    if backend != "tensorflow":
        import keras  # noqa: F401, PLC0415
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow  # noqa: F401, PLC0415
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    import keras  # noqa: F401, PLC0415
