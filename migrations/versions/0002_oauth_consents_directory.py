"""oauth, consents, directory, login events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 02:05:42.679881
"""
from alembic import op
import sqlalchemy as sa
import aspsp.types


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('directory_organisations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('org_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('competent_authority', sa.String(length=64), nullable=False),
    sa.Column('authorisation_id', sa.String(length=64), nullable=False),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('jwks', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_organisations')),
    sa.UniqueConstraint('org_id', name=op.f('uq_directory_organisations_org_id'))
    )
    op.create_table('oauth_clients',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('software_id', sa.String(length=64), nullable=False),
    sa.Column('org_id', sa.String(length=64), nullable=False),
    sa.Column('client_name', sa.String(length=256), nullable=False),
    sa.Column('profile', sa.String(length=16), nullable=False),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('client_metadata', sa.JSON(), nullable=False),
    sa.Column('software_statement', sa.Text(), nullable=False),
    sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_clients')),
    sa.UniqueConstraint('client_id', name=op.f('uq_oauth_clients_client_id'))
    )
    with op.batch_alter_table('oauth_clients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_clients_software_id'), ['software_id'], unique=False)

    op.create_table('signing_keys',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('owner', sa.String(length=16), nullable=False),
    sa.Column('alg', sa.String(length=8), nullable=False),
    sa.Column('private_jwk', sa.Text(), nullable=False),
    sa.Column('public_jwk', sa.JSON(), nullable=False),
    sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('active_from', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('retired_at', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('publish_until', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signing_keys')),
    sa.UniqueConstraint('kid', name=op.f('uq_signing_keys_kid'))
    )
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signing_keys_owner'), ['owner'], unique=False)

    op.create_table('directory_software_statements',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('software_id', sa.String(length=64), nullable=False),
    sa.Column('org_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('client_name', sa.String(length=256), nullable=False),
    sa.Column('client_description', sa.String(length=1024), nullable=True),
    sa.Column('client_uri', sa.String(length=512), nullable=True),
    sa.Column('redirect_uris', sa.JSON(), nullable=False),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('jwks', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_pk'], ['directory_organisations.id'], name=op.f('fk_directory_software_statements_org_pk_directory_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_software_statements')),
    sa.UniqueConstraint('software_id', name=op.f('uq_directory_software_statements_software_id'))
    )
    with op.batch_alter_table('directory_software_statements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_directory_software_statements_org_pk'), ['org_pk'], unique=False)

    op.create_table('oauth_par_requests',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('request_uri', sa.String(length=128), nullable=False),
    sa.Column('client_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['client_pk'], ['oauth_clients.id'], name=op.f('fk_oauth_par_requests_client_pk_oauth_clients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_par_requests')),
    sa.UniqueConstraint('request_uri', name=op.f('uq_oauth_par_requests_request_uri'))
    )
    op.create_table('consents',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('consent_id', sa.String(length=128), nullable=False),
    sa.Column('consent_type', sa.String(length=40), nullable=False),
    sa.Column('client_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('psu_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('status_updated_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('authorised_at', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('expiration_datetime', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('transaction_from_datetime', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('transaction_to_datetime', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('permissions', sa.JSON(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('api_version', sa.String(length=8), nullable=False),
    sa.ForeignKeyConstraint(['client_pk'], ['oauth_clients.id'], name=op.f('fk_consents_client_pk_oauth_clients')),
    sa.ForeignKeyConstraint(['psu_pk'], ['psu_users.id'], name=op.f('fk_consents_psu_pk_psu_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consents')),
    sa.UniqueConstraint('consent_id', name=op.f('uq_consents_consent_id'))
    )
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consents_client_pk'), ['client_pk'], unique=False)
        batch_op.create_index(batch_op.f('ix_consents_psu_pk'), ['psu_pk'], unique=False)

    op.create_table('psu_login_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('psu_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('step', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('ip_address', sa.String(length=64), nullable=True),
    sa.Column('at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['psu_pk'], ['psu_users.id'], name=op.f('fk_psu_login_events_psu_pk_psu_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_psu_login_events'))
    )
    with op.batch_alter_table('psu_login_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_psu_login_events_psu_pk'), ['psu_pk'], unique=False)

    op.create_table('consent_accounts',
    sa.Column('consent_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['account_pk'], ['accounts.id'], name=op.f('fk_consent_accounts_account_pk_accounts')),
    sa.ForeignKeyConstraint(['consent_pk'], ['consents.id'], name=op.f('fk_consent_accounts_consent_pk_consents')),
    sa.PrimaryKeyConstraint('consent_pk', 'account_pk', name=op.f('pk_consent_accounts'))
    )
    with op.batch_alter_table('consent_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_accounts_account_pk'), ['account_pk'], unique=False)

    op.create_table('consent_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('consent_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('from_status', sa.String(length=32), nullable=True),
    sa.Column('to_status', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.String(length=128), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['consent_pk'], ['consents.id'], name=op.f('fk_consent_events_consent_pk_consents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_events'))
    )
    with op.batch_alter_table('consent_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_events_consent_pk'), ['consent_pk'], unique=False)

    op.create_table('oauth_codes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('client_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('consent_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('psu_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('redirect_uri', sa.String(length=512), nullable=False),
    sa.Column('scope', sa.String(length=256), nullable=False),
    sa.Column('nonce', sa.String(length=256), nullable=True),
    sa.Column('code_challenge', sa.String(length=128), nullable=True),
    sa.Column('code_challenge_method', sa.String(length=8), nullable=True),
    sa.Column('dpop_jkt', sa.String(length=64), nullable=True),
    sa.Column('auth_time', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('acr', sa.String(length=64), nullable=False),
    sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['client_pk'], ['oauth_clients.id'], name=op.f('fk_oauth_codes_client_pk_oauth_clients')),
    sa.ForeignKeyConstraint(['consent_pk'], ['consents.id'], name=op.f('fk_oauth_codes_consent_pk_consents')),
    sa.ForeignKeyConstraint(['psu_pk'], ['psu_users.id'], name=op.f('fk_oauth_codes_psu_pk_psu_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_codes')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_oauth_codes_code_hash'))
    )
    op.create_table('oauth_pending_authorizations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('client_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('consent_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('psu_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('authenticated_at', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sca_at', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['client_pk'], ['oauth_clients.id'], name=op.f('fk_oauth_pending_authorizations_client_pk_oauth_clients')),
    sa.ForeignKeyConstraint(['consent_pk'], ['consents.id'], name=op.f('fk_oauth_pending_authorizations_consent_pk_consents')),
    sa.ForeignKeyConstraint(['psu_pk'], ['psu_users.id'], name=op.f('fk_oauth_pending_authorizations_psu_pk_psu_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_pending_authorizations')),
    sa.UniqueConstraint('reference', name=op.f('uq_oauth_pending_authorizations_reference'))
    )
    op.create_table('oauth_tokens',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('access_token_hash', sa.String(length=64), nullable=False),
    sa.Column('refresh_token_hash', sa.String(length=64), nullable=True),
    sa.Column('client_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('consent_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('psu_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('code_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('grant_type', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=256), nullable=False),
    sa.Column('token_type', sa.String(length=16), nullable=False),
    sa.Column('cnf_jkt', sa.String(length=64), nullable=True),
    sa.Column('cnf_x5t', sa.String(length=64), nullable=True),
    sa.Column('issued_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('refresh_expires_at', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', aspsp.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['client_pk'], ['oauth_clients.id'], name=op.f('fk_oauth_tokens_client_pk_oauth_clients')),
    sa.ForeignKeyConstraint(['code_pk'], ['oauth_codes.id'], name=op.f('fk_oauth_tokens_code_pk_oauth_codes')),
    sa.ForeignKeyConstraint(['consent_pk'], ['consents.id'], name=op.f('fk_oauth_tokens_consent_pk_consents')),
    sa.ForeignKeyConstraint(['psu_pk'], ['psu_users.id'], name=op.f('fk_oauth_tokens_psu_pk_psu_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_tokens')),
    sa.UniqueConstraint('access_token_hash', name=op.f('uq_oauth_tokens_access_token_hash')),
    sa.UniqueConstraint('refresh_token_hash', name=op.f('uq_oauth_tokens_refresh_token_hash'))
    )
    with op.batch_alter_table('oauth_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_tokens_client_pk'), ['client_pk'], unique=False)
        batch_op.create_index(batch_op.f('ix_oauth_tokens_code_pk'), ['code_pk'], unique=False)
        batch_op.create_index(batch_op.f('ix_oauth_tokens_consent_pk'), ['consent_pk'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('oauth_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_tokens_consent_pk'))
        batch_op.drop_index(batch_op.f('ix_oauth_tokens_code_pk'))
        batch_op.drop_index(batch_op.f('ix_oauth_tokens_client_pk'))

    op.drop_table('oauth_tokens')
    op.drop_table('oauth_pending_authorizations')
    op.drop_table('oauth_codes')
    with op.batch_alter_table('consent_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_events_consent_pk'))

    op.drop_table('consent_events')
    with op.batch_alter_table('consent_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_accounts_account_pk'))

    op.drop_table('consent_accounts')
    with op.batch_alter_table('psu_login_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_psu_login_events_psu_pk'))

    op.drop_table('psu_login_events')
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consents_psu_pk'))
        batch_op.drop_index(batch_op.f('ix_consents_client_pk'))

    op.drop_table('consents')
    op.drop_table('oauth_par_requests')
    with op.batch_alter_table('directory_software_statements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_directory_software_statements_org_pk'))

    op.drop_table('directory_software_statements')
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signing_keys_owner'))

    op.drop_table('signing_keys')
    with op.batch_alter_table('oauth_clients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_clients_software_id'))

    op.drop_table('oauth_clients')
    op.drop_table('directory_organisations')
