"""Project settings: the context, hooks, configuration loading."""

from pathlib import Path

from kedro.utils import find_kedro_project
from omegaconf.resolvers import oc

from fixres_kedro import console
from fixres_kedro.hooks import (
    CheckpointHook,
    CompilationCacheHook,
    DeviceHook,
    DistributionHook,
    MissingInputsHook,
    NodeTimingHook,
    PaceHook,
    ParametersHook,
    PrecisionHook,
    ProvenanceHook,
    ResumeHintHook,
    RunSummaryHook,
    SeedHook,
    SplitManifestHook,
    StopHook,
)
from fixres_kedro.session import ResumableSession
from fixres_kedro.tracking import TrackingHook

# The console shows progress, epochs and warnings; logs/info.log keeps everything.
console.install()

# Pluggy runs hooks last-registered first, so the order below is the reverse of the order
# they run in: the parameters are checked before anything reads them; a host without the required GPU,
# then a pipeline whose inputs are not written yet, stop before any node; devices first (a
# worker's GPU must be chosen before its backend starts, then the devices are named), the compilation cache before
# anything compiles, then the precision policy, the seeds, checkpoints, the split's lock and manifest, the provenance of
# metrics and the timing of each node. StopHook comes first in each: a signal stops the run as
# an error, which every other hook then sees.
HOOKS = (
    TrackingHook(), RunSummaryHook(), NodeTimingHook(), PaceHook(), ProvenanceHook(), SplitManifestHook(),
    CheckpointHook(), SeedHook(),
    PrecisionHook(), CompilationCacheHook(), MissingInputsHook(), DeviceHook(), DistributionHook(),
    ParametersHook(), StopHook(), ResumeHintHook(),
)
# `kedro run --resume <run id>` continues that run; plain --only-missing-outputs with
# versioned outputs is refused (fixres_kedro.session).
SESSION_CLASS = ResumableSession

# TrackingHook opens the MLflow run; kedro-mlflow, if an older install left it, would open a second.
DISABLE_HOOKS_FOR_PLUGINS = ("kedro_mlflow", "kedro-mlflow")

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # An environment (smoke, gpu, ...) only states what differs from base.
    "merge_strategy": {"parameters": "soft"},
    "config_patterns": {"mlflow": ["mlflow*", "mlflow*/**"]},  # conf/<env>/mlflow.yml
    # The photo source can be chosen with FIXRES_DATA_SOURCE / FIXRES_DATA_PATH;
    # conf/base/mlflow.yml keeps MLflow's store in the project folder, wherever kedro runs.
    "custom_resolvers": {
        "oc.env": oc.env,
        "project_root": lambda: str((find_kedro_project(Path.cwd()) or Path.cwd()).resolve()),
    },
}
