"""schedules in another currency: the exchange terms of a schedule and the rate each payment
applied

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 03:35:00

International scheduled payments and international standing orders (PIS v3.1.11) are
ledger schedules whose amounts are in the instructed currency, not the debtor account's.
`scheduled_payments.exchange` and `standing_orders.exchange` keep the terms the payment is
converted on at execution (UnitCurrency, RateType, and an Agreed contract's rate and
ContractIdentification); NULL for a schedule in the account's own currency.
`schedule_executions.exchange_rate` keeps the rate a payment applied and what the account
paid for it (NULL when nothing was exchanged).
"""
from alembic import op
import sqlalchemy as sa

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('scheduled_payments', 'standing_orders'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('exchange', sa.JSON(), nullable=True))
    with op.batch_alter_table('schedule_executions') as batch:
        batch.add_column(sa.Column('exchange_rate', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('schedule_executions') as batch:
        batch.drop_column('exchange_rate')
    for table in ('standing_orders', 'scheduled_payments'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('exchange')
