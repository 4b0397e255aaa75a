"""Labels -> P0/P1/P2."""

import pytest

from slawatch.model import Priority
from slawatch.sla.classify import Classification, InvalidPriority, Reason, classify


@pytest.mark.parametrize(
    "labels, expected, reason",
    [
        ({"priority": "P0", "severity": "warning"}, Priority.P0, Reason.PRIORITY_LABEL),
        ({"priority": "p1"}, Priority.P1, Reason.PRIORITY_LABEL),
        ({"severity": "critical"}, Priority.P0, Reason.MAPPED),
        ({"severity": "error"}, Priority.P1, Reason.MAPPED),
        ({"severity": "major"}, Priority.P1, Reason.MAPPED),
        ({"severity": "Warning"}, Priority.P2, Reason.MAPPED),
        ({"severity": "info"}, Priority.P2, Reason.MAPPED),
        ({"severity": "page"}, Priority.P2, Reason.DEFAULTED),
        ({}, Priority.P2, Reason.DEFAULTED),
    ],
    ids=["priority label wins", "priority label case-insensitive", "critical", "error", "major", "warning",
         "info", "unknown severity defaults", "no labels defaults"],
)
def test_default_classification(labels: dict, expected: Priority, reason: Reason) -> None:
    assert classify(labels) == (expected, reason)


def test_configured_label_and_mapping() -> None:
    policy = Classification(label="urgency", mapping={"high": Priority.P0}, default=Priority.P1)
    assert classify({"urgency": "high"}, policy) == (Priority.P0, Reason.MAPPED)
    assert classify({"severity": "critical"}, policy) == (Priority.P1, Reason.DEFAULTED)


def test_invalid_priority_label_is_an_error() -> None:
    with pytest.raises(InvalidPriority, match="P4"):
        classify({"priority": "P4"})
