"""The ``training`` pipeline: the protocol's three models, each in its own namespace.

Every model has the same nodes (``model_pipeline``): ``define_input_pipeline`` and
``visualize_dataset``, then ``train_model`` (``initial``, ``vanilla``) or
``finetune_model`` (``finetune``, from ``initial.model``), ``evaluate_model`` and
``plot_training_curves``. Their datasets are ``<namespace>.<name>`` (``initial.model``),
placed on disk by the catalog's dataset factories. A seed's protocol
(``protocol_pipeline(seed)``) repeats the three in ``seed_<n>``, its input pipelines and
initial weights following ``n`` instead of the parameter ``seed``.
"""

from __future__ import annotations

from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline, node

from fixres_kedro.pipelines.training.nodes import (
    define_input_pipeline,
    evaluate_model,
    finetune_model,
    plot_training_curves,
    train_model,
    visualize_dataset,
)
from fixres_kedro.protocol import BACKEND_TAG, MODELS, seed_namespace

# What every model reads under its own (shared) name.
SHARED_INPUTS = frozenset({"train_split", "validation_split", "class_names", "training_checkpoints",
                           "run_provenance", "initial.model"})
SHARED_PARAMETERS = frozenset({"seed", "runtime", "model"})


def in_namespace(nodes: list[Node] | Pipeline, namespace: str,
                 inputs: frozenset[str] = SHARED_INPUTS,
                 parameters: frozenset[str] = SHARED_PARAMETERS) -> Pipeline:
    """``nodes`` in ``namespace``, reading those of ``inputs`` and ``parameters`` they use
    under their shared names; tagged with the namespace's last part (``initial``), which
    kedro-viz offers as a filter."""
    shape = Pipeline(nodes)
    used = {name.split("@")[0] for name in shape.inputs()}
    return Pipeline(shape, namespace=namespace, inputs=set(inputs) & used,
                    parameters={name for name in parameters if f"params:{name}" in used},
                    tags=namespace.split(".")[-1])


def input_pipeline_nodes(seed: int | None = None, dataset: str = "dataset") -> list[Node]:
    """``define_input_pipeline`` from the parameters ``dataset`` (with ``seed``: its
    draws follow ``seed`` itself), and ``visualize_dataset``."""
    inputs = {"dataset": f"params:{dataset}"}
    define = define_input_pipeline
    if seed is None:
        inputs["seed"] = "params:seed"
    else:
        define = update_wrapper(partial(define_input_pipeline, seed=seed), define_input_pipeline)
    return [
        node(define, inputs=inputs, outputs="input_pipeline", name="define_input_pipeline"),
        node(visualize_dataset,
             inputs=["train_split@decoded", "class_names", "input_pipeline", "params:runtime"],
             outputs="sample_grid", name="visualize_dataset"),
    ]


def evaluate_node(model: str = "model", history: str | None = "history",
                  training: str | None = "params:training") -> Node:
    """``evaluate_model`` of ``model`` on the namespace's input pipeline."""
    inputs = {"model": model, "validation_split": "validation_split@decoded",
              "input_pipeline": "input_pipeline", "runtime": "params:runtime",
              "provenance": "run_provenance"}
    if history:
        inputs["history"] = history
    if training:
        inputs["training"] = training
    return node(evaluate_model, inputs=inputs, outputs="metrics", name="evaluate_model", tags=BACKEND_TAG)


def _training_node(model: str) -> Node:
    if model == "finetune":
        return node(
            finetune_model,
            inputs=["initial.model", "train_split@decoded", "validation_split@decoded",
                    "input_pipeline", "params:training", "params:runtime", "training_checkpoints"],
            outputs=["model", "history"], name="finetune_model", tags=BACKEND_TAG,
        )
    return node(
        train_model,
        inputs=["train_split@decoded", "validation_split@decoded", "class_names", "input_pipeline",
                "params:training", "params:runtime", "params:model", "training_checkpoints"],
        outputs=["model", "history"], name="train_model", tags=BACKEND_TAG,
    )


def model_pipeline(model: str, seed: int | None = None, namespace: str | None = None,
                   dataset: str = "dataset") -> Pipeline:
    """One model of the protocol in its namespace (default: ``model``). ``dataset``, the
    input pipeline's parameters, may be another namespace's (a study's variant)."""
    nodes = [
        *input_pipeline_nodes(seed, dataset),
        _training_node(model),
        evaluate_node(),
        node(plot_training_curves, inputs=["history", "input_pipeline"], outputs="training_curves",
             name="plot_training_curves"),
    ]
    parameters = SHARED_PARAMETERS if dataset == "dataset" else SHARED_PARAMETERS | {dataset}
    return in_namespace(nodes, namespace or model, parameters=frozenset(parameters))


def protocol_pipeline(seed: int | None = None) -> Pipeline:
    """The three models; with ``seed``, in the namespace ``seed_<seed>``."""
    models = sum((model_pipeline(model, seed) for model in MODELS), Pipeline([]))
    if seed is None:
        return models
    parameters = {name.removeprefix("params:") for name in models.inputs() if name.startswith("params:")}
    return Pipeline(models, namespace=seed_namespace(seed), inputs=set(SHARED_INPUTS) - {"initial.model"},
                    parameters=parameters, tags=seed_namespace(seed))


def create_pipeline(**kwargs) -> Pipeline:
    return protocol_pipeline()
