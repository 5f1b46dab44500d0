"""Isolation under concurrency, on PostgreSQL: sixteen consents of eight customers, given to
four TPPs, read in parallel through a real HTTP server (threads, committed data). No response
may carry an id of anything outside its own consent: no other customer's accounts,
transactions, payees, statements or parties, and no other account of the same customer that
the consent does not cover."""
from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from aspsp.identity.models import PsuUser
from aspsp.ids import new_id
from aspsp.ledger import models, services
from aspsp.ledger.domain import transfer_lines
from aspsp.ledger.statements import create_statement
from bank import create_app
from consent import services as consents
from consent.models import Consent
from tests import factories
from tests.conftest import create_pg_database, drop_pg_database, service_missing
from tests.integration.ais.conftest import EVERYTHING
from tests.oauth_factories import dpop_proof, dpop_token, make_client

AISP = "/open-banking/v3.1/aisp"
ID_KEYS = {"AccountId", "TransactionId", "BeneficiaryId", "StatementId", "PartyId", "Id"}
CUSTOMERS, TPPS, ROUNDS = 8, 4, 3


@dataclass
class Grant:
    tpp: object
    token: str
    consent_id: str
    account_ids: list[str]
    allowed: set[str] = field(default_factory=set)       # every id its responses may carry


@pytest.fixture(scope="module")
def bank():
    try:
        url = create_pg_database("aspsp_ais_iso")
    except Exception as error:
        service_missing("PostgreSQL at 127.0.0.1:5432", error)
    app = create_app({"DATABASE_URL": url, "CELERY_ALWAYS_EAGER": True, "LOG_LEVEL": "WARNING",
                      "SECRET_KEY": "test-secret", "INSTANCE_PATH": "/tmp/aspsp-ais-isolation",
                      "AIS_PAGE_SIZE": 25})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    app.config["ISSUER"] = app.extensions["aspsp"].config["ISSUER"] = base
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, base, _build(app)
    finally:
        server.shutdown()
        app.extensions["aspsp"].db.engine.dispose()
        drop_pg_database(url)


def _build(app) -> list[Grant]:
    """Eight customers with two accounts each (history, a payee, a statement); each customer
    gives one TPP a consent over the first account and another TPP one over both."""
    p = app.extensions["aspsp"]
    now = datetime.now(timezone.utc).replace(microsecond=0)
    rng = random.Random(7)
    grants = []
    with p.uow() as uow:
        tpps = [make_client(uow, now=now, roles=("AISP",), name=f"TPP {n}")
                for n in range(TPPS)]
        capital = None
        for n in range(CUSTOMERS):
            party = factories.party(uow, f"Customer {n}", now=now)
            uow.session.flush()
            psu = PsuUser(psu_id=new_id(), username=f"iso-{n}-{new_id()[:8]}",
                          password_hash="x", totp_secret="JBSWY3DPEHPK3PXP", party_pk=party.id,
                          failed_attempts=0, created_at=now)
            uow.session.add(psu)
            accounts = [factories.account(uow, now=now - timedelta(days=60), owner=party,
                                          funded="5000.00") for _ in range(2)]
            capital = capital or services.internal_account_id(uow, services.BANK_CAPITAL, "GBP")
            for account in accounts:
                for day in range(40):
                    when = now - timedelta(days=59 - day, hours=rng.randint(0, 9))
                    services.post_entry(uow, transfer_lines(
                        account.account_id, capital,
                        services.from_minor(rng.randint(100, 5000), "GBP"),
                        {"transaction_information": f"SHOP {n}"}), kind="test", now=when)
                uow.session.add(models.Beneficiary(
                    beneficiary_id=new_id(), account_pk=account.id, beneficiary_type="Ordinary",
                    creditor_name=f"Payee of {n}", creditor_scheme="UK.OBIE.SortCodeAccountNumber",
                    creditor_identification="20000012345678", created_at=now))
                start = (now - timedelta(days=60)).replace(hour=0, minute=0, second=0)
                create_statement(uow, account, start, start + timedelta(days=30), now=now)
            uow.session.flush()
            for k, chosen in enumerate((accounts[:1], accounts)):
                tpp = tpps[(n + k) % TPPS]
                record = consents.create_account_access_consent(
                    uow, tpp.row, consents.AccountAccessRequest(permissions=EVERYTHING), now)
                consent = uow.session.scalars(select(Consent).where(
                    Consent.consent_id == record.consent_id)).one()
                consents.authorise(uow, consent, psu, [a.id for a in chosen], now)
                token = dpop_token(uow, tpp, now=now, grant_type="authorization_code",
                                   consent_pk=consent.id, psu_pk=psu.id, ttl=3600)
                grants.append(Grant(tpp, token.access_token, record.consent_id,
                                    [a.account_id for a in chosen]))
        uow.session.flush()
        for grant in grants:
            grant.allowed = _ids_of(uow, grant.account_ids)
        uow.commit()
    return grants


