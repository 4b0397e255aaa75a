"""Typed settings: one YAML file plus SLAWATCH_* overrides, validated with file:line errors.

    settings   the whole file (`Settings`, `load_settings`)
    sla        the SLA and classification slices handed to the SLA core
    notify     the slack, oncall and server slices
    located    YAML loading that remembers lines (`InputError`, `Problem`)
    durations  the Prometheus duration syntax shared with rule files
    reload     what SIGHUP may change while the daemon runs (pure)

Nothing is imported here, so a module that needs one slice (durations, say) does not
load the rest.
"""

__all__ = ["durations", "located", "notify", "reload", "settings", "sla"]
