"""The FixRes protocol of the Keras example, as Kedro pipelines: read this module first.

The example trains three models, here three *runs*, each in its own Kedro namespace:

=========  ============================================================  ==================
run        what (the Keras example's name)                               training node
=========  ============================================================  ==================
initial    ResNet50V2 from scratch at 128 px (``smaller_res_model``)     ``train_model``
finetune   ``initial.model`` at 224 px, only ``post_bn`` and the         ``finetune_bn``
           classifier trainable (FixRes, ``bigger_res_model``)
vanilla    ResNet50V2 from scratch at 224 px (``vanilla_bigger_res``)    ``train_model``
=========  ============================================================  ==================

Every run has one shape (``run_pipeline``)::

    <run>.build_dataset -> <run>.<training node> -> <run>.evaluate_model
                                                 -> <run>.plot_training_curves

reading the shared split (``train_split``, ``validation_split``, ``class_names``) and the
parameters ``<run>.dataset``, ``<run>.training``, ``seed``, ``runtime`` and ``model``. Its
datasets are Kedro's namespaced names, ``<run>.<name>`` (``initial.model``,
``vanilla.metrics``), placed on disk by the catalog's dataset factories
(``"{namespace}.model"``: ``data/06_models/initial_model.keras``).

The multi-seed study repeats the three runs once per seed in the namespace
``seed_<n>`` (``seed_3.finetune.metrics``): the input pipelines and the model
initialisation then follow ``n`` instead of the parameter ``seed``. ``seed_namespace`` and
``parse_namespace`` are the only places that name them.

``fixres_kedro.pipeline_registry`` puts these together with the split (``data``), the
comparison (``report``) and the study's pipelines into every ``kedro run --pipeline``.
"""

from __future__ import annotations

from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline, node

from fixres_kedro.pipelines.training.nodes import (
    build_dataset,
    evaluate_model,
    finetune_bn,
    plot_training_curves,
    train_model,
)

RUNS = ("initial", "finetune", "vanilla")
"""The example's three runs, in the order they are reported."""

SEED_PREFIX = "seed_"

# What every run reads under its own name: the split, and where checkpoints go.
SHARED_INPUTS = frozenset({"train_split", "validation_split", "class_names", "training_checkpoints"})
SHARED_PARAMETERS = frozenset({"seed", "runtime", "model"})


def seed_namespace(seed: int) -> str:
    """The namespace of one seed's protocol: ``seed_3``."""
    return f"{SEED_PREFIX}{seed}"


def parse_namespace(namespace: str | None) -> tuple[int | None, str | None]:
    """``(seed, run)`` of a namespace: ``seed_3.initial`` -> ``(3, "initial")``,
    ``vanilla`` -> ``(None, "vanilla")``; None for a part that is not there."""
    parts = (namespace or "").split(".")
    seed = None
    if parts[0].startswith(SEED_PREFIX) and parts[0][len(SEED_PREFIX):].isdigit():
        seed = int(parts[0][len(SEED_PREFIX):])
        parts = parts[1:]
    run = parts[0] if parts and parts[0] in RUNS else None
    return seed, run


def in_namespace(
    nodes: list[Node] | Pipeline, namespace: str,
    inputs: set[str] | frozenset[str] = SHARED_INPUTS,
    parameters: set[str] | frozenset[str] = SHARED_PARAMETERS,
) -> Pipeline:
    """``nodes`` in ``namespace``, reading those of ``inputs`` and ``parameters`` they use
    under their own (shared) names rather than the namespace's; tagged with the
    namespace's last part (``initial``), which kedro-viz offers as a filter."""
    shape = Pipeline(nodes)
    used = {name.split("@")[0] for name in shape.inputs()}
    return Pipeline(shape, namespace=namespace, inputs=set(inputs) & used,
                    parameters={name for name in parameters if f"params:{name}" in used},
                    tags=namespace.split(".")[-1])


def _training_node(run: str) -> Node:
    if run == "finetune":
        return node(
            finetune_bn,
            inputs=["initial.model", "train_split@decoded", "validation_split@decoded",
                    "dataset_spec", "params:training", "params:runtime", "training_checkpoints"],
            outputs=["model", "history"],
            name="finetune_bn",
        )
    return node(
        train_model,
        inputs=["train_split@decoded", "validation_split@decoded", "class_names", "dataset_spec",
                "params:training", "params:runtime", "params:model", "training_checkpoints"],
        outputs=["model", "history"],
        name="train_model",
    )


def build_node(seed: int | None = None, dataset: str = "dataset") -> Node:
    """``build_dataset`` from the parameters ``dataset``; with ``seed``, its input
    pipelines' seed is ``seed`` itself."""
    inputs = {"train_split": "train_split@decoded", "class_names": "class_names",
              "dataset": f"params:{dataset}", "runtime": "params:runtime"}
    builder = build_dataset
    if seed is None:
        inputs["seed"] = "params:seed"
    else:
        builder = update_wrapper(partial(build_dataset, seed=seed), build_dataset)
    return node(builder, inputs=inputs, outputs=["dataset_spec", "sample_grid"], name="build_dataset")


def run_pipeline(run: str, seed: int | None = None, namespace: str | None = None,
                 dataset: str = "dataset") -> Pipeline:
    """One run of the protocol in its namespace (see the module docstring). ``namespace``
    (default: ``run``) and ``dataset`` (the recipe's parameters, shared when not the
    namespace's own) let a study repeat a run under another name on a given recipe."""
    nodes = [
        build_node(seed, dataset),
        _training_node(run),
        node(
            evaluate_model,
            inputs=["model", "validation_split@decoded", "dataset_spec", "params:runtime",
                    "history", "params:training"],
            outputs="metrics",
            name="evaluate_model",
        ),
        node(plot_training_curves, inputs=["history", "dataset_spec"], outputs="training_curves",
             name="plot_training_curves"),
    ]
    shared_parameters = SHARED_PARAMETERS if dataset == "dataset" else SHARED_PARAMETERS | {dataset}
    return in_namespace(nodes, namespace or run, inputs=SHARED_INPUTS | {"initial.model"},
                        parameters=shared_parameters)


def protocol_pipeline(seed: int | None = None) -> Pipeline:
    """The three runs; with ``seed``, in the namespace ``seed_<seed>``."""
    runs = sum((run_pipeline(run, seed) for run in RUNS), Pipeline([]))
    if seed is None:
        return runs
    parameters = {name.removeprefix("params:") for name in runs.inputs() if name.startswith("params:")}
    return Pipeline(runs, namespace=seed_namespace(seed), inputs=set(SHARED_INPUTS),
                    parameters=parameters, tags=seed_namespace(seed))
