"""The training runs of the FixRes experiment, as namespaced copies of one shape.

Each run builds its input pipeline, trains, evaluates on its validation pipeline and
plots its curves. ``initial`` (128 px) and ``vanilla`` (224 px) train from scratch
(``train_model``); ``finetune`` starts from ``initial_model`` and trains only
``post_bn`` and the classifier (``finetune_bn``). The namespace groups and names the
nodes (``initial.train_model``); the datasets are exposed as ``<namespace>_<name>``
(``initial_model``, ``vanilla_metrics``) and resolved by the catalog's factories.

The fine-tuning variants (``finetune_official``, ``finetune_bn_stats``,
``finetune_none``) are the same ``finetune`` shape on the finetune input pipeline,
with ``<namespace>.training.variant`` choosing what learns.
"""

from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline, node

from fixres_kedro.pipelines.training.nodes import (
    build_dataset,
    evaluate_model,
    finetune_bn,
    plot_training_curves,
    train_model,
)

# The splits by their base names: the nodes read ``train_split@decoded`` and
# ``validation_split@decoded`` (photos decoded by the catalog, DecodedSplitDataset), and
# Kedro maps a transcoded name through its base name.
SHARED_INPUTS = {"train_split", "validation_split", "class_names", "training_checkpoints"}
SHARED_PARAMETERS = {"seed", "runtime"}
VARIANTS = ("official", "bn_stats", "none")


def _run_pipeline(
    train_node: Node,
    namespace: str,
    inputs: set[str] | dict[str, str],
    build: bool = True,
    seed: int | None = None,
) -> Pipeline:
    """[build_dataset ->] <train_node> -> evaluate_model, plot_training_curves.

    ``seed`` fixes the input pipeline's seed in the graph (the multi-seed study)
    instead of reading ``params:seed``.
    """
    nodes = [
        train_node,
        node(
            evaluate_model,
            inputs=["model", "validation_split@decoded", "dataset_spec", "history", "params:training", "params:runtime"],
            outputs="metrics",
            name="evaluate_model",
        ),
        node(
            plot_training_curves,
            inputs=["history", "dataset_spec"],
            outputs="training_curves",
            name="plot_training_curves",
        ),
    ]
    if build:
        builder, builder_inputs = build_dataset, ["train_split@decoded", "class_names", "params:dataset", "params:seed", "params:runtime"]
        if seed is not None:
            builder = update_wrapper(partial(build_dataset, seed=seed), build_dataset)
            builder_inputs = {"train_split": "train_split@decoded", "class_names": "class_names",
                              "dataset": "params:dataset", "runtime": "params:runtime"}
        nodes.insert(0, node(
            builder,
            inputs=builder_inputs,
            outputs=["dataset_spec", "sample_grid"],
            name="build_dataset",
        ))
    shape = Pipeline(nodes)
    outputs = {name: f"{namespace}_{name}" for name in shape.all_outputs()}
    shared = {p for p in SHARED_PARAMETERS if f"params:{p}" in shape.inputs()}
    return Pipeline(shape, namespace=namespace, inputs=inputs, outputs=outputs, parameters=shared)


def _from_scratch(namespace: str, seed: int | None = None) -> Pipeline:
    train = node(
        train_model,
        inputs=["train_split@decoded", "validation_split@decoded", "class_names", "dataset_spec", "params:training", "params:runtime", "training_checkpoints"],
        outputs=["model", "history"],
        name="train_model",
    )
    return _run_pipeline(train, namespace, SHARED_INPUTS, seed=seed)


def _finetune_node() -> Node:
    return node(
        finetune_bn,
        inputs=["initial_model", "train_split@decoded", "validation_split@decoded", "dataset_spec", "params:training", "params:runtime", "training_checkpoints"],
        outputs=["model", "history"],
        name="finetune_bn",
    )


def initial_train_pipeline(seed: int | None = None) -> Pipeline:
    """Experiment 1a: ResNet50V2 from scratch on the 128 px initial pipeline."""
    return _from_scratch("initial", seed)


def finetune_pipeline(seed: int | None = None) -> Pipeline:
    """Experiment 1b (FixRes): ``initial_model`` fine-tuned BN-only at 224 px."""
    return _run_pipeline(_finetune_node(), "finetune", SHARED_INPUTS | {"initial_model"}, seed=seed)


def vanilla_train_pipeline(seed: int | None = None) -> Pipeline:
    """Experiment 2: ResNet50V2 from scratch on the 224 px vanilla pipeline."""
    return _from_scratch("vanilla", seed)


def protocol_pipeline(seed: int) -> Pipeline:
    """The three runs of the protocol for one seed, in the namespace ``seed_<seed>``.

    Its datasets are ``seed_<seed>_<run>_<name>`` (``seed_1_vanilla_metrics``).
    Model initialisation follows the seed too: the seeding hook reads it from the
    namespace.
    """
    runs = initial_train_pipeline(seed) + finetune_pipeline(seed) + vanilla_train_pipeline(seed)
    namespace = f"seed_{seed}"
    outputs = {name: f"{namespace}_{name}" for name in runs.all_outputs()}
    parameters = {name.removeprefix("params:") for name in runs.inputs() if name.startswith("params:")}
    return Pipeline(runs, namespace=namespace, inputs=SHARED_INPUTS, outputs=outputs, parameters=parameters)


def finetune_variant_pipeline(variant: str) -> Pipeline:
    """Another way to adapt ``initial_model`` to 224 px, on the finetune pipeline."""
    inputs = {name: name for name in SHARED_INPUTS - {"class_names"}}
    inputs |= {"initial_model": "initial_model", "dataset_spec": "finetune_dataset_spec"}
    return _run_pipeline(_finetune_node(), f"finetune_{variant}", inputs, build=False)


def create_pipeline(**kwargs) -> Pipeline:
    return initial_train_pipeline() + finetune_pipeline() + vanilla_train_pipeline()
