"""The same seed gives the same bank, id for id, in any fresh database of either engine and
after a reset; another seed gives another bank."""
from __future__ import annotations

import pytest
from sqlalchemy import MetaData, insert, select

from aspsp.identity.models import PsuUser
from aspsp.ledger import models
from tests.conftest import NOW

from .seeding import SMALL, fingerprint, fresh_database, seed, seeded_app


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """The bank that seed 11 makes in a fresh SQLite database."""
    prints = seeded_fingerprint("sqlite", tmp_path_factory.mktemp("reference"), "--seed", "11")
    assert all(prints.values()), [name for name, rows in prints.items() if not rows]
    return prints


def seeded_fingerprint(engine: str, tmp_path, *args: str) -> dict:
    with fresh_database(engine, tmp_path) as url, seeded_app(url, tmp_path) as app:
        result = seed(app, *SMALL, *args)
        assert result.exit_code == 0, result.output
        return fingerprint(app)


def assert_same_bank(expected: dict, actual: dict) -> None:
    for table in expected:
        assert actual[table] == expected[table], table


def add_tpp_and_consents(app) -> None:
    """A TPP's registration, a consent that alice authorised (for her first account), and
    one that no PSU has authorised yet."""
    with app.extensions["aspsp"].uow() as uow:
        tables = MetaData()
        tables.reflect(bind=uow.session.connection(),
                       only=["oauth_clients", "consents", "consent_accounts"])
        clients, consents, consent_accounts = (tables.tables[name] for name in
                                               ("oauth_clients", "consents", "consent_accounts"))
        alice = uow.session.scalars(select(PsuUser).where(PsuUser.username == "alice")).one()
        account = uow.session.scalar(select(models.AccountParty.account_pk)
                                     .where(models.AccountParty.party_pk == alice.party_pk))
        client_pk = uow.session.execute(insert(clients).values(
            client_id="tpp-1", software_id="sw-1", org_id="org-1", client_name="Test TPP",
            profile="fapi2", roles=["AISP"], client_metadata={}, software_statement="ssa",
            created_at=NOW, updated_at=NOW)).inserted_primary_key[0]
        common = dict(consent_type="account-access", client_pk=client_pk, status_updated_at=NOW,
                      created_at=NOW, permissions=["ReadAccountsBasic"], data={},
                      api_version="3.1.11")
        authorised = uow.session.execute(insert(consents).values(
            consent_id="c-authorised", psu_pk=alice.id, status="Authorised",
            **common)).inserted_primary_key[0]
        uow.session.execute(insert(consents).values(consent_id="c-waiting", psu_pk=None,
                                                    status="AwaitingAuthorisation", **common))
        uow.session.execute(insert(consent_accounts).values(consent_pk=authorised,
                                                            account_pk=account))
        uow.commit()


def tpp_rows(app) -> tuple[list, list]:
    with app.extensions["aspsp"].uow() as uow:
        connection = uow.session.connection()
        return (connection.exec_driver_sql("SELECT client_id FROM oauth_clients").all(),
                connection.exec_driver_sql("SELECT consent_id FROM consents").all())


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_the_same_seed_gives_the_same_bank_fresh_and_after_a_reset(engine, reference, tmp_path):
    with fresh_database(engine, tmp_path) as url, seeded_app(url, tmp_path) as app:
        assert seed(app, *SMALL, "--seed", "11").exit_code == 0
        assert_same_bank(reference, fingerprint(app))
        add_tpp_and_consents(app)
        result = seed(app, *SMALL, "--seed", "11", "--reset")
        assert result.exit_code == 0, result.output
        assert result.output.startswith("reset: deleted ")
        assert_same_bank(reference, fingerprint(app))
        # the reset took alice's consent with her, and left the TPP and the unbound consent
        assert tpp_rows(app) == ([("tpp-1",)], [("c-waiting",)])


def test_a_different_seed_gives_a_different_bank(reference, tmp_path):
    other = seeded_fingerprint("sqlite", tmp_path, "--seed", "12")
    def ids(prints):
        return {row[0] for row in prints["accounts"] if row[1] == "customer"}

    def amounts(prints):
        return sorted(row[4] for row in prints["postings"])

    def names(prints):
        return {row[1] for row in prints["parties"]}

    assert ids(reference).isdisjoint(ids(other))
    assert amounts(reference) != amounts(other)
    assert names(reference) != names(other)
