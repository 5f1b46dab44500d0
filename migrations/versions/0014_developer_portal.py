"""developer portal: developers, their backup codes, TPP organisations and memberships, apps

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 06:10:34

The developer portal's own records (developer_portal/models.py): a developer's login (argon2id
password hash, sealed TOTP secret, lockout), the hashes of their single-use backup codes, the
organisations they belong to (with a role each), those organisations' apps (software
statements: redirect URIs, roles, public keys, the client id once registered), and the mail
the portal sends (the sandbox shows it as an outbox).
"""
from alembic import op
import sqlalchemy as sa
import aspsp.types


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('portal_developers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('developer_id', sa.String(length=40), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=140), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('email_verified_at', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('totp_secret', sa.String(length=256), nullable=True),
    sa.Column('totp_enabled_at', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_developers')),
    sa.UniqueConstraint('developer_id', name=op.f('uq_portal_developers_developer_id')),
    sa.UniqueConstraint('email', name=op.f('uq_portal_developers_email'))
    )
    op.create_table('portal_organisations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('org_id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=140), nullable=False),
    sa.Column('competent_authority', sa.String(length=64), nullable=False),
    sa.Column('authorisation_id', sa.String(length=64), nullable=False),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_organisations')),
    sa.UniqueConstraint('org_id', name=op.f('uq_portal_organisations_org_id'))
    )
    op.create_table('portal_outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('to_address', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.String(length=8000), nullable=False),
    sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_outbox'))
    )
    with op.batch_alter_table('portal_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_outbox_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_portal_outbox_to_address'), ['to_address'], unique=False)

    op.create_table('portal_apps',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('app_id', sa.String(length=40), nullable=False),
    sa.Column('org_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=140), nullable=False),
    sa.Column('logo_uri', sa.String(length=512), nullable=True),
    sa.Column('redirect_uris', sa.JSON(), nullable=False),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('token_endpoint_auth_method', sa.String(length=32), nullable=False),
    sa.Column('profile', sa.String(length=16), nullable=False),
    sa.Column('jwks', sa.JSON(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_pk'], ['portal_organisations.id'], name=op.f('fk_portal_apps_org_pk_portal_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_apps')),
    sa.UniqueConstraint('app_id', name=op.f('uq_portal_apps_app_id'))
    )
    with op.batch_alter_table('portal_apps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_apps_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_portal_apps_org_pk'), ['org_pk'], unique=False)

    op.create_table('portal_backup_codes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('developer_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code_hash', sa.String(length=256), nullable=False),
    sa.Column('used_at', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['developer_pk'], ['portal_developers.id'], name=op.f('fk_portal_backup_codes_developer_pk_portal_developers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_backup_codes'))
    )
    with op.batch_alter_table('portal_backup_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_backup_codes_developer_pk'), ['developer_pk'], unique=False)

    op.create_table('portal_memberships',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('org_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('developer_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['developer_pk'], ['portal_developers.id'], name=op.f('fk_portal_memberships_developer_pk_portal_developers')),
    sa.ForeignKeyConstraint(['org_pk'], ['portal_organisations.id'], name=op.f('fk_portal_memberships_org_pk_portal_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_memberships')),
    sa.UniqueConstraint('org_pk', 'developer_pk', name=op.f('uq_portal_memberships_org_pk'))
    )
    with op.batch_alter_table('portal_memberships', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_memberships_developer_pk'), ['developer_pk'], unique=False)
        batch_op.create_index(batch_op.f('ix_portal_memberships_org_pk'), ['org_pk'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('portal_memberships', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_memberships_org_pk'))
        batch_op.drop_index(batch_op.f('ix_portal_memberships_developer_pk'))

    op.drop_table('portal_memberships')
    with op.batch_alter_table('portal_backup_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_backup_codes_developer_pk'))

    op.drop_table('portal_backup_codes')
    with op.batch_alter_table('portal_apps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_apps_org_pk'))
        batch_op.drop_index(batch_op.f('ix_portal_apps_client_id'))

    op.drop_table('portal_apps')
    with op.batch_alter_table('portal_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_outbox_to_address'))
        batch_op.drop_index(batch_op.f('ix_portal_outbox_created_at'))

    op.drop_table('portal_outbox')
    op.drop_table('portal_organisations')
    op.drop_table('portal_developers')
