"""slawatch: Prometheus alert rules in, SLA-tracked incidents out."""

__version__ = "0.1.0"
