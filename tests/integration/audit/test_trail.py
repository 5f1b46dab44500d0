"""The audit trail on both engines: a record is written by its unit of work's commit and
gone with its rollback; `flask audit verify` passes on an unbroken chain and names the record
changed, removed or inserted out of order (tampered with by SQL, past the append-only
triggers); the append-only triggers refuse UPDATE and DELETE."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from aspsp import audit
from aspsp.audit import chain, services
from aspsp.audit.models import AuditRecord
from tests.conftest import NOW


def write(platform, n: int, event: str = "test.event") -> None:
    for i in range(n):
        with platform.uow() as uow:
            audit.record(uow, event, audit.Actor.operator("alice"), now=NOW,
                         subject=f"s-{i}", facts={"i": i})
            uow.commit()


def records(platform) -> list[SimpleNamespace]:
    with platform.uow() as uow:
        return [SimpleNamespace(**services.as_fields(row)) for row in
                uow.session.query(AuditRecord).order_by(AuditRecord.seq)]


def test_a_committed_change_has_its_record_and_a_rolled_back_one_none(platform):
    with platform.uow() as uow:
        audit.record(uow, "test.rolled_back", audit.Actor.operator("alice"), now=NOW)
        uow.rollback()
        uow.commit()          # nothing pending any more: nothing written
    with platform.uow() as uow:
        audit.record(uow, "test.abandoned", audit.Actor.operator("alice"), now=NOW)
    with pytest.raises(RuntimeError):   # a failed unit of work leaves without commit
        with platform.uow() as uow:
            audit.record(uow, "test.failed", audit.Actor.operator("alice"), now=NOW)
            raise RuntimeError("the change failed")
    write(platform, 1, "test.committed")
    found = records(platform)
    assert [r.event_type for r in found] == ["test.committed"]
    assert (found[0].actor_type, found[0].actor_id, found[0].seq) == ("operator", "alice", 1)
    assert found[0].prev_hash == chain.GENESIS


def test_two_records_of_one_transaction_chain_in_order(platform):
    with platform.uow() as uow:
        audit.record(uow, "test.first", audit.Actor.system("worker"), now=NOW)
        audit.record(uow, "test.second", audit.Actor.system("worker"), now=NOW)
        uow.commit()
    first, second = records(platform)
    assert (first.event_type, second.event_type) == ("test.first", "test.second")
    assert second.prev_hash == first.hash


def test_secrets_are_refused_as_facts(platform):
    with platform.uow() as uow:
        for facts in ({"access_token": "x"}, {"password": "x"}, {"otp": "1"},
                      {"outer": {"client_secret": "x"}}, {"identification": "12345678"}):
            with pytest.raises(services.SecretInFacts):
                audit.record(uow, "test.secret", audit.Actor.operator("a"), now=NOW,
                             facts=facts)
    assert audit.masked("GB29NWBK60161331926819") == "…6819"


def run_verify(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def test_verify_passes_on_an_unbroken_chain(app, platform):
    write(platform, 3)
    result = run_verify(app)
    assert result.exit_code == 0, result.output + result.stderr
    assert "verified: 3 records" in result.output


def test_verify_passes_on_an_empty_trail(app):
    result = run_verify(app)
    assert result.exit_code == 0 and "verified: 0 records" in result.output


def tamper(platform, sql: str, **params) -> None:
    """Change the table past its append-only triggers, as someone with the owner's rights
    could (inside the test's rolled-back transaction)."""
    with platform.uow() as uow:
        if platform.db.is_postgresql:
            uow.session.execute(text("ALTER TABLE audit_records DISABLE TRIGGER USER"))
            uow.session.execute(text(sql), params)
            uow.session.execute(text("ALTER TABLE audit_records ENABLE TRIGGER USER"))
        else:
            uow.session.execute(text("DROP TRIGGER IF EXISTS audit_records_no_update"))
            uow.session.execute(text("DROP TRIGGER IF EXISTS audit_records_no_delete"))
            uow.session.execute(text(sql), params)
        uow.commit()


def test_verify_names_a_changed_record(app, platform):
    write(platform, 4)
    tamper(platform, "UPDATE audit_records SET facts = :facts WHERE seq = 2",
           facts=json.dumps({"i": 99}))
    result = run_verify(app)
    assert result.exit_code == 1
    assert "BROKEN at record 2" in result.stderr and "changed" in result.stderr


def test_verify_names_a_changed_actor(app, platform):
    write(platform, 4)
    tamper(platform, "UPDATE audit_records SET actor_id = 'mallory' WHERE seq = 3")
    result = run_verify(app)
    assert result.exit_code == 1 and "BROKEN at record 3" in result.stderr


def test_verify_names_a_removed_record(app, platform):
    write(platform, 4)
    tamper(platform, "DELETE FROM audit_records WHERE seq = 2")
    result = run_verify(app)
    assert result.exit_code == 1
    assert "BROKEN at record 2: is missing" in result.stderr


def test_verify_names_a_removed_last_record(app, platform):
    write(platform, 4)
    tamper(platform, "DELETE FROM audit_records WHERE seq = 4")
    result = run_verify(app)
    assert result.exit_code == 1 and "BROKEN at record 4: is missing" in result.stderr


def test_verify_names_records_swapped_out_of_order(app, platform):
    write(platform, 4)
    tamper(platform, "UPDATE audit_records SET seq = seq + 100 WHERE seq IN (2, 3)")
    tamper(platform, "UPDATE audit_records SET seq = 5 - (seq - 100) WHERE seq > 100")
    result = run_verify(app)
    assert result.exit_code == 1 and "BROKEN at record 2" in result.stderr


def test_verify_names_a_record_inserted_out_of_order(app, platform):
    write(platform, 3)
    # Make room at 2 and insert a record whose own hash is right but which does not link.
    tamper(platform, "UPDATE audit_records SET seq = seq + 100 WHERE seq >= 2")
    tamper(platform, "UPDATE audit_records SET seq = seq - 99 WHERE seq > 100")
    forged = {"seq": 2, "occurred_at": NOW.isoformat(timespec="microseconds"),
              "event_type": "test.event", "actor_type": "operator", "actor_id": "mallory",
              "subject": None, "client_ip": None, "interaction_id": None, "facts": {}}
    digest = chain.record_hash(forged, "a" * 64)
    with platform.uow() as uow:
        uow.session.add(AuditRecord(seq=2, occurred_at=NOW, event_type="test.event",
                                    actor_type="operator", actor_id="mallory",
                                    facts="{}", prev_hash="a" * 64, hash=digest))
        uow.commit()
    result = run_verify(app)
    assert result.exit_code == 1
    assert "BROKEN at record 2: does not link" in result.stderr


def test_the_table_refuses_update_and_delete(platform):
    write(platform, 1)
    for sql in ("UPDATE audit_records SET actor_id = 'mallory'", "DELETE FROM audit_records"):
        with platform.uow() as uow:
            with pytest.raises(DatabaseError, match="append-only"):
                uow.session.execute(text(sql))
    assert records(platform)[0].actor_id == "alice"


def test_one_unit_of_work_committing_twice_around_another_keeps_one_chain(platform):
    """A session that committed once (expire_on_commit is off) must not append after the
    head it saw then: another unit of work appended meanwhile."""
    with platform.uow() as uow:
        audit.record(uow, "test.first", audit.Actor.system("a"), now=NOW)
        uow.commit()
        write(platform, 1, "test.between")
        audit.record(uow, "test.second", audit.Actor.system("a"), now=NOW)
        uow.commit()
    assert [r.event_type for r in records(platform)] == ["test.first", "test.between",
                                                         "test.second"]
    with platform.uow() as uow:
        assert services.verify(uow).ok
