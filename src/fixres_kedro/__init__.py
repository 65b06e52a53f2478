"""fixres_kedro: the FixRes experiment (Touvron et al., 2019) as a Kedro project."""

import os

# TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notes) hides the run's own
# log; users can still set their own level.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
