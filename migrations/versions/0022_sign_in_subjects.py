"""sign-in: authorizations with no consent, and their pairwise subjects

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 20:30:00

An OpenID Connect authentication with no intent (scope `openid`, no openbanking_intent_id: a
"sign-in", what the OpenID FAPI conformance suite's plain_fapi plans send) has no consent:
`consent_pk` of oauth_pending_authorizations and oauth_codes becomes nullable. The `sub`
such an authentication gives a client is pairwise and random, one per (sector, customer):
`oidc_subjects`.
"""
from alembic import op
import sqlalchemy as sa
import aspsp.types


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('oidc_subjects',
    sa.Column('id', BIG, nullable=False),
    sa.Column('sector', sa.String(length=160), nullable=False),
    sa.Column('psu_pk', BIG, nullable=False),
    sa.Column('sub', sa.String(length=64), nullable=False),
    sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['psu_pk'], ['psu_users.id'], name=op.f('fk_oidc_subjects_psu_pk_psu_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oidc_subjects')),
    sa.UniqueConstraint('sector', 'psu_pk', name='uq_oidc_subjects_sector_psu'),
    sa.UniqueConstraint('sub', name=op.f('uq_oidc_subjects_sub'))
    )
    for table in ('oauth_codes', 'oauth_pending_authorizations'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('consent_pk', existing_type=BIG, nullable=True)


def downgrade() -> None:
    # A sign-in's rows have no consent to keep them: they go (codes live 60 s, pending
    # authorizations minutes; tokens keep their nullable consent_pk).
    op.execute("UPDATE oauth_par_requests SET pending_pk = NULL WHERE pending_pk IN "
               "(SELECT id FROM oauth_pending_authorizations WHERE consent_pk IS NULL)")
    op.execute("UPDATE oauth_tokens SET code_pk = NULL WHERE code_pk IN "
               "(SELECT id FROM oauth_codes WHERE consent_pk IS NULL)")
    op.execute("DELETE FROM oauth_codes WHERE consent_pk IS NULL")
    op.execute("DELETE FROM oauth_pending_authorizations WHERE consent_pk IS NULL")
    for table in ('oauth_pending_authorizations', 'oauth_codes'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('consent_pk', existing_type=BIG, nullable=False)
    op.drop_table('oidc_subjects')
