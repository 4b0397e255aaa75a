"""Tables, as SQLAlchemy Core metadata. Alembic migrations in `migrations/` create them.

Timestamps are stored as naive UTC and handed out as aware UTC datetimes, so SQLite
(which has no time zone type) and PostgreSQL behave the same.

Text that comes from monitored systems (label values, and what is derived from them or
from rule files: rule names, group keys, channels, actors) is `Text`, unbounded on
PostgreSQL too (migration 0005): a `varchar(255)` failed every tick of an alert whose
`service` label was longer. Fixed-vocabulary columns (status, priority, kinds) and
slawatch's own keys keep their lengths.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    literal_column,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive UTC in the database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; timestamps must be aware")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


# Pending and firing alerts, persisted after every tick like Prometheus' ALERTS_FOR_STATE,
# so a restarted daemon neither resets a `for` timer nor forgets a firing alert.
alert_state = Table(
    "alert_state",
    metadata,
    Column("group_key", Text, primary_key=True),
    Column("rule", Text, primary_key=True),
    Column("fingerprint", String(16), primary_key=True),
    Column("labels", Text, nullable=False),  # JSON object
    Column("annotations", Text, nullable=False),  # JSON object
    Column("state", String(16), nullable=False),
    Column("value", Float, nullable=True),
    Column("active_at", UtcDateTime, nullable=False),
    Column("fired_at", UtcDateTime, nullable=True),
    Column("keep_firing_since", UtcDateTime, nullable=True),
    Column("last_seen_at", UtcDateTime, nullable=True),
)
Index(None, alert_state.c.state)

# One row per incident. `open_identity` equals `identity` while the ticket is not
# resolved and is NULL afterwards; its unique index is how the database itself enforces
# "at most one unresolved ticket per incident identity".
tickets = Table(
    "tickets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("identity", String(64), nullable=False),
    Column("open_identity", String(64), nullable=True),
    Column("group_key", Text, nullable=False),
    Column("rule_key", Text, nullable=False),
    Column("rule", Text, nullable=False),
    Column("priority", String(2), nullable=False),
    Column("status", String(16), nullable=False),
    Column("labels", Text, nullable=False),  # JSON: labels common to the ticket's series
    Column("annotations", Text, nullable=False),  # JSON: rendered at open
    Column("series_count", Integer, nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("acknowledged_at", UtcDateTime, nullable=True),
    Column("acknowledged_by", Text, nullable=True),
    Column("recovered_at", UtcDateTime, nullable=True),
    Column("resolved_at", UtcDateTime, nullable=True),
    Column("resolved_by", Text, nullable=True),
    Column("resolution", String(16), nullable=True),  # verified | manual | rule_removed
    Column("response_due", UtcDateTime, nullable=False),
    Column("recovery_due", UtcDateTime, nullable=False),
    Column("response_warn_at", UtcDateTime, nullable=False),
    Column("recovery_warn_at", UtcDateTime, nullable=False),
    Column("verification_seconds", Float, nullable=False),
    Column("channel", Text, nullable=True),  # Slack route, decided at open
    Column("escalation", Text, nullable=True),  # JSON: the escalation policy frozen at open
    # The `service` label, for the monthly report; NULL when too long for an index entry
    # (store.tickets.SERVICE_MAX_BYTES), and then the report reads the label instead.
    Column("service", Text, nullable=True),
    Column("rule_removed_at", UtcDateTime, nullable=True),  # its rule left the rule files (migration 0005)
    Column("escalation_due_at", UtcDateTime, nullable=True),  # when an `after` step is next due
)
Index(None, tickets.c.open_identity, unique=True)
Index(None, tickets.c.group_key, tickets.c.status)
Index(None, tickets.c.identity)
Index(None, tickets.c.opened_at)
Index(None, tickets.c.service, tickets.c.opened_at, tickets.c.priority)
Index(None, tickets.c.priority, tickets.c.opened_at)
Index(None, tickets.c.priority, tickets.c.resolved_at)
Index(None, tickets.c.escalation_due_at)

# Unresolved tickets, the deadline watcher's work every few seconds: a partial index, so
# the watcher reads only the (few) unresolved rows, never the whole history. The
# predicate is written with literals, and queries use this same expression: a bound
# parameter would not let SQLite (or a generic PostgreSQL plan) prove that they match.
UNRESOLVED_PREDICATE = tickets.c.status.in_([literal_column("'open'"), literal_column("'acknowledged'")])
Index(
    "ix_tickets_unresolved",
    tickets.c.response_warn_at,
    tickets.c.recovery_warn_at,
    postgresql_where=UNRESOLVED_PREDICATE,
    sqlite_where=UNRESOLVED_PREDICATE,
)

# The series (alert label sets) a ticket covers: one, or many for a `group_by` rule.
ticket_series = Table(
    "ticket_series",
    metadata,
    Column("ticket_id", Integer, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
    Column("fingerprint", String(16), primary_key=True),
    Column("labels", Text, nullable=False),
    Column("first_seen_at", UtcDateTime, nullable=False),
)

# The append-only timeline; `dedup_key` (unique) makes once-only events (deadline
# warnings and breaches, escalation steps) idempotent even if two watchers race.
ticket_events = Table(
    "ticket_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_id", Integer, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", Text, nullable=True),
    Column("detail", Text, nullable=False),  # JSON object
    Column("dedup_key", String(128), nullable=True),
)
Index(None, ticket_events.c.ticket_id, ticket_events.c.at)
Index(None, ticket_events.c.dedup_key, unique=True)

# The notification outbox: rows are written in the same transaction as the ticket
# change they announce, and sent by the dispatcher. `status` goes pending -> sending
# (committed before the Slack call) -> sent (after success), so a crash between the
# two leaves a 'sending' row the next dispatcher checks against Slack before resending.
notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_id", Integer, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=True),
    Column("kind", String(16), nullable=False),  # opening | event | update | digest
    Column("channel", Text, nullable=False),
    Column("payload", Text, nullable=False),  # JSON
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    Column("dedup_key", String(160), nullable=False),
    Column("priority", String(2), nullable=False, server_default="P2"),  # P0 rows go first in a channel
    Column("channel_id", String(32), nullable=True),  # resolved before the first post
)
Index(None, notifications.c.status, notifications.c.next_attempt_at)
Index(None, notifications.c.dedup_key, unique=True)
Index(None, notifications.c.ticket_id)
Index(None, notifications.c.status, notifications.c.channel, notifications.c.priority, notifications.c.id)
Index(None, notifications.c.ticket_id, notifications.c.id)

# Slack channel names resolved to ids, once: the after-crash lookup needs an id.
slack_channels = Table(
    "slack_channels",
    metadata,
    Column("name", Text, primary_key=True),
    Column("id", String(32), nullable=False),
    Column("resolved_at", UtcDateTime, nullable=False),
)

# Where a ticket's Slack thread lives: its opening message, or the digest it was listed in.
slack_threads = Table(
    "slack_threads",
    metadata,
    Column("ticket_id", Integer, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
    Column("channel", Text, nullable=False),  # the channel id Slack answered with
    Column("ts", String(32), nullable=False),
    Column("own_message", Integer, nullable=False),  # 1: opening message (updatable), 0: digest
)
