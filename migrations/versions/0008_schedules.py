"""schedules: scheduled payments and standing orders executed on their dates

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 00:15:00

The schedule engine (aspsp/ledger/schedules.py): standing orders gain their recurring and
final amounts, the amounts of their next and last payments and a count of the instalments
that fell due; scheduled payments a status, the date-time they are paid (their requested one
rolled to a working day), their end-to-end identification and a rejection reason; and every
payment that fell due is a row of `schedule_executions`, unique per schedule and instalment,
linked to the ledger payment made. Scheduled payments already there are Scheduled, paid at
their requested date-time. `sandbox_clock` keeps how far the sandbox moved the platform clock,
so that every process (web, worker, beat, CLI) reads the same moved time (sandbox/clock.py).
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa

from aspsp.types import UTCDateTime


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

_BIGPK = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('standing_orders') as batch:
        batch.add_column(sa.Column('recurring_payment_datetime', UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('recurring_amount_minor', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('final_amount_minor', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('next_amount_minor', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('last_amount_minor', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('instalments_done', sa.Integer(), server_default='0',
                                   nullable=False))
        batch.add_column(sa.Column('created_at', UTCDateTime(), nullable=True))
    op.create_index('ix_standing_orders_status_next', 'standing_orders',
                    ['status', 'next_payment_datetime'])

    with op.batch_alter_table('scheduled_payments') as batch:
        batch.add_column(sa.Column('status', sa.String(length=16), server_default='Scheduled',
                                   nullable=False))
        batch.add_column(sa.Column('due_datetime', UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('end_to_end_identification', sa.String(length=35),
                                   nullable=True))
        batch.add_column(sa.Column('rejection_reason', sa.String(length=500), nullable=True))
        batch.add_column(sa.Column('created_at', UTCDateTime(), nullable=True))
    op.execute("UPDATE scheduled_payments SET due_datetime = scheduled_payment_datetime")
    op.create_index('ix_scheduled_payments_status_due', 'scheduled_payments',
                    ['status', 'due_datetime'])

    op.create_table(
        'schedule_executions',
        sa.Column('id', _BIGPK, nullable=False),
        sa.Column('execution_id', sa.String(length=40), nullable=False),
        sa.Column('standing_order_pk', _BIGPK, nullable=True),
        sa.Column('scheduled_payment_pk', _BIGPK, nullable=True),
        sa.Column('instalment', sa.Integer(), nullable=False),
        sa.Column('due_datetime', UTCDateTime(), nullable=False),
        sa.Column('executed_at', UTCDateTime(), nullable=False),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('status', sa.String(length=40), nullable=False),
        sa.Column('rejection_reason', sa.String(length=500), nullable=True),
        sa.Column('payment_pk', _BIGPK, nullable=True),
        sa.ForeignKeyConstraint(['standing_order_pk'], ['standing_orders.id'],
                                name=op.f('fk_schedule_executions_standing_order_pk_standing_orders')),
        sa.ForeignKeyConstraint(['scheduled_payment_pk'], ['scheduled_payments.id'],
                                name=op.f('fk_schedule_executions_scheduled_payment_pk_scheduled_payments')),
        sa.ForeignKeyConstraint(['payment_pk'], ['payments.id'],
                                name=op.f('fk_schedule_executions_payment_pk_payments')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule_executions')),
        sa.UniqueConstraint('execution_id', name=op.f('uq_schedule_executions_execution_id')),
        sa.UniqueConstraint('payment_pk', name=op.f('uq_schedule_executions_payment_pk')),
        sa.UniqueConstraint('standing_order_pk', 'instalment',
                            name='uq_schedule_executions_standing_order_instalment'),
        sa.UniqueConstraint('scheduled_payment_pk', 'instalment',
                            name='uq_schedule_executions_scheduled_payment_instalment'),
    )


    op.create_table(
        'sandbox_clock',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('offset_seconds', sa.BigInteger(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_clock')),
    )
    clock = sa.table('sandbox_clock', sa.column('id', sa.Integer()),
                     sa.column('offset_seconds', sa.BigInteger()),
                     sa.column('updated_at', UTCDateTime()))
    op.bulk_insert(clock, [{'id': 1, 'offset_seconds': 0,
                            'updated_at': datetime.now(timezone.utc)}])


def downgrade() -> None:
    op.drop_table('sandbox_clock')
    op.drop_table('schedule_executions')
    op.drop_index('ix_scheduled_payments_status_due', table_name='scheduled_payments')
    with op.batch_alter_table('scheduled_payments') as batch:
        for column in ('created_at', 'rejection_reason', 'end_to_end_identification',
                       'due_datetime', 'status'):
            batch.drop_column(column)
    op.drop_index('ix_standing_orders_status_next', table_name='standing_orders')
    with op.batch_alter_table('standing_orders') as batch:
        for column in ('created_at', 'instalments_done', 'last_amount_minor',
                       'next_amount_minor', 'final_amount_minor', 'recurring_amount_minor',
                       'recurring_payment_datetime'):
            batch.drop_column(column)
