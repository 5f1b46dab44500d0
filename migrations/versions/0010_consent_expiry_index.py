"""consents: a partial index for the expiry sweep

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 03:20:00

`consent.expire_due` (beat, every minute) looks for consents still in force (Awaiting
Authorisation, AwaitingUpload, Authorised) whose ExpirationDateTime has passed, oldest expiry
first. `ix_consents_expiry_due` holds only those consents, ordered by (expiration_datetime,
id): the sweep reads the due ones from its start and stops, whatever the number of consents
long settled (Consumed, Expired, Revoked, Rejected: most of the table, in time). Partial on
PostgreSQL and SQLite alike.
"""
from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

IN_FORCE = sa.text("status IN ('AwaitingAuthorisation', 'AwaitingUpload', 'Authorised') "
                   "AND expiration_datetime IS NOT NULL")


def upgrade() -> None:
    op.create_index('ix_consents_expiry_due', 'consents', ['expiration_datetime', 'id'],
                    postgresql_where=IN_FORCE, sqlite_where=IN_FORCE)


def downgrade() -> None:
    op.drop_index('ix_consents_expiry_due', table_name='consents')
