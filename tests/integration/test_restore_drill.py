"""The restore drill (deploy/backup/restore_drill.py) as CI runs it: a real PostgreSQL bank (the
sandbox seed, payments booked and pending, consents made through the Open Banking API), dumped,
restored into a fresh database, counted table by table and checked with `flask ledger
reconcile` and `flask audit verify` in subprocesses, as an operator runs it. And the drill
failing on what it exists to catch: a restored ledger that does not balance, a broken dump, a
dump that lost a table's rows, a tampered audit trail."""
from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from aspsp import audit
from aspsp.ledger import services as ledger
from aspsp.ledger.money import Money
from bank import create_app
from sandbox.seed import SeedOptions, seed_bank
from tests.conftest import (PG_SERVER, TEST_ISSUER, create_pg_database, drop_pg_database,
                            service_missing)
from tests.oauth_factories import dpop_headers, dpop_token, make_client

REPOSITORY = Path(__file__).resolve().parents[2]
DRILL = REPOSITORY / "deploy" / "backup" / "restore-drill.sh"
CONSENTS = "/open-banking/v3.1/aisp/account-access-consents"
PG_BIN = "/usr/bin"


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def drill(source: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(DRILL), libpq(source), "--require-audit", *args],
                          capture_output=True, text=True, timeout=600, cwd=REPOSITORY,
                          env=_env())


def _env() -> dict:
    import os
    return dict(os.environ, PYTHON=sys.executable, PG_BIN=PG_BIN)


def _customer_accounts(connection) -> list[tuple[str, int]]:
    return connection.execute(text(
        "SELECT account_id, booked_minor FROM accounts WHERE kind = 'customer' "
        "AND currency = 'GBP' AND status = 'Enabled' ORDER BY booked_minor DESC, id")).all()


def _build_bank(url: str, instance: Path) -> dict:
    """The seeded sandbox bank, two payments and two consents, through the product."""
    app = create_app({"DATABASE_URL": url, "CELERY_ALWAYS_EAGER": True, "SECRET_KEY": "drill",
                      "INSTANCE_PATH": str(instance), "ISSUER": TEST_ISSUER,
                      "REQUEST_LOG_ENABLED": False})
    p = app.extensions["aspsp"]
    try:
        with app.app_context():
            seed_bank(p.db, SeedOptions(customers=2, business=0, months=1), today=date.today())
            with p.db.engine.connect() as connection:
                (payer, _), (payee, _) = _customer_accounts(connection)[:2]
            with p.uow() as uow:
                ledger.transfer(uow, debtor_account_id=payer, creditor_account_id=payee,
                                amount=Money.of("12.34", "GBP"), now=p.clock.now(),
                                reference="drill transfer")
                ledger.pay(uow, debtor_account_id=payer, amount=Money.of("5.00", "GBP"),
                           creditor=ledger.Creditor("Acme Ltd", "UK.OBIE.SortCodeAccountNumber",
                                                    "20000012345678"),
                           now=p.clock.now(), reference="drill payout")
                uow.commit()
            with p.uow() as uow:    # an operator's act in the audit trail, as `flask keys` does
                audit.record(uow, "admin.signing_key_rotated", audit.Actor.operator("drill"),
                             now=p.clock.now(), subject="aspsp", facts={"alg": "PS256"})
                uow.commit()
            with p.uow() as uow:
                tpp = make_client(uow, now=p.clock.now(), name="Drill TPP")
                token = dpop_token(uow, tpp, now=p.clock.now()).access_token
                uow.commit()
            http = app.test_client()
            for _ in range(2):
                made = http.post(CONSENTS, json={"Data": {"Permissions": [
                    "ReadAccountsDetail", "ReadBalances"]}, "Risk": {}},
                    headers=dpop_headers(tpp, token, "POST", TEST_ISSUER + CONSENTS))
                assert made.status_code == 201, made.get_data(as_text=True)
        with p.db.engine.connect() as connection:
            return {"payer": payer, **{table: connection.execute(text(
                f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("postings", "payments", "consents", "posting_day_counts",
                              "audit_records")}}
    finally:
        p.db.engine.dispose()


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    for tool in ("pg_dump", "pg_restore"):
        if not Path(PG_BIN, tool).exists():
            service_missing(f"{PG_BIN}/{tool}", FileNotFoundError(tool))
    try:
        url = create_pg_database("aspsp_drill")
    except Exception as error:        # OperationalError when the server is down
        service_missing("PostgreSQL at 127.0.0.1:5432", error)
    try:
        built = _build_bank(url, tmp_path_factory.mktemp("drill"))
        yield url, built
    finally:
        drop_pg_database(url)


@pytest.fixture
def copy_of_bank(bank):
    """A copy of the bank to damage (CREATE DATABASE ... TEMPLATE), dropped afterwards."""
    source = make_url(bank[0]).database
    name = f"{source}_copy"
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))
    admin.dispose()
    url = f"{PG_SERVER}/{name}"
    yield url
    drop_pg_database(url)


