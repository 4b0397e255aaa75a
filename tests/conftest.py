"""Fixtures shared by all test layers (real servers, never mocks)."""

from tests.support.databases import db_url  # noqa: F401
from tests.support.fixtures import exporter, prometheus_factory  # noqa: F401
