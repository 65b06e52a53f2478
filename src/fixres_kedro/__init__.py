"""fixres_kedro: the FixRes experiment (Touvron et al., 2019) as a Kedro project."""

import importlib.util
import os
import warnings

# TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notes) hides the run's own
# log; on a host without an NVIDIA GPU even its "errors" are about the missing GPU
# ("failed call to cuInit"). Users can still set their own level.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if os.path.exists("/dev/nvidia0") else "3")

# Keras defaults to TensorFlow. On a host without it (many GPU hosts ship only JAX or
# PyTorch), pick an installed backend instead of failing at ``import keras``; an
# explicit KERAS_BACKEND always wins.
if "KERAS_BACKEND" not in os.environ and importlib.util.find_spec("tensorflow") is None:
    for _backend in ("jax", "torch"):
        if importlib.util.find_spec(_backend) is not None:
            os.environ["KERAS_BACKEND"] = _backend
            break

# Kedro 1.7's configuration loader calls an OmegaConf API that OmegaConf 2.4 deprecates:
# 21 lines on every command that the user can do nothing about.
warnings.filterwarnings("ignore", message=r"register_new_resolver\(\) is deprecated")


def keras_backend() -> str:
    """The backend Keras will start (``KERAS_BACKEND``, else TensorFlow), without starting it."""
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def start_backend() -> None:
    """Import Keras and its backend, TensorFlow's C++ start-up lines (oneDNN notes, CUDA
    probing; 2.21 writes them before its logging reads ``TF_CPP_MIN_LOG_LEVEL``) sent
    nowhere. Called by the hooks before the first node that trains or evaluates: importing
    this package starts no backend, so every command answers in about a second."""
    import sys  # noqa: PLC0415

    if "keras" in sys.modules:
        return
    backend = keras_backend()
    if importlib.util.find_spec(backend) is None or importlib.util.find_spec("keras") is None:
        from fixres_kedro.fixres.errors import NoBackendError  # noqa: PLC0415

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


__version__ = "0.1.0"
