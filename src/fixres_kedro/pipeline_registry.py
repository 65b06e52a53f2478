"""Every pipeline of the project, for ``kedro run --pipeline=<name>``.

``fixres`` (also the default) is the whole experiment: the split (``data``), the three
runs of the protocol (``initial``, ``finetune``, ``vanilla``; all three: ``training``) and
the comparison (``report``). The study adds the fine-tuning ``variants``, the
test-resolution ``sweep`` and the protocol over several ``seeds`` (``seeds_summary``:
the statistics of whatever seeds have finished), gathered in one report by ``study``.

The seeds decide the ``seeds`` pipeline's namespaces, so they are read when the pipelines
are registered, from the configuration environment of the run (``--env``, ``KEDRO_ENV``):
``FixResContext`` tells this module which one before anything asks for a pipeline.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from kedro.config import OmegaConfigLoader
from kedro.framework.project import pipelines, settings
from kedro.pipeline import Pipeline, node
from kedro.utils import find_kedro_project

from fixres_kedro.pipelines.data.pipeline import create_pipeline as data_pipeline
from fixres_kedro.pipelines.report.pipeline import create_pipeline as report_pipeline
from fixres_kedro.pipelines.seeds.nodes import summarise_finished_seeds, summarise_seeds
from fixres_kedro.pipelines.study.nodes import write_report
from fixres_kedro.pipelines.sweep.pipeline import create_pipeline as sweep_pipeline
from fixres_kedro.pipelines.variants.pipeline import create_pipeline as variants_pipeline
from fixres_kedro.protocol import RUNS, protocol_pipeline, run_pipeline, seed_namespace

# Nodes outside a run read its outputs by their namespaced names (`initial.metrics`), on
# purpose; Kedro warns about every such name when a node is made.
warnings.filterwarnings("ignore", message="One or more dataset names contain '.'")

_SEED_OUTPUTS = ["seeds_summary", "seeds_comparison", "seeds_plot"]
_environment: dict[str, object] = {"env": None, "project": None, "registered_for": None}


def use_environment(env: str | None, project_path: Path | None = None) -> None:
    """Register the pipelines for ``env`` from now on (the session's context calls it).

    Pipelines registered earlier in the process for another environment are dropped,
    so the next request registers them again with that environment's seeds.
    """
    _environment["env"], _environment["project"] = env, project_path
    registered = _environment["registered_for"]
    if registered is not None and registered != (env, project_path):
        pipelines.configure(__name__)


def project_path() -> Path:
    """The project folder holding the working directory, as ``kedro`` finds it."""
    return find_kedro_project(Path.cwd()) or Path.cwd()


def config_loader(env: str | None = None, project: Path | None = None) -> OmegaConfigLoader:
    """The project's configuration for ``env`` (default: ``KEDRO_ENV``, else ``local``)."""
    project = project or project_path()
    return OmegaConfigLoader(str(Path(project) / settings.CONF_SOURCE), env=env or os.environ.get("KEDRO_ENV"),
                             **settings.CONFIG_LOADER_ARGS)


def configured_seeds() -> list[int]:
    """The ``seeds`` parameter of the run's configuration environment."""
    loader = config_loader(_environment["env"], _environment["project"])
    return [int(seed) for seed in loader["parameters"].get("seeds", [])]


def seeds_pipeline(seeds: list[int]) -> Pipeline:
    """The protocol once per seed (namespaces ``seed_<n>``), then the statistics."""
    protocols = sum((protocol_pipeline(seed) for seed in seeds), Pipeline([]))
    metrics = [f"{seed_namespace(seed)}.{run}.metrics" for seed in seeds for run in RUNS]
    return protocols + Pipeline([
        node(summarise_seeds, inputs=metrics, outputs=_SEED_OUTPUTS, name="summarise_seeds"),
    ])


def register_pipelines() -> dict[str, Pipeline]:
    seeds = configured_seeds()
    _environment["registered_for"] = (_environment["env"], _environment["project"])
    data, report = data_pipeline(), report_pipeline()
    training = protocol_pipeline()
    fixres = data + training + report
    variants, sweep, seeds_ = variants_pipeline(), sweep_pipeline(), seeds_pipeline(seeds)
    report_inputs = ["model_comparison", "finetune_variants", "resolution_sweep", "seeds_summary",
                     "seeds_comparison", "accuracy_vs_cost_plot", "resolution_sweep_plot",
                     "finetune_variants_plot", "seeds_plot"]
    study = fixres + variants + sweep + seeds_ + Pipeline([
        node(write_report, inputs=report_inputs, outputs="study_report", name="write_report"),
    ])
    return {
        "__default__": fixres,
        "fixres": fixres,
        "data": data,
        **{run: run_pipeline(run) for run in RUNS},
        "training": training,
        "report": report,
        "variants": variants,
        "sweep": sweep,
        "seeds": seeds_,
        "seeds_summary": Pipeline([
            node(summarise_finished_seeds, inputs="seed_metrics", outputs=_SEED_OUTPUTS,
                 name="summarise_finished_seeds"),
        ]),
        "study": study,
    }
