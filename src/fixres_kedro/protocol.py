"""The names of the FixRes protocol: the Keras example's three models and their namespaces.

The example trains three models, each here a Kedro namespace of the same shape
(``pipelines/training/pipeline.py``):

=========  =========================================================  ======================
model      what (the Keras example's name)                            trained by
=========  =========================================================  ======================
initial    ResNet50V2 from scratch at 128 px (``smaller_res_model``)  ``train_model``
finetune   ``initial.model`` fine-tuned at 224 px, only ``post_bn``   ``finetune_model``
           and the classifier learning (``bigger_res_model``)
vanilla    ResNet50V2 from scratch at 224 px                          ``train_model``
           (``vanilla_bigger_res_model``)
=========  =========================================================  ======================

The example's network is ResNet50V2, whose last BatchNorm is ``post_bn``; ``model.backbone``
chooses another, whose fine-tuned layer its graph gives (``fixres.model.final_batch_norm``).
The study repeats them once per seed in ``seed_<n>`` (``seed_3.finetune.metrics``). This
module imports nothing of the project, so that every layer may name them.
"""

from __future__ import annotations

MODELS = ("initial", "finetune", "vanilla")
"""The example's three models, in the order they are reported."""

SEED_PREFIX = "seed_"


def seed_namespace(seed: int) -> str:
    """The namespace of one seed's protocol: ``seed_3``."""
    return f"{SEED_PREFIX}{seed}"


def parse_namespace(namespace: str | None) -> tuple[int | None, str | None]:
    """``(seed, model)`` of a namespace: ``seed_3.initial`` -> ``(3, "initial")``,
    ``vanilla`` -> ``(None, "vanilla")``; None for a part that is not there."""
    parts = (namespace or "").split(".")
    seed = None
    if parts[0].startswith(SEED_PREFIX) and parts[0][len(SEED_PREFIX):].isdigit():
        seed = int(parts[0][len(SEED_PREFIX):])
        parts = parts[1:]
    model = parts[0] if parts and parts[0] in MODELS else None
    return seed, model

BACKEND_TAG = "keras"
"""The tag of the nodes that run a Keras backend (train or evaluate): the hooks start,
seed and place the backend for those only."""
