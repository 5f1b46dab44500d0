"""domestic VRPs: the payments a variable recurring payment consent allows, many per consent

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 04:00:00

VRP v3.1.11 (`aspsp/vrp/`): each POST /domestic-vrps is a row here (DomesticVRPId, its
consent, the debtor account chosen at approval, the request's Data and Risk as sent, the
instructed amount in minor units for the limits' sums, its status and history, and once
executed the ledger payment that moved the money). Unlike payment_orders, consent_pk is not
unique: a VRP consent is long-lived. The index (consent_pk, created_at) serves the sum of a
consent's VRPs in a period, read under the consent's row lock.
"""
from alembic import op
import sqlalchemy as sa

import aspsp.types

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'domestic_vrps',
        sa.Column('id', PK, nullable=False),
        sa.Column('domestic_vrp_id', sa.String(length=40), nullable=False),
        sa.Column('consent_pk', PK, nullable=False),
        sa.Column('client_pk', PK, nullable=False),
        sa.Column('debtor_account_pk', PK, nullable=False),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('request', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=40), nullable=False),
        sa.Column('status_history', sa.JSON(), nullable=False),
        sa.Column('rejection_reason', sa.String(length=500), nullable=True),
        sa.Column('ledger_payment_pk', PK, nullable=True),
        sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('status_updated_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['consent_pk'], ['consents.id'],
                                name=op.f('fk_domestic_vrps_consent_pk_consents')),
        sa.ForeignKeyConstraint(['client_pk'], ['oauth_clients.id'],
                                name=op.f('fk_domestic_vrps_client_pk_oauth_clients')),
        sa.ForeignKeyConstraint(['debtor_account_pk'], ['accounts.id'],
                                name=op.f('fk_domestic_vrps_debtor_account_pk_accounts')),
        sa.ForeignKeyConstraint(['ledger_payment_pk'], ['payments.id'],
                                name=op.f('fk_domestic_vrps_ledger_payment_pk_payments')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_domestic_vrps')),
        sa.UniqueConstraint('domestic_vrp_id', name=op.f('uq_domestic_vrps_domestic_vrp_id')),
        sa.UniqueConstraint('ledger_payment_pk',
                            name=op.f('uq_domestic_vrps_ledger_payment_pk')))
    op.create_index(op.f('ix_domestic_vrps_consent_pk_created_at'), 'domestic_vrps',
                    ['consent_pk', 'created_at'])
    op.create_index(op.f('ix_domestic_vrps_client_pk'), 'domestic_vrps', ['client_pk'])
    op.create_index(op.f('ix_domestic_vrps_debtor_account_pk'), 'domestic_vrps',
                    ['debtor_account_pk'])


def downgrade() -> None:
    op.drop_index(op.f('ix_domestic_vrps_debtor_account_pk'), table_name='domestic_vrps')
    op.drop_index(op.f('ix_domestic_vrps_client_pk'), table_name='domestic_vrps')
    op.drop_index(op.f('ix_domestic_vrps_consent_pk_created_at'), table_name='domestic_vrps')
    op.drop_table('domestic_vrps')
