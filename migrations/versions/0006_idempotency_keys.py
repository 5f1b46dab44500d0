"""idempotency keys and signed-message records (OB API conventions)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 00:15:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import aspsp.types  # noqa: F401


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # --- oauth_clients.registration_version (issue 8: the per-process cache of parsed client
    # keys is keyed by it; every change to a client bumps it) ---------------------------------
    with op.batch_alter_table("oauth_clients") as batch_op:
        batch_op.add_column(sa.Column("registration_version", sa.Integer(), nullable=False,
                                      server_default=sa.text("1")))
    # --- end of oauth_clients.registration_version --------------------------------------------
    # --- idempotency_keys (aspsp/idempotency.py) -------------------------------------------------
    op.create_table('idempotency_keys',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('client_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('resource_type', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_pk'], ['oauth_clients.id'], name=op.f('fk_idempotency_keys_client_pk_oauth_clients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_keys')),
    sa.UniqueConstraint('client_pk', 'resource_type', 'key', name=op.f('uq_idempotency_keys_client_pk'))
    )
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotency_keys_expires_at'), ['expires_at'], unique=False)
    # --- end of idempotency_keys ------------------------------------------------------------------
    pass


def downgrade() -> None:
    # --- idempotency_keys (aspsp/idempotency.py) -------------------------------------------------
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotency_keys_expires_at'))
    op.drop_table('idempotency_keys')
    # --- end of idempotency_keys ------------------------------------------------------------------
    # --- oauth_clients.registration_version (issue 8) ----------------------------------------
    with op.batch_alter_table("oauth_clients") as batch_op:
        batch_op.drop_column("registration_version")
    # --- end of oauth_clients.registration_version --------------------------------------------
    pass
