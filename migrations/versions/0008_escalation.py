"""escalation policies walked over time: when a ticket's next `after` step is due

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

- tickets.escalation_due_at: the instant the deadline watcher must look at the ticket
  again for an `after` step of its escalation policy (NULL: none pending). Tickets open
  before this revision keep NULL: their stored chain has no `after` steps, and the
  watcher still finds them through their warning instants.
- The `escalation` JSON column itself is unchanged: it now holds the policy frozen with
  its rotations (`slawatch.escalation.Policy.to_json`); the old shape (levels with the
  people resolved at open) still loads.
"""
import sqlalchemy as sa
from alembic import op

from slawatch.store.schema import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("escalation_due_at", UtcDateTime(), nullable=True))
    op.create_index("ix_tickets_escalation_due_at", "tickets", ["escalation_due_at"])


def downgrade() -> None:
    op.drop_index("ix_tickets_escalation_due_at", "tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("escalation_due_at")
