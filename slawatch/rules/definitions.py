"""What a rule and a group are once loaded: plain, immutable data (pure).

Kept apart from `files` (which reads YAML from disk) so that the state machine and the
incident lifecycle, which only need these types, import no file handling at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Mapping

__all__ = ["AlertingRule", "RuleGroup"]


@dataclass(frozen=True)
class AlertingRule:
    """One `alert:` rule, validated. `group_by` is slawatch's incident-grouping extension."""

    name: str
    expr: str
    for_: timedelta = timedelta(0)
    keep_firing_for: timedelta = timedelta(0)
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    group_by: tuple[str, ...] | None = None
    file: str = ""
    line: int = 0
    ordinal: int = 0  # n-th rule of this name in its group (DiskFull warning, DiskFull critical)

    @property
    def key(self) -> str:
        """Identity of the rule inside its group, stable across restarts."""
        return self.name if self.ordinal == 0 else f"{self.name}#{self.ordinal}"


@dataclass(frozen=True)
class RuleGroup:
    """A group is evaluated as a unit at its interval, like in Prometheus."""

    name: str
    file: str
    interval: timedelta
    rules: tuple[AlertingRule, ...]
    limit: int = 0
    origin: str = ""  # the file's name in `key`: relative, see `files.origins`

    @property
    def key(self) -> str:
        """Unique across files, like Prometheus' GroupKey (file + ';' + name), but with the
        file's relative `origin`, so the same rules under another mount point keep their key."""
        return f"{self.origin or self.file};{self.name}"
