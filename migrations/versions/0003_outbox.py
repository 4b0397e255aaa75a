"""notification outbox, Slack threads, routing and escalation snapshot on tickets

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

from slawatch.store.schema import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("channel", sa.String(255), nullable=True))
        batch.add_column(sa.Column("escalation", sa.Text(), nullable=True))
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(255), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("sent_at", UtcDateTime(), nullable=True),
        sa.Column("dedup_key", sa.String(160), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
    )
    op.create_index("ix_notifications_status_next_attempt_at", "notifications", ["status", "next_attempt_at"])
    op.create_index("ix_notifications_dedup_key", "notifications", ["dedup_key"], unique=True)
    op.create_index("ix_notifications_ticket_id", "notifications", ["ticket_id"])
    op.create_table(
        "slack_threads",
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("channel", sa.String(255), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("own_message", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", name="pk_slack_threads"),
    )


def downgrade() -> None:
    op.drop_table("slack_threads")
    op.drop_table("notifications")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("escalation")
        batch.drop_column("channel")
