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


__version__ = "0.1.0"
