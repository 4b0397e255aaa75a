"""Typed settings: one YAML file plus SLAWATCH_* overrides, validated with file:line errors.

`settings` is the whole file; `sla` and `notify` are the slices handed to the SLA core and
to notifications; `located` is YAML loading that remembers lines; `durations` is the
Prometheus duration syntax shared with rule files.
"""

from slawatch.config.durations import Duration, DurationError, format_duration, parse_duration
from slawatch.config.located import InputError, Problem
from slawatch.config.settings import Settings, load_settings

__all__ = [
    "Duration", "DurationError", "InputError", "Problem", "Settings",
    "format_duration", "load_settings", "parse_duration",
]
