"""secrets at rest under the key-encryption key: room for sealed TOTP secrets

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 21:40:00

The data is not converted here (a migration has no key-encryption key): `flask db upgrade`
runs the conversion right after migrating to head (aspsp.secrets_at_rest.prepare), and
`flask keys rewrap` runs it on demand. It seals plain-text TOTP secrets and re-seals signing
keys that were sealed with a key derived from SECRET_KEY. Downgrading below 0004 needs the
secrets in clear, which nothing writes any more: it is refused while sealed secrets exist.
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('psu_users', schema=None) as batch_op:
        batch_op.alter_column('totp_secret', existing_type=sa.String(length=64),
                              type_=sa.String(length=256), existing_nullable=False)


def downgrade() -> None:
    sealed = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM psu_users WHERE totp_secret LIKE 'sealed:%'")).scalar()
    if sealed:
        raise RuntimeError(f"{sealed} TOTP secrets are sealed with the key-encryption key and do "
                           "not fit the pre-0004 column: downgrading would lose them")
    with op.batch_alter_table('psu_users', schema=None) as batch_op:
        batch_op.alter_column('totp_secret', existing_type=sa.String(length=256),
                              type_=sa.String(length=64), existing_nullable=False)
