"""Every pipeline of the project, for ``kedro run --pipeline=<name>``: composed here, built
in ``pipelines/<name>/pipeline.py``.

``fixres`` (also the default) is the whole experiment: the split (``data``), the three
models of the protocol (``initial``, ``finetune``, ``vanilla``; all three: ``training``)
and the comparison (``report``). The study adds the fine-tuning ``variants``, the
test-resolution ``sweep`` and the protocol over several ``seeds`` (``seeds_summary``: the
statistics of whatever seeds have finished), gathered in one report by ``study``;
``results`` writes the study's page (``docs/results.md``) from their outputs. The
seeds are the ``seeds`` parameter of the configuration environment ``KEDRO_ENV`` (the
project's CLI and ``ParametersHook`` set it to the run's ``--env``).
"""

from __future__ import annotations

import warnings

from kedro.pipeline import Pipeline

from fixres_kedro.environment import config_loader
from fixres_kedro.pipelines import data, report, results, seeds, study, sweep, training, variants
from fixres_kedro.pipelines.training.pipeline import model_pipeline
from fixres_kedro.protocol import MODELS

# Nodes outside a model's namespace read its outputs by their namespaced names
# (`initial.metrics`), on purpose; Kedro warns about every such name when a node is made.
warnings.filterwarnings("ignore", message="One or more dataset names contain '.'")


def configured_seeds(env: str | None = None) -> list[int]:
    """The ``seeds`` parameter of ``env`` (default: ``KEDRO_ENV``, else ``local``)."""
    return [int(seed) for seed in config_loader(env)["parameters"].get("seeds", [])]


def register_pipelines() -> dict[str, Pipeline]:
    fixres = data.create_pipeline() + training.create_pipeline() + report.create_pipeline()
    variants_, sweep_ = variants.create_pipeline(), sweep.create_pipeline()
    configured = configured_seeds()
    seeds_ = seeds.create_pipeline(seeds=configured)
    results_ = results.create_pipeline(seeds=configured)
    return {
        "__default__": fixres,
        "fixres": fixres,
        "data": data.create_pipeline(),
        **{model: model_pipeline(model) for model in MODELS},
        "training": training.create_pipeline(),
        "report": report.create_pipeline(),
        "variants": variants_,
        "sweep": sweep_,
        "seeds": seeds_,
        "seeds_summary": seeds.create_summary_pipeline(),
        "study": fixres + variants_ + sweep_ + seeds_ + study.create_pipeline() + results_,
        "results": results_,
    }
