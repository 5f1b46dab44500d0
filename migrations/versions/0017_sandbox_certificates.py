"""sandbox transport certificates: the sandbox CA and the client certificates it issued

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 06:45:00

The sandbox's transport CA (sandbox/certificates.py): one row holding its private key (PEM,
sealed with the key-encryption key) and its self-signed certificate, made on first use; and
every MTLS client certificate it issued for a developer portal app (the certificate only: its
private key went to the developer once and was never stored).
"""
from alembic import op
import sqlalchemy as sa

import aspsp.types

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'sandbox_certificate_authority',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('private_key', sa.Text(), nullable=False),
        sa.Column('certificate', sa.Text(), nullable=False),
        sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_certificate_authority')),
    )
    op.create_table(
        'sandbox_certificates',
        sa.Column('id', PK, nullable=False),
        sa.Column('serial', sa.String(length=64), nullable=False),
        sa.Column('app_pk', PK, nullable=False),
        sa.Column('subject_dn', sa.String(length=512), nullable=False),
        sa.Column('key_type', sa.String(length=16), nullable=False),
        sa.Column('not_before', aspsp.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('not_after', aspsp.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('certificate', sa.Text(), nullable=False),
        sa.Column('created_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['app_pk'], ['portal_apps.id'],
                                name=op.f('fk_sandbox_certificates_app_pk_portal_apps')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_certificates')),
        sa.UniqueConstraint('serial', name=op.f('uq_sandbox_certificates_serial')),
    )
    with op.batch_alter_table('sandbox_certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_certificates_app_pk'), ['app_pk'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sandbox_certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_certificates_app_pk'))
    op.drop_table('sandbox_certificates')
    op.drop_table('sandbox_certificate_authority')
