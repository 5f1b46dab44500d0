"""request log: every API call of a TPP client, bodies masked, for the developer portal

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 07:00:00

aspsp/request_log.py writes a row per OB API or OAuth call of an identified client (in
batches, from a background thread) and sweeps rows older than REQUEST_LOG_RETENTION_DAYS.
call_id is the opaque id in a call's page URL; client_id is the OAuth client_id as a string,
without a foreign key (inserts check nothing, and rows go by retention only). The index
(client_id, created_at) serves a client's newest calls and its daily usage; (created_at) the
retention sweep.
"""
from alembic import op
import sqlalchemy as sa

import aspsp.types

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'request_log_entries',
        sa.Column('id', PK, nullable=False),
        sa.Column('call_id', sa.String(length=36), nullable=False),
        sa.Column('client_id', sa.String(length=64), nullable=False),
        sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('method', sa.String(length=10), nullable=False),
        sa.Column('path', sa.String(length=500), nullable=False),
        sa.Column('query', sa.String(length=2000), nullable=True),
        sa.Column('status', sa.Integer(), nullable=False),
        sa.Column('latency_ms', sa.Float(), nullable=False),
        sa.Column('interaction_id', sa.String(length=64), nullable=True),
        sa.Column('request_type', sa.String(length=100), nullable=True),
        sa.Column('request_body', sa.Text(), nullable=True),
        sa.Column('response_type', sa.String(length=100), nullable=True),
        sa.Column('response_body', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_request_log_entries')),
        sa.UniqueConstraint('call_id', name=op.f('uq_request_log_entries_call_id')))
    op.create_index('ix_request_log_entries_client_id_created_at', 'request_log_entries',
                    ['client_id', 'created_at'])
    op.create_index(op.f('ix_request_log_entries_created_at'), 'request_log_entries',
                    ['created_at'])


def downgrade() -> None:
    op.drop_index(op.f('ix_request_log_entries_created_at'), table_name='request_log_entries')
    op.drop_index('ix_request_log_entries_client_id_created_at',
                  table_name='request_log_entries')
    op.drop_table('request_log_entries')
