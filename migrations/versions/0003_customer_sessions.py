"""customer sessions, login throttles, request_uri bound to its journey and browser

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 21:20:00
"""
from alembic import op
import sqlalchemy as sa
import aspsp.types


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('psu_web_sessions',
    sa.Column('id', PK, nullable=False),
    sa.Column('id_hash', sa.String(length=64), nullable=False),
    sa.Column('browser_key', sa.String(length=64), nullable=False),
    sa.Column('psu_pk', PK, nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['psu_pk'], ['psu_users.id'], name=op.f('fk_psu_web_sessions_psu_pk_psu_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_psu_web_sessions')),
    sa.UniqueConstraint('id_hash', name=op.f('uq_psu_web_sessions_id_hash'))
    )
    with op.batch_alter_table('psu_web_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_psu_web_sessions_last_seen_at'), ['last_seen_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_psu_web_sessions_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_psu_web_sessions_psu_pk'), ['psu_pk'], unique=False)

    op.create_table('psu_login_throttles',
    sa.Column('id', PK, nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('locks', sa.Integer(), nullable=False),
    sa.Column('locked_until', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_psu_login_throttles')),
    sa.UniqueConstraint('username', 'source', name=op.f('uq_psu_login_throttles_username'))
    )
    with op.batch_alter_table('psu_login_throttles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_psu_login_throttles_updated_at'), ['updated_at'], unique=False)

    with op.batch_alter_table('oauth_par_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending_pk', PK, nullable=True))
        batch_op.add_column(sa.Column('browser_hash', sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_oauth_par_requests_pending_pk_oauth_pending_authorizations'),
            'oauth_pending_authorizations', ['pending_pk'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('oauth_par_requests', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_oauth_par_requests_pending_pk_oauth_pending_authorizations'),
            type_='foreignkey')
        batch_op.drop_column('browser_hash')
        batch_op.drop_column('pending_pk')
    with op.batch_alter_table('psu_login_throttles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_psu_login_throttles_updated_at'))
    op.drop_table('psu_login_throttles')
    with op.batch_alter_table('psu_web_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_psu_web_sessions_psu_pk'))
        batch_op.drop_index(batch_op.f('ix_psu_web_sessions_created_at'))
        batch_op.drop_index(batch_op.f('ix_psu_web_sessions_last_seen_at'))
    op.drop_table('psu_web_sessions')
