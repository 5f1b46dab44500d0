"""file payments: the uploaded files and the payments each file order made

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 23:40:00

A file payment consent's TPP uploads its file once (`payment_files`: the bytes as received,
the payments read from it, their total); the file payment order it allows pays each of them
through the ledger (`file_payment_items`: one ledger payment per payment of the file).
"""
from alembic import op
import sqlalchemy as sa
import aspsp.types


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('payment_files',
    sa.Column('id', BIG, nullable=False),
    sa.Column('consent_pk', BIG, nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('payments', sa.JSON(), nullable=False),
    sa.Column('total_amount', sa.String(length=32), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('uploaded_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['consent_pk'], ['consents.id'], name=op.f('fk_payment_files_consent_pk_consents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_files')),
    sa.UniqueConstraint('consent_pk', name=op.f('uq_payment_files_consent_pk'))
    )
    op.create_table('file_payment_items',
    sa.Column('id', BIG, nullable=False),
    sa.Column('order_pk', BIG, nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('ledger_payment_pk', BIG, nullable=False),
    sa.ForeignKeyConstraint(['ledger_payment_pk'], ['payments.id'], name=op.f('fk_file_payment_items_ledger_payment_pk_payments')),
    sa.ForeignKeyConstraint(['order_pk'], ['payment_orders.id'], name=op.f('fk_file_payment_items_order_pk_payment_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_file_payment_items')),
    sa.UniqueConstraint('ledger_payment_pk', name=op.f('uq_file_payment_items_ledger_payment_pk')),
    sa.UniqueConstraint('order_pk', 'position', name=op.f('uq_file_payment_items_order_pk'))
    )


def downgrade() -> None:
    op.drop_table('file_payment_items')
    op.drop_table('payment_files')
