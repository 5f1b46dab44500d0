"""sandbox webhook inspector: a receiving URL per client, and the requests it received

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 06:40:00

The sandbox's webhook inspector (sandbox/inspector.py): one inspector per client (its opaque
id is the last part of its URL), and every request it received (method, path, headers, body
as text, the size that arrived), the newest 200 per inspector kept.
"""
from alembic import op
import sqlalchemy as sa

import aspsp.types

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'sandbox_inspectors',
        sa.Column('id', PK, nullable=False),
        sa.Column('inspector_id', sa.String(length=64), nullable=False),
        sa.Column('client_pk', PK, nullable=False),
        sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['client_pk'], ['oauth_clients.id'],
                                name=op.f('fk_sandbox_inspectors_client_pk_oauth_clients')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_inspectors')),
        sa.UniqueConstraint('inspector_id',
                            name=op.f('uq_sandbox_inspectors_inspector_id')),
        sa.UniqueConstraint('client_pk', name=op.f('uq_sandbox_inspectors_client_pk')))
    op.create_table(
        'sandbox_inspector_requests',
        sa.Column('id', PK, nullable=False),
        sa.Column('inspector_pk', PK, nullable=False),
        sa.Column('received_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('method', sa.String(length=10), nullable=False),
        sa.Column('path', sa.String(length=512), nullable=False),
        sa.Column('headers', sa.JSON(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('body_bytes', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['inspector_pk'], ['sandbox_inspectors.id'],
            name=op.f('fk_sandbox_inspector_requests_inspector_pk_sandbox_inspectors')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_inspector_requests')))
    op.create_index(op.f('ix_sandbox_inspector_requests_inspector_pk'),
                    'sandbox_inspector_requests', ['inspector_pk'])


def downgrade() -> None:
    op.drop_index(op.f('ix_sandbox_inspector_requests_inspector_pk'),
                  table_name='sandbox_inspector_requests')
    op.drop_table('sandbox_inspector_requests')
    op.drop_table('sandbox_inspectors')
