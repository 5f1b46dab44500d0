"""audit trail: hash-chained, append-only records, the chain head, auditors

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 09:30:00

The audit trail (aspsp/audit): `audit_records` (one row per audited event, each holding the
previous record's hash), `audit_chain_head` (one row, id 1, seq 0 and the genesis hash at
first; every append locks it FOR UPDATE, so two transactions never fork the chain) and
`audit_auditors` (developer-portal accounts an operator made auditors).

Append-only: on PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE of audit_records; on
SQLite two triggers refuse UPDATE and DELETE. Only the table's owner can get past them
(ALTER TABLE ... DISABLE TRIGGER, or dropping the trigger), and `flask audit verify` then
names the record changed or removed.
"""
from alembic import op
import sqlalchemy as sa
import aspsp.types


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

GENESIS = "0" * 64

PG_REFUSE = """
CREATE FUNCTION audit_records_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_records is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_records_no_update_delete BEFORE UPDATE OR DELETE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION audit_records_append_only();
CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records
    FOR EACH STATEMENT EXECUTE FUNCTION audit_records_append_only();
"""


def upgrade() -> None:
    op.create_table('audit_records',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('occurred_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('actor_type', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=128), nullable=True),
    sa.Column('client_ip', sa.String(length=64), nullable=True),
    sa.Column('interaction_id', sa.String(length=64), nullable=True),
    sa.Column('facts', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_records')),
    sa.UniqueConstraint('hash', name=op.f('uq_audit_records_hash'))
    )
    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_records_event_type'), ['event_type'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_records_occurred_at'), ['occurred_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_records_subject'), ['subject'], unique=False)

    head = op.create_table('audit_chain_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_chain_head'))
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])

    op.create_table('audit_auditors',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('developer_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('granted_by', sa.String(length=254), nullable=False),
    sa.Column('granted_at', aspsp.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['developer_pk'], ['portal_developers.id'], name=op.f('fk_audit_auditors_developer_pk_portal_developers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_auditors')),
    sa.UniqueConstraint('developer_pk', name=op.f('uq_audit_auditors_developer_pk'))
    )

    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_REFUSE)
    else:
        for what in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_records_no_{what.lower()} BEFORE {what} ON "
                       f"audit_records BEGIN SELECT RAISE(ABORT, 'audit_records is "
                       f"append-only: {what} refused'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_records_no_truncate ON audit_records")
        op.execute("DROP TRIGGER audit_records_no_update_delete ON audit_records")
        op.execute("DROP FUNCTION audit_records_append_only()")
    else:
        op.execute("DROP TRIGGER audit_records_no_update")
        op.execute("DROP TRIGGER audit_records_no_delete")
    op.drop_table('audit_auditors')
    op.drop_table('audit_chain_head')
    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_records_subject'))
        batch_op.drop_index(batch_op.f('ix_audit_records_occurred_at'))
        batch_op.drop_index(batch_op.f('ix_audit_records_event_type'))
    op.drop_table('audit_records')
