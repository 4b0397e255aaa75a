"""fair, self-healing delivery: row priority, resolved channel ids, dead letters

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

- notifications.priority: the ticket's priority (a digest: its most urgent ticket), so
  within a channel P0 rows go first;
- notifications.channel_id: the Slack channel id resolved before the first post, so the
  after-crash "was it already sent?" lookup works for channels given by name;
- slack_channels: names resolved to ids, once (conversations.list or a post's answer);
- (status, channel, priority, id): the dispatcher's per-channel selection;
- (ticket_id, id): "is this the head row of its ticket?".
"""
import sqlalchemy as sa
from alembic import op

from slawatch.store.schema import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("priority", sa.String(2), nullable=False, server_default="P2"))
        batch.add_column(sa.Column("channel_id", sa.String(32), nullable=True))
    op.execute(
        "UPDATE notifications SET priority = (SELECT t.priority FROM tickets t WHERE t.id = notifications.ticket_id) "
        "WHERE ticket_id IS NOT NULL"
    )
    op.create_index("ix_notifications_status_channel_priority_id", "notifications",
                    ["status", "channel", "priority", "id"])
    op.create_index("ix_notifications_ticket_id_id", "notifications", ["ticket_id", "id"])
    op.create_table(
        "slack_channels",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("resolved_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_slack_channels"),
    )


def downgrade() -> None:
    op.drop_table("slack_channels")
    op.drop_index("ix_notifications_ticket_id_id", "notifications")
    op.drop_index("ix_notifications_status_channel_priority_id", "notifications")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("channel_id")
        batch.drop_column("priority")
