"""The ``study`` pipeline: what FixRes really buys, measured with its uncertainty.

The example's protocol (``fixres``), the fine-tuning variants (``variants``), the
test-resolution sweep (``sweep``) and the multi-seed protocol (``seeds``), gathered
into one versioned HTML report (``study_report``).
"""

from kedro.pipeline import Pipeline, node

from fixres_kedro.pipelines.fixres.pipeline import create_pipeline as fixres_pipeline
from fixres_kedro.pipelines.seeds.pipeline import create_pipeline as seeds_pipeline
from fixres_kedro.pipelines.study.nodes import write_report
from fixres_kedro.pipelines.sweep.pipeline import create_pipeline as sweep_pipeline
from fixres_kedro.pipelines.variants.pipeline import create_pipeline as variants_pipeline


def create_pipeline(**kwargs) -> Pipeline:
    report = node(
        write_report,
        inputs=["model_comparison", "finetune_variants", "resolution_sweep", "seeds_summary", "seeds_comparison"],
        outputs="study_report",
        name="write_report",
    )
    return fixres_pipeline() + variants_pipeline() + sweep_pipeline() + seeds_pipeline() + Pipeline([report])
