"""Fixtures shared by all test layers (real servers, never mocks)."""

from hypothesis import settings

from tests.support.databases import db_url  # noqa: F401
from tests.support.fixtures import exporter, prometheus_factory  # noqa: F401

# Hypothesis' per-example wall-clock deadline (200 ms) fails on a loaded machine and says
# nothing about the code under test; the pytest timeout still bounds every test.
settings.register_profile("slawatch", deadline=None)
settings.load_profile("slawatch")
