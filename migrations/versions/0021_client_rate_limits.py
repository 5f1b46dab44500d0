"""client rate limits: each client's rate-limit tier and burst allowance

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 09:20:00

Two columns on oauth_clients, set by the operator (`flask ratelimit set`) and read by the
consent gate and the client authentication in the statement that finds the client
(aspsp.ratelimit): the tier (null: RATELIMIT_DEFAULT_TIER) and the burst allowance (null: 0).
"""
from alembic import op
import sqlalchemy as sa


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('oauth_clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rate_limit_tier', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('rate_limit_burst', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('oauth_clients', schema=None) as batch_op:
        batch_op.drop_column('rate_limit_burst')
        batch_op.drop_column('rate_limit_tier')
