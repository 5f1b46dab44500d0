"""event notifications: subscriptions, the outbox of events and their delivery attempts

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 01:15:00

`event_subscriptions`: at most one per client (client_pk unique). `event_notifications`: the
outbox, written in the transaction of the state change that raised the event; the SET claims,
the status (Pending, Delivered, Acknowledged, Refused, DeadLettered), the next push attempt
and the lease of the worker sending it. `event_delivery_attempts`: every push attempt, with
its time, latency, HTTP status and error.
"""
from alembic import op
import sqlalchemy as sa

import aspsp.types

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TS = aspsp.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'event_subscriptions',
        sa.Column('id', PK, nullable=False),
        sa.Column('subscription_id', sa.String(length=40), nullable=False),
        sa.Column('client_pk', PK, nullable=False),
        sa.Column('callback_url', sa.String(length=500), nullable=True),
        sa.Column('version', sa.String(length=10), nullable=False),
        sa.Column('event_types', sa.JSON(), nullable=True),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('updated_at', TS, nullable=False),
        sa.ForeignKeyConstraint(['client_pk'], ['oauth_clients.id'],
                                name=op.f('fk_event_subscriptions_client_pk_oauth_clients')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_event_subscriptions')),
        sa.UniqueConstraint('subscription_id',
                            name=op.f('uq_event_subscriptions_subscription_id')),
        sa.UniqueConstraint('client_pk', name=op.f('uq_event_subscriptions_client_pk')),
    )
    op.create_table(
        'event_notifications',
        sa.Column('id', PK, nullable=False),
        sa.Column('jti', sa.String(length=128), nullable=False),
        sa.Column('client_pk', PK, nullable=False),
        sa.Column('event_type', sa.String(length=128), nullable=False),
        sa.Column('claims', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('next_attempt_at', TS, nullable=True),
        sa.Column('lease_until', TS, nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('settled_at', TS, nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['client_pk'], ['oauth_clients.id'],
                                name=op.f('fk_event_notifications_client_pk_oauth_clients')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_event_notifications')),
        sa.UniqueConstraint('jti', name=op.f('uq_event_notifications_jti')),
    )
    op.create_index(op.f('ix_event_notifications_client_pk'), 'event_notifications',
                    ['client_pk'])
    op.create_index(op.f('ix_event_notifications_status'), 'event_notifications', ['status'])
    op.create_index(op.f('ix_event_notifications_next_attempt_at'), 'event_notifications',
                    ['next_attempt_at'])
    op.create_table(
        'event_delivery_attempts',
        sa.Column('id', PK, nullable=False),
        sa.Column('event_pk', PK, nullable=False),
        sa.Column('attempted_at', TS, nullable=False),
        sa.Column('latency_ms', sa.Integer(), nullable=False),
        sa.Column('http_status', sa.Integer(), nullable=True),
        sa.Column('error', sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(['event_pk'], ['event_notifications.id'],
                                name=op.f('fk_event_delivery_attempts_event_pk_'
                                          'event_notifications')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_event_delivery_attempts')),
    )
    op.create_index(op.f('ix_event_delivery_attempts_event_pk'), 'event_delivery_attempts',
                    ['event_pk'])


def downgrade() -> None:
    op.drop_index(op.f('ix_event_delivery_attempts_event_pk'),
                  table_name='event_delivery_attempts')
    op.drop_table('event_delivery_attempts')
    op.drop_index(op.f('ix_event_notifications_next_attempt_at'),
                  table_name='event_notifications')
    op.drop_index(op.f('ix_event_notifications_status'), table_name='event_notifications')
    op.drop_index(op.f('ix_event_notifications_client_pk'), table_name='event_notifications')
    op.drop_table('event_notifications')
    op.drop_table('event_subscriptions')
