"""The ``study`` pipeline's last node: every result of the study in one HTML report."""

from kedro.pipeline import Pipeline, node

from fixres_kedro.pipelines.study.nodes import write_report

REPORT_INPUTS = ["model_comparison", "finetune_variants", "resolution_sweep", "seeds_summary",
                 "seeds_comparison", "accuracy_vs_cost_plot", "resolution_sweep_plot",
                 "finetune_variants_plot", "seeds_plot"]


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([node(write_report, inputs=REPORT_INPUTS, outputs="study_report", name="write_report")])
