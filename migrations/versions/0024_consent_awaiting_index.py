"""consents: a partial index for the authorisation window's sweep

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-08 05:20:00

`consent.reject_overdue` (beat, every minute) looks for consents still awaiting authorisation
(or, for a file payment, their file) that were made longer than CONSENT_AUTHORISATION_WINDOW
ago, oldest first, and marks them Rejected. `ix_consents_awaiting` holds only those consents,
ordered by (created_at, id): the sweep reads the overdue ones from its start and stops, however
many consents were decided long ago. Partial on PostgreSQL and SQLite alike.
"""
from alembic import op
import sqlalchemy as sa

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

AWAITING = sa.text("status IN ('AwaitingAuthorisation', 'AwaitingUpload')")


def upgrade() -> None:
    op.create_index('ix_consents_awaiting', 'consents', ['created_at', 'id'],
                    postgresql_where=AWAITING, sqlite_where=AWAITING)


def downgrade() -> None:
    op.drop_index('ix_consents_awaiting', table_name='consents')
