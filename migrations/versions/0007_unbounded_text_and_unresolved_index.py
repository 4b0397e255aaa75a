"""unbounded text for values from labels and rule files; a partial index of unresolved tickets

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

Label values come from monitored systems. On PostgreSQL `tickets.service` was
varchar(255), so a longer `service` label failed the tick (and every following one
while the alert fired); rule names, group keys (file path + group name), channels and
actors had the same limits. They become `text`. SQLite never enforced the lengths, so
its tables are left as they are (no table copy).

`ix_tickets_unresolved` holds only tickets whose status is open or acknowledged: the
deadline watcher, which runs every few seconds, reads those instead of scanning every
ticket ever opened.
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# table -> (column, former length, nullable)
WIDENED = {
    "alert_state": [("group_key", 512, False), ("rule", 255, False)],
    "tickets": [
        ("group_key", 512, False), ("rule_key", 255, False), ("rule", 255, False), ("acknowledged_by", 255, True),
        ("resolved_by", 255, True), ("channel", 255, True), ("service", 255, True),
    ],
    "ticket_events": [("actor", 255, True)],
    "notifications": [("channel", 255, False)],
    "slack_threads": [("channel", 255, False)],
}
UNRESOLVED = "status IN ('open', 'acknowledged')"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, columns in WIDENED.items():
            for name, length, nullable in columns:
                op.alter_column(table, name, type_=sa.Text(), existing_type=sa.String(length), existing_nullable=nullable)
    op.create_index(
        "ix_tickets_unresolved",
        "tickets",
        ["response_warn_at", "recovery_warn_at"],
        postgresql_where=sa.text(UNRESOLVED),
        sqlite_where=sa.text(UNRESOLVED),
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_unresolved", "tickets")
    if op.get_bind().dialect.name == "postgresql":
        for table, columns in WIDENED.items():
            for name, length, nullable in columns:
                op.alter_column(
                    table, name, type_=sa.String(length), existing_type=sa.Text(), existing_nullable=nullable,
                    postgresql_using=f"left({name}, {length})",
                )
