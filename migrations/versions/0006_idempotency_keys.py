"""idempotency keys and signed-message records (OB API conventions)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 00:15:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


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
    pass


def downgrade() -> None:
    # --- oauth_clients.registration_version (issue 8) ----------------------------------------
    with op.batch_alter_table("oauth_clients") as batch_op:
        batch_op.drop_column("registration_version")
    # --- end of oauth_clients.registration_version --------------------------------------------
    pass
