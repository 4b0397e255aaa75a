"""tickets.rule_removed_at: when a ticket's rule was found missing from the rule files

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

A ticket whose rule leaves the rule files counts as cleared at that moment and resolves
as `rule_removed` after its verification window, unless the rule comes back (then the
column is cleared again and the ticket goes on). NULL for every existing ticket.
"""
import sqlalchemy as sa
from alembic import op

from slawatch.store.schema import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tickets", sa.Column("rule_removed_at", UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("rule_removed_at")
