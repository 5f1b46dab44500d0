"""posting day counts: transaction lists count their rows without reading the whole history

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 22:00:00

One row per customer account and UTC day of booking time with its numbers of credit and debit
postings, kept by the ledger in the posting transaction. The upgrade fills it from the
postings already there.
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'posting_day_counts',
        sa.Column('account_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('credits', sa.BigInteger(), nullable=False),
        sa.Column('debits', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['account_pk'], ['accounts.id'],
                                name=op.f('fk_posting_day_counts_account_pk_accounts')),
        sa.PrimaryKeyConstraint('account_pk', 'day', name=op.f('pk_posting_day_counts')))
    day = "(p.booking_datetime AT TIME ZONE 'UTC')::date" \
        if op.get_bind().dialect.name == 'postgresql' else "date(p.booking_datetime)"
    op.execute(
        "INSERT INTO posting_day_counts (account_pk, day, credits, debits) "
        f"SELECT p.account_pk, {day}, "
        "SUM(CASE WHEN p.amount_minor > 0 THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN p.amount_minor < 0 THEN 1 ELSE 0 END) "
        "FROM postings p JOIN accounts a ON a.id = p.account_pk WHERE a.kind = 'customer' "
        f"GROUP BY p.account_pk, {day}")


def downgrade() -> None:
    op.drop_table('posting_day_counts')
