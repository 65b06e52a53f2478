"""Project settings: the context, hooks, configuration loading."""

from omegaconf.resolvers import oc

from fixres_kedro import console
from fixres_kedro.context import FixResContext
from fixres_kedro.hooks import (
    CheckpointHook,
    CompilationCacheHook,
    DistributionHook,
    NodeTimingHook,
    PrecisionHook,
    ProvenanceHook,
    SeedHook,
)

# The console shows progress, epochs and warnings; logs/info.log keeps everything.
console.install()

# Checks every parameter before any hook or node reads one (fixres_kedro.context).
CONTEXT_CLASS = FixResContext

# Pluggy runs hooks last-registered first, so the order below is the reverse of the order
# they run in: devices first (a worker's GPU must be chosen before seeding starts the
# backend), the compilation cache before anything compiles, then the precision policy,
# the seeds, checkpoints, the provenance of metrics and the timing of each node.
HOOKS = (
    NodeTimingHook(), ProvenanceHook(), CheckpointHook(), SeedHook(), PrecisionHook(),
    CompilationCacheHook(), DistributionHook(),
)

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # An environment (smoke, gpu, ...) only states what differs from base.
    "merge_strategy": {"parameters": "soft"},
    # The photo source can be chosen with FIXRES_DATA_SOURCE / FIXRES_DATA_PATH.
    "custom_resolvers": {"oc.env": oc.env},
}
