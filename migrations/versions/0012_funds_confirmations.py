"""funds confirmations: what a CBPII asked under a funds-confirmation consent, and the answer

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 03:45:00

Confirmation of Funds v3.1.11 (`aspsp/cof/`): each POST /funds-confirmations is kept as
the resource it creates (FundsConfirmationId, the consent, the CBPII's Reference, the amount
asked, the yes/no answer, when). The answer is all that is kept of the account: never its
balance. A Reference is unique within its consent (a second one is 400
UK.OBIE.Rules.DuplicateReference), enforced by the unique constraint so that two concurrent
requests cannot both pass.
"""
from alembic import op
import sqlalchemy as sa

import aspsp.types

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'funds_confirmations',
        sa.Column('id', PK, nullable=False),
        sa.Column('funds_confirmation_id', sa.String(length=40), nullable=False),
        sa.Column('consent_pk', PK, nullable=False),
        sa.Column('client_pk', PK, nullable=False),
        sa.Column('account_pk', PK, nullable=False),
        sa.Column('reference', sa.String(length=35), nullable=False),
        sa.Column('amount', sa.String(length=32), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('funds_available', sa.Boolean(), nullable=False),
        sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['consent_pk'], ['consents.id'],
                                name=op.f('fk_funds_confirmations_consent_pk_consents')),
        sa.ForeignKeyConstraint(['client_pk'], ['oauth_clients.id'],
                                name=op.f('fk_funds_confirmations_client_pk_oauth_clients')),
        sa.ForeignKeyConstraint(['account_pk'], ['accounts.id'],
                                name=op.f('fk_funds_confirmations_account_pk_accounts')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_funds_confirmations')),
        sa.UniqueConstraint('funds_confirmation_id',
                            name=op.f('uq_funds_confirmations_funds_confirmation_id')),
        sa.UniqueConstraint('consent_pk', 'reference',
                            name=op.f('uq_funds_confirmations_consent_pk')))
    op.create_index(op.f('ix_funds_confirmations_client_pk'), 'funds_confirmations',
                    ['client_pk'])
    op.create_index(op.f('ix_funds_confirmations_account_pk'), 'funds_confirmations',
                    ['account_pk'])


def downgrade() -> None:
    op.drop_index(op.f('ix_funds_confirmations_account_pk'), table_name='funds_confirmations')
    op.drop_index(op.f('ix_funds_confirmations_client_pk'), table_name='funds_confirmations')
    op.drop_table('funds_confirmations')
