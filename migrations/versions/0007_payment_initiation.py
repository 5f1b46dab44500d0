"""payment initiation: payment consents' resources, payments and the scheme's record

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 00:15:00

`payment_orders`: the OBIE payment resources (one per consent, the consent unique), linked to
the ledger payment that executed them. `simulated_scheme_submissions`: what the sandbox's
simulated Faster Payments scheme accepted, once per idempotency key.
"""
from alembic import op
import sqlalchemy as sa

import aspsp.types

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'payment_orders',
        sa.Column('id', PK, nullable=False),
        sa.Column('payment_order_id', sa.String(length=40), nullable=False),
        sa.Column('order_type', sa.String(length=40), nullable=False),
        sa.Column('consent_pk', PK, nullable=False),
        sa.Column('client_pk', PK, nullable=False),
        sa.Column('debtor_account_pk', PK, nullable=False),
        sa.Column('status', sa.String(length=40), nullable=False),
        sa.Column('status_history', sa.JSON(), nullable=False),
        sa.Column('rejection_reason', sa.String(length=500), nullable=True),
        sa.Column('ledger_payment_pk', PK, nullable=True),
        sa.Column('scheduled_payment_pk', PK, nullable=True),
        sa.Column('standing_order_pk', PK, nullable=True),
        sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('status_updated_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['consent_pk'], ['consents.id'],
                                name=op.f('fk_payment_orders_consent_pk_consents')),
        sa.ForeignKeyConstraint(['client_pk'], ['oauth_clients.id'],
                                name=op.f('fk_payment_orders_client_pk_oauth_clients')),
        sa.ForeignKeyConstraint(['debtor_account_pk'], ['accounts.id'],
                                name=op.f('fk_payment_orders_debtor_account_pk_accounts')),
        sa.ForeignKeyConstraint(['ledger_payment_pk'], ['payments.id'],
                                name=op.f('fk_payment_orders_ledger_payment_pk_payments')),
        sa.ForeignKeyConstraint(['scheduled_payment_pk'], ['scheduled_payments.id'],
                                name=op.f('fk_payment_orders_scheduled_payment_pk_'
                                          'scheduled_payments')),
        sa.ForeignKeyConstraint(['standing_order_pk'], ['standing_orders.id'],
                                name=op.f('fk_payment_orders_standing_order_pk_standing_orders')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_orders')),
        sa.UniqueConstraint('payment_order_id', name=op.f('uq_payment_orders_payment_order_id')),
        sa.UniqueConstraint('consent_pk', name=op.f('uq_payment_orders_consent_pk')),
        sa.UniqueConstraint('ledger_payment_pk',
                            name=op.f('uq_payment_orders_ledger_payment_pk')),
        sa.UniqueConstraint('scheduled_payment_pk',
                            name=op.f('uq_payment_orders_scheduled_payment_pk')),
        sa.UniqueConstraint('standing_order_pk',
                            name=op.f('uq_payment_orders_standing_order_pk')))
    op.create_index(op.f('ix_payment_orders_client_pk'), 'payment_orders', ['client_pk'])
    op.create_index(op.f('ix_payment_orders_debtor_account_pk'), 'payment_orders',
                    ['debtor_account_pk'])
    op.create_table(
        'simulated_scheme_submissions',
        sa.Column('idempotency_key', sa.String(length=64), nullable=False),
        sa.Column('end_to_end_identification', sa.String(length=35), nullable=True),
        sa.Column('amount', sa.String(length=32), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('creditor_identification', sa.String(length=256), nullable=False),
        sa.Column('accepted', sa.Boolean(), nullable=False),
        sa.Column('scheme_reference', sa.String(length=64), nullable=True),
        sa.Column('reason', sa.String(length=500), nullable=True),
        sa.Column('received_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('idempotency_key', name=op.f('pk_simulated_scheme_submissions')))


def downgrade() -> None:
    op.drop_table('simulated_scheme_submissions')
    op.drop_index(op.f('ix_payment_orders_debtor_account_pk'), table_name='payment_orders')
    op.drop_index(op.f('ix_payment_orders_client_pk'), table_name='payment_orders')
    op.drop_table('payment_orders')