def _drill_databases(source: str) -> set[str]:
    """The restored copies the drill made of `source` that still exist."""
    admin = create_engine(f"{PG_SERVER}/postgres")
    with admin.connect() as connection:
        names = set(connection.execute(text(
            "SELECT datname FROM pg_database WHERE starts_with(datname, :prefix)"),
            {"prefix": f"{make_url(source).database}_drill_"}).scalars())
    admin.dispose()
    return names


def test_the_drill_restores_the_bank_and_finds_it_whole(bank):
    url, built = bank
    assert built["postings"] > 50 and built["payments"] >= 2 and built["consents"] >= 2

    done = drill(url)

    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("ok    row counts:") and "every table equal" in line
               for line in lines), done.stdout
    assert "ok    flask ledger reconcile: ledger reconciled: no problems" in lines
    assert any(line.startswith("ok    flask audit verify") for line in lines), done.stdout
    assert lines[-1] == "restore drill passed"
    assert _drill_databases(url) == set()           # the restored copy was dropped


def test_an_unbalanced_ledger_in_the_restore_fails_the_drill(bank, copy_of_bank):
    engine = create_engine(copy_of_bank)
    with engine.begin() as connection:   # one posting changed behind the ledger's back
        connection.execute(text(
            "UPDATE postings SET amount_minor = amount_minor + 100 WHERE id = "
            "(SELECT max(id) FROM postings)"))
    engine.dispose()

    done = drill(copy_of_bank)

    assert done.returncode == 1, done.stdout
    assert "FAIL  flask ledger reconcile: exit 1" in done.stdout
    assert "ok    row counts:" in done.stdout          # every row was restored: only the sums
    assert done.stdout.splitlines()[-1].startswith("restore drill FAILED")


def test_a_tampered_audit_trail_in_the_restore_fails_the_drill(bank, copy_of_bank):
    assert bank[1]["audit_records"] > 0
    engine = create_engine(copy_of_bank)
    with engine.begin() as connection:   # past the append-only trigger, as the table's owner
        connection.execute(text("ALTER TABLE audit_records DISABLE TRIGGER USER"))
        connection.execute(text(
            "UPDATE audit_records SET actor_id = 'someone-else' WHERE seq = "
            "(SELECT min(seq) FROM audit_records)"))
        connection.execute(text("ALTER TABLE audit_records ENABLE TRIGGER USER"))
    engine.dispose()

    done = drill(copy_of_bank)

    assert done.returncode == 1, done.stdout
    assert "FAIL  flask audit verify: exit 1" in done.stdout
    assert "ok    flask ledger reconcile" in done.stdout


def test_a_broken_dump_fails_the_drill(bank, tmp_path):
    url, _ = bank
    whole = tmp_path / "whole.dump"
    subprocess.run([f"{PG_BIN}/pg_dump", "--format=custom", f"--file={whole}", libpq(url)],
                   check=True)
    broken = tmp_path / "broken.dump"
    broken.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])

    done = drill(url, "--dump", str(broken))

    assert done.returncode == 1, done.stdout
    assert "FAIL  drill: pg_restore failed" in done.stdout


def test_a_dump_that_lost_rows_fails_the_drill_naming_the_table(bank, tmp_path):
    url, built = bank
    partial = tmp_path / "partial.dump"
    subprocess.run([f"{PG_BIN}/pg_dump", "--format=custom",
                    "--exclude-table-data=posting_day_counts", f"--file={partial}",
                    libpq(url)], check=True)

    done = drill(url, "--dump", str(partial))

    assert done.returncode == 1, done.stdout
    assert built["posting_day_counts"] > 0
    assert f"public.posting_day_counts {built['posting_day_counts']} != 0" in done.stdout


def test_the_backup_script_writes_a_dump_the_drill_restores(bank, tmp_path):
    url, _ = bank
    target = tmp_path / "backups"
    made = subprocess.run([str(REPOSITORY / "deploy" / "backup" / "backup.sh"), url,
                           str(target)], capture_output=True, text=True, timeout=300,
                          env=_env())
    assert made.returncode == 0, made.stderr
    dumps = sorted(target.glob("*.dump"))
    assert len(dumps) == 1 and not list(target.glob("*.partial"))
    assert oct(target.stat().st_mode & 0o777) == "0o700"

    done = drill(url, "--dump", str(dumps[0]))

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "restore drill passed"
