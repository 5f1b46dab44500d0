"""ledger and identity

Revision ID: 0001
Revises: 
Create Date: 2026-11-29 02:03:48.989301
"""
from alembic import op
import sqlalchemy as sa
import aspsp.types


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('journal_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entry_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reverses_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['reverses_pk'], ['journal_entries.id'], name=op.f('fk_journal_entries_reverses_pk_journal_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journal_entries')),
    sa.UniqueConstraint('entry_id', name=op.f('uq_journal_entries_entry_id')),
    sa.UniqueConstraint('reverses_pk', name=op.f('uq_journal_entries_reverses_pk'))
    )
    op.create_table('parties',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('party_id', sa.String(length=40), nullable=False),
    sa.Column('party_number', sa.String(length=35), nullable=False),
    sa.Column('party_type', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=350), nullable=False),
    sa.Column('full_legal_name', sa.String(length=350), nullable=True),
    sa.Column('legal_structure', sa.String(length=64), nullable=True),
    sa.Column('email', sa.String(length=256), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('mobile', sa.String(length=32), nullable=True),
    sa.Column('addresses', sa.JSON(), nullable=False),
    sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parties')),
    sa.UniqueConstraint('party_id', name=op.f('uq_parties_party_id'))
    )
    op.create_table('products',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('product_id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=350), nullable=False),
    sa.Column('product_type', sa.String(length=40), nullable=False),
    sa.Column('marketing_state_id', sa.String(length=35), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_products')),
    sa.UniqueConstraint('product_id', name=op.f('uq_products_product_id'))
    )
    op.create_table('accounts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('internal_code', sa.String(length=40), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_updated_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('account_type', sa.String(length=16), nullable=True),
    sa.Column('account_sub_type', sa.String(length=16), nullable=True),
    sa.Column('name', sa.String(length=350), nullable=False),
    sa.Column('nickname', sa.String(length=70), nullable=True),
    sa.Column('description', sa.String(length=35), nullable=True),
    sa.Column('opening_date', sa.Date(), nullable=False),
    sa.Column('maturity_date', sa.Date(), nullable=True),
    sa.Column('sort_code', sa.String(length=6), nullable=True),
    sa.Column('account_number', sa.String(length=8), nullable=True),
    sa.Column('iban', sa.String(length=34), nullable=True),
    sa.Column('servicer_bic', sa.String(length=11), nullable=True),
    sa.Column('pan', sa.String(length=19), nullable=True),
    sa.Column('credit_limit_minor', sa.BigInteger(), nullable=False),
    sa.Column('credit_line_type', sa.String(length=16), nullable=True),
    sa.Column('product_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('booked_minor', sa.BigInteger(), nullable=False),
    sa.Column('pending_debits_minor', sa.BigInteger(), nullable=False),
    sa.Column('pending_credits_minor', sa.BigInteger(), nullable=False),
    sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['product_pk'], ['products.id'], name=op.f('fk_accounts_product_pk_products')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
    sa.UniqueConstraint('account_id', name=op.f('uq_accounts_account_id')),
    sa.UniqueConstraint('iban', name=op.f('uq_accounts_iban')),
    sa.UniqueConstraint('internal_code', name=op.f('uq_accounts_internal_code')),
    sa.UniqueConstraint('sort_code', 'account_number', name='uq_accounts_sort_code_account_number')
    )
    op.create_table('psu_users',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('psu_id', sa.String(length=40), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('totp_secret', sa.String(length=64), nullable=False),
    sa.Column('party_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('locked_until', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['party_pk'], ['parties.id'], name=op.f('fk_psu_users_party_pk_parties')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_psu_users')),
    sa.UniqueConstraint('psu_id', name=op.f('uq_psu_users_psu_id')),
    sa.UniqueConstraint('username', name=op.f('uq_psu_users_username'))
    )
    with op.batch_alter_table('psu_users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_psu_users_party_pk'), ['party_pk'], unique=False)

    op.create_table('account_parties',
    sa.Column('account_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('party_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_role', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_pk'], ['accounts.id'], name=op.f('fk_account_parties_account_pk_accounts')),
    sa.ForeignKeyConstraint(['party_pk'], ['parties.id'], name=op.f('fk_account_parties_party_pk_parties')),
    sa.PrimaryKeyConstraint('account_pk', 'party_pk', name=op.f('pk_account_parties'))
    )
    with op.batch_alter_table('account_parties', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_parties_party_pk'), ['party_pk'], unique=False)

    op.create_table('beneficiaries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('beneficiary_id', sa.String(length=40), nullable=False),
    sa.Column('account_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('beneficiary_type', sa.String(length=16), nullable=False),
    sa.Column('reference', sa.String(length=35), nullable=True),
    sa.Column('creditor_name', sa.String(length=350), nullable=False),
    sa.Column('creditor_scheme', sa.String(length=40), nullable=False),
    sa.Column('creditor_identification', sa.String(length=256), nullable=False),
    sa.Column('creditor_secondary_identification', sa.String(length=34), nullable=True),
    sa.Column('creditor_agent', sa.JSON(), nullable=True),
    sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_pk'], ['accounts.id'], name=op.f('fk_beneficiaries_account_pk_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_beneficiaries')),
    sa.UniqueConstraint('beneficiary_id', name=op.f('uq_beneficiaries_beneficiary_id'))
    )
    with op.batch_alter_table('beneficiaries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_beneficiaries_account_pk'), ['account_pk'], unique=False)

    op.create_table('direct_debits',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('direct_debit_id', sa.String(length=40), nullable=False),
    sa.Column('account_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('mandate_identification', sa.String(length=35), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=70), nullable=False),
    sa.Column('frequency', sa.String(length=35), nullable=True),
    sa.Column('previous_payment_datetime', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('previous_payment_minor', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.ForeignKeyConstraint(['account_pk'], ['accounts.id'], name=op.f('fk_direct_debits_account_pk_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_direct_debits')),
    sa.UniqueConstraint('direct_debit_id', name=op.f('uq_direct_debits_direct_debit_id'))
    )
    with op.batch_alter_table('direct_debits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_direct_debits_account_pk'), ['account_pk'], unique=False)

    op.create_table('offers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('offer_id', sa.String(length=40), nullable=False),
    sa.Column('account_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('offer_type', sa.String(length=32), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=True),
    sa.Column('fee_minor', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('rate', sa.String(length=16), nullable=True),
    sa.Column('term', sa.String(length=500), nullable=True),
    sa.Column('url', sa.String(length=256), nullable=True),
    sa.Column('start_datetime', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('end_datetime', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_pk'], ['accounts.id'], name=op.f('fk_offers_account_pk_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offers')),
    sa.UniqueConstraint('offer_id', name=op.f('uq_offers_offer_id'))
    )
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offers_account_pk'), ['account_pk'], unique=False)

    op.create_table('payments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('payment_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=40), nullable=False),
    sa.Column('status_history', sa.JSON(), nullable=False),
    sa.Column('debtor_account_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('creditor_account_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('creditor', sa.JSON(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('reference', sa.String(length=35), nullable=True),
    sa.Column('end_to_end_identification', sa.String(length=35), nullable=True),
    sa.Column('entry_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('scheme_reference', sa.String(length=64), nullable=True),
    sa.Column('rejection_reason', sa.String(length=500), nullable=True),
    sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status_updated_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['creditor_account_pk'], ['accounts.id'], name=op.f('fk_payments_creditor_account_pk_accounts')),
    sa.ForeignKeyConstraint(['debtor_account_pk'], ['accounts.id'], name=op.f('fk_payments_debtor_account_pk_accounts')),
    sa.ForeignKeyConstraint(['entry_pk'], ['journal_entries.id'], name=op.f('fk_payments_entry_pk_journal_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('payment_id', name=op.f('uq_payments_payment_id'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_debtor_account_pk'), ['debtor_account_pk'], unique=False)

    op.create_table('postings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('transaction_id', sa.String(length=40), nullable=False),
    sa.Column('entry_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('booking_datetime', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('value_datetime', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('balance_after_minor', sa.BigInteger(), nullable=True),
    sa.Column('transaction_reference', sa.String(length=210), nullable=True),
    sa.Column('statement_reference', sa.String(length=35), nullable=True),
    sa.Column('transaction_information', sa.String(length=500), nullable=True),
    sa.Column('iso_code', sa.String(length=64), nullable=True),
    sa.Column('iso_subcode', sa.String(length=64), nullable=True),
    sa.Column('proprietary_code', sa.String(length=35), nullable=True),
    sa.Column('proprietary_issuer', sa.String(length=35), nullable=True),
    sa.Column('merchant_name', sa.String(length=350), nullable=True),
    sa.Column('merchant_category_code', sa.String(length=4), nullable=True),
    sa.Column('counterparty', sa.JSON(), nullable=True),
    sa.Column('card_instrument', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['account_pk'], ['accounts.id'], name=op.f('fk_postings_account_pk_accounts')),
    sa.ForeignKeyConstraint(['entry_pk'], ['journal_entries.id'], name=op.f('fk_postings_entry_pk_journal_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_postings')),
    sa.UniqueConstraint('transaction_id', name=op.f('uq_postings_transaction_id'))
    )
    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.create_index('ix_postings_account_booking', ['account_pk', 'booking_datetime', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_postings_entry_pk'), ['entry_pk'], unique=False)

    op.create_table('scheduled_payments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('scheduled_payment_id', sa.String(length=40), nullable=False),
    sa.Column('account_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('scheduled_payment_datetime', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('scheduled_type', sa.String(length=16), nullable=False),
    sa.Column('reference', sa.String(length=35), nullable=True),
    sa.Column('debtor_reference', sa.String(length=35), nullable=True),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('creditor_name', sa.String(length=350), nullable=False),
    sa.Column('creditor_scheme', sa.String(length=40), nullable=False),
    sa.Column('creditor_identification', sa.String(length=256), nullable=False),
    sa.ForeignKeyConstraint(['account_pk'], ['accounts.id'], name=op.f('fk_scheduled_payments_account_pk_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduled_payments')),
    sa.UniqueConstraint('scheduled_payment_id', name=op.f('uq_scheduled_payments_scheduled_payment_id'))
    )
    with op.batch_alter_table('scheduled_payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scheduled_payments_account_pk'), ['account_pk'], unique=False)

    op.create_table('standing_orders',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('standing_order_id', sa.String(length=40), nullable=False),
    sa.Column('account_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('frequency', sa.String(length=35), nullable=False),
    sa.Column('reference', sa.String(length=35), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('first_payment_datetime', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('next_payment_datetime', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_payment_datetime', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('final_payment_datetime', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('number_of_payments', sa.Integer(), nullable=True),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('creditor_name', sa.String(length=350), nullable=False),
    sa.Column('creditor_scheme', sa.String(length=40), nullable=False),
    sa.Column('creditor_identification', sa.String(length=256), nullable=False),
    sa.ForeignKeyConstraint(['account_pk'], ['accounts.id'], name=op.f('fk_standing_orders_account_pk_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standing_orders')),
    sa.UniqueConstraint('standing_order_id', name=op.f('uq_standing_orders_standing_order_id'))
    )
    with op.batch_alter_table('standing_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_standing_orders_account_pk'), ['account_pk'], unique=False)

    op.create_table('statements',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('statement_id', sa.String(length=40), nullable=False),
    sa.Column('account_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('statement_reference', sa.String(length=35), nullable=False),
    sa.Column('statement_type', sa.String(length=32), nullable=False),
    sa.Column('start_datetime', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_datetime', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('creation_datetime', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('opening_booked_minor', sa.BigInteger(), nullable=False),
    sa.Column('closing_booked_minor', sa.BigInteger(), nullable=False),
    sa.Column('total_credits_minor', sa.BigInteger(), nullable=False),
    sa.Column('total_debits_minor', sa.BigInteger(), nullable=False),
    sa.Column('descriptions', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['account_pk'], ['accounts.id'], name=op.f('fk_statements_account_pk_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statements')),
    sa.UniqueConstraint('account_pk', 'start_datetime', name='uq_statements_account_start'),
    sa.UniqueConstraint('statement_id', name=op.f('uq_statements_statement_id'))
    )


def downgrade() -> None:
    op.drop_table('statements')
    with op.batch_alter_table('standing_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_standing_orders_account_pk'))

    op.drop_table('standing_orders')
    with op.batch_alter_table('scheduled_payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scheduled_payments_account_pk'))

    op.drop_table('scheduled_payments')
    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_postings_entry_pk'))
        batch_op.drop_index('ix_postings_account_booking')

    op.drop_table('postings')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_debtor_account_pk'))

    op.drop_table('payments')
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offers_account_pk'))

    op.drop_table('offers')
    with op.batch_alter_table('direct_debits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_direct_debits_account_pk'))

    op.drop_table('direct_debits')
    with op.batch_alter_table('beneficiaries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_beneficiaries_account_pk'))

    op.drop_table('beneficiaries')
    with op.batch_alter_table('account_parties', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_parties_party_pk'))

    op.drop_table('account_parties')
    with op.batch_alter_table('psu_users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_psu_users_party_pk'))

    op.drop_table('psu_users')
    op.drop_table('accounts')
    op.drop_table('products')
    op.drop_table('parties')
    op.drop_table('journal_entries')