def _ids_of(uow, account_ids: list[str]) -> set[str]:
    a = models.Account
    pks = list(uow.session.scalars(select(a.id).where(a.account_id.in_(account_ids))))
    ids = set(account_ids)
    for model, column in ((models.Posting, models.Posting.transaction_id),
                          (models.Beneficiary, models.Beneficiary.beneficiary_id),
                          (models.Statement, models.Statement.statement_id)):
        ids |= set(uow.session.scalars(select(column).where(model.account_pk.in_(pks))))
    ids |= set(uow.session.scalars(select(models.Party.party_id).join(
        models.AccountParty, models.AccountParty.party_pk == models.Party.id)
        .where(models.AccountParty.account_pk.in_(pks))))
    return ids


def _found_ids(node) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k in ID_KEYS and isinstance(v, str)] + \
            [i for v in node.values() for i in _found_ids(v)]
    if isinstance(node, list):
        return [i for v in node for i in _found_ids(v)]
    return []


def _get(session: requests.Session, base: str, grant: Grant, url: str) -> requests.Response:
    url = url if url.startswith("http") else base + AISP + url
    return session.get(url, headers={
        "Authorization": f"DPoP {grant.token}",
        "DPoP": dpop_proof(grant.tpp.dpop_key, "GET", url.split("?")[0],
                           access_token=grant.token),
        "x-fapi-customer-ip-address": "198.51.100.7"}, timeout=60)


def _read_everything(base: str, grant: Grant, others: list[str]) -> list[str]:
    """Every resource of the consent, every page; the problems found."""
    problems = []
    session = requests.Session()
    paths = ["/accounts", "/balances", "/beneficiaries", "/statements", "/transactions",
             "/party"]
    for account_id in grant.account_ids:
        paths += [f"/accounts/{account_id}{p}" for p in
                  ("", "/balances", "/beneficiaries", "/statements", "/transactions",
                   "/parties")]
    for _ in range(ROUNDS):
        for path in paths:
            url = path
            while url:
                response = _get(session, base, grant, url)
                if response.status_code != 200:
                    problems.append(f"{path}: {response.status_code} {response.text[:200]}")
                    break
                body = response.json()
                leaked = [i for i in _found_ids(body["Data"]) if i not in grant.allowed]
                if leaked:
                    problems.append(f"{grant.consent_id} {path} carried {leaked[:3]}")
                url = body["Links"].get("Next")
        for account_id in others:          # someone else's account: refused, never served
            response = _get(session, base, grant, f"/accounts/{account_id}/transactions")
            if response.status_code != 403:
                problems.append(f"{grant.consent_id} read {account_id}: {response.status_code}")
    return problems


def test_parallel_readers_never_see_another_consents_data(bank):
    _, base, grants = bank
    every_account = {a for g in grants for a in g.account_ids}
    results: dict[str, list[str]] = {}

    def reader(grant: Grant):
        others = sorted(every_account - set(grant.account_ids))[:3]
        try:
            results[grant.consent_id] = _read_everything(base, grant, others)
        except Exception as error:          # reported below, not lost in the thread
            results[grant.consent_id] = [repr(error)]

    threads = [threading.Thread(target=reader, args=(g,)) for g in grants]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == len(grants) == 2 * CUSTOMERS
    problems = [p for found in results.values() for p in found]
    assert problems == []
    # The check can fail: a consent over one account may not carry its sibling's ids.
    single = next(g for g in grants if len(g.account_ids) == 1)
    sibling = next(g for g in grants if len(g.account_ids) == 2
                   and single.account_ids[0] in g.account_ids)
    assert sibling.allowed - single.allowed
