"""fixres_kedro: the FixRes experiment (Touvron et al., 2019) as a Kedro project."""

import importlib.util
import os

# TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notes) hides the run's own
# log; users can still set their own level.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Keras defaults to TensorFlow. On a host without it (many GPU hosts ship only JAX or
# PyTorch), pick an installed backend instead of failing at ``import keras``; an
# explicit KERAS_BACKEND always wins.
if "KERAS_BACKEND" not in os.environ and importlib.util.find_spec("tensorflow") is None:
    for _backend in ("jax", "torch"):
        if importlib.util.find_spec(_backend) is not None:
            os.environ["KERAS_BACKEND"] = _backend
            break

__version__ = "0.1.0"
