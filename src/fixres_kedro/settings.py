"""Project settings: hooks, configuration loading and the data catalog."""

from omegaconf.resolvers import oc

from fixres_kedro.hooks import (
    DistributionHook,
    NodeTimingHook,
    ParameterValidationHook,
    PrecisionHook,
    SeedHook,
)

# Validation first, so a wrong value stops the run before anything else happens.
HOOKS = (
    ParameterValidationHook(), DistributionHook(), PrecisionHook(), SeedHook(), NodeTimingHook(),
)

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # An environment (smoke, gpu, ...) only states what differs from base.
    "merge_strategy": {"parameters": "soft"},
    # The photo source can be chosen with FIXRES_DATA_SOURCE / FIXRES_DATA_PATH.
    "custom_resolvers": {"oc.env": oc.env},
}
