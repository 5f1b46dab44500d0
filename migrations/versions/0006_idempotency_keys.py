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
    pass


def downgrade() -> None:
    pass
