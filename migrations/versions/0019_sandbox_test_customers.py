"""sandbox test customers: which portal app owns which test customer

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 06:35:00

The sandbox's record of the test customers each developer-portal app made
(sandbox/test_data_models.py): the app, the customer's login, its sandbox behaviour, and when
the app's reset removed it.
"""
from alembic import op
import sqlalchemy as sa
import aspsp.types


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sandbox_test_customers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('app_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('psu_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('behaviour', sa.String(length=16), nullable=False),
    sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('removed_at', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['app_pk'], ['portal_apps.id'], name=op.f('fk_sandbox_test_customers_app_pk_portal_apps')),
    sa.ForeignKeyConstraint(['psu_pk'], ['psu_users.id'], name=op.f('fk_sandbox_test_customers_psu_pk_psu_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_test_customers')),
    sa.UniqueConstraint('psu_pk', name=op.f('uq_sandbox_test_customers_psu_pk'))
    )
    with op.batch_alter_table('sandbox_test_customers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_test_customers_app_pk'), ['app_pk'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sandbox_test_customers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_test_customers_app_pk'))
    op.drop_table('sandbox_test_customers')
