"""A small sandbox bank for the account information tests, seeded once per engine, and TPPs
that read it through authorised consents with real DPoP-bound tokens.

The bank: the four demo customers of `flask sandbox seed` with three months of history up to
the test clock's day (2026-06-15), plus, for Alice, a credit card account whose card payments
carry the full card number (for ReadPAN), an offer and a scheduled payment on her current
account, so that every resource has data. Each test runs in a transaction on it that is
rolled back (the root conftest's `database`, over `db_url` overridden here).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from aspsp.cli import upgrade
from aspsp.db import Database
from aspsp.identity.models import PsuUser
from aspsp.ids import new_id
from aspsp.ledger import models, services
from aspsp.ledger.domain import transfer_lines
from aspsp.ledger.money import Money
from sandbox.seed import SeedOptions, seed_bank
from tests.conftest import NOW, create_pg_database, drop_pg_database, service_missing
from tests.integration.consent.conftest import (  # noqa: F401  (fixtures used here)
    Customer, Tpp, aisp, make_customer, make_tpp, other_aisp)

AISP = "/open-banking/v3.1/aisp"
AS_OF = date(2026, 6, 15)
CARD_PAN = "4658581234567890"
EVERYTHING = ["ReadAccountsDetail", "ReadBalances", "ReadBeneficiariesDetail",
              "ReadDirectDebits", "ReadOffers", "ReadPAN", "ReadParty", "ReadPartyPSU",
              "ReadProducts", "ReadScheduledPaymentsDetail", "ReadStandingOrdersDetail",
              "ReadStatementsDetail", "ReadTransactionsCredits", "ReadTransactionsDebits",
              "ReadTransactionsDetail"]
BASIC = ["ReadAccountsBasic", "ReadBalances", "ReadBeneficiariesBasic", "ReadDirectDebits",
         "ReadOffers", "ReadParty", "ReadPartyPSU", "ReadProducts",
         "ReadScheduledPaymentsBasic", "ReadStandingOrdersBasic", "ReadStatementsBasic",
         "ReadTransactionsBasic", "ReadTransactionsCredits", "ReadTransactionsDebits"]


def seed_small_bank(url: str) -> None:
    db = Database(url)
    try:
        seed_bank(db, SeedOptions(customers=0, business=0, months=3, as_of=AS_OF), today=AS_OF)
        with db.uow() as uow:
            _complete_alice(uow)
            uow.commit()
    finally:
        db.engine.dispose()


def _complete_alice(uow) -> None:
    """What the seed may not give Alice: an offer and a scheduled payment on her current
    account, and a credit card account with card payments."""
    rng = random.Random("ais-tests")
    start = datetime(2026, 3, 1, tzinfo=timezone.utc)
    alice = uow.session.scalars(select(PsuUser).where(PsuUser.username == "alice")).one()
    party = uow.session.get(models.Party, alice.party_pk)
    current = uow.session.scalars(
        select(models.Account).join(models.AccountParty)
        .where(models.AccountParty.party_pk == party.id,
               models.Account.account_sub_type == "CurrentAccount")).first()
    uow.session.add(models.Offer(
        offer_id=new_id(rng), account_pk=current.id, offer_type="LimitIncrease",
        description="You could increase your arranged overdraft", amount_minor=1_000_00,
        fee_minor=0, currency="GBP", rate="39.9", term="Subject to status",
        url="https://bank.example/offers/overdraft", start_datetime=start,
        end_datetime=start + timedelta(days=180)))
    uow.session.add(models.ScheduledPayment(
        scheduled_payment_id=new_id(rng), account_pk=current.id,
        scheduled_payment_datetime=NOW + timedelta(days=10), scheduled_type="Execution",
        reference="HOLIDAY", debtor_reference="HOLIDAY SHARE", amount_minor=120_00,
        currency="GBP", creditor_name="Sam Jones",
        creditor_scheme="UK.OBIE.SortCodeAccountNumber", creditor_identification="20000055555555"))
    card = services.open_account(uow, services.NewAccount(
        currency="GBP", name="Alice Morgan", account_type="Personal",
        account_sub_type="CreditCard", sort_code="401999", account_number="77665544",
        opening_date=start.date(), credit_limit=Money.of("1500", "GBP").amount,
        credit_line_type="Credit", pan=CARD_PAN), [(party, "UK.OBIE.Principal")],
        now=start, rng=rng)
    settlement = services.internal_account_id(uow, services.CARD_SETTLEMENT, "GBP")
    for day, pence, merchant in ((3, 42_50, "Waterstones"), (9, 18_20, "Pret A Manger"),
                                 (20, 7_99, "Spotify")):
        services.post_entry(uow, transfer_lines(
            card.account_id, settlement, services.from_minor(pence, "GBP"),
            {"merchant_name": merchant, "merchant_category_code": "5942",
             "transaction_information": merchant.upper(),
             "card_instrument": {"CardSchemeName": "VISA", "AuthorisationType": "PIN",
                                 "Name": "ALICE MORGAN", "Identification": CARD_PAN},
             "iso_code": "CustomerCardTransactions", "iso_subcode": "PointOfSalePaymentDebitCard",
             "proprietary_code": "POS", "proprietary_issuer": "InvisibleBank"},
            {"merchant_name": merchant}), kind="card-payment",
            now=start + timedelta(days=60 + day), rng=rng)


@pytest.fixture(scope="session")
def seeded_sqlite_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('ais') / 'bank.sqlite'}"
    upgrade(url)
    seed_small_bank(url)
    return url


@pytest.fixture(scope="session")
def seeded_postgres_url():
    try:
        url = create_pg_database("aspsp_ais")
    except Exception as error:  # the server is down
        service_missing("PostgreSQL at 127.0.0.1:5432", error)
    try:
        seed_small_bank(url)
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request) -> str:
    """The root conftest's database fixture, on the seeded bank."""
    return request.getfixturevalue("seeded_sqlite_url" if request.param == "sqlite"
                                   else "seeded_postgres_url")


# --- customers and their consents ------------------------------------------------------------
@pytest.fixture
def demo(platform):
    """A seeded demo customer by username, with their enabled accounts."""
    def find(username: str) -> Customer:
        with platform.uow() as uow:
            psu = uow.session.scalars(select(PsuUser).where(PsuUser.username == username)).one()
            accounts = uow.session.execute(
                select(models.Account.id, models.Account.account_id)
                .join(models.AccountParty)
                .where(models.AccountParty.party_pk == psu.party_pk,
                       models.Account.status == "Enabled")
                .order_by(models.Account.id)).all()
            uow.session.expunge(psu)
        return Customer(psu, [a.account_id for a in accounts], [a.id for a in accounts])
    return find


@dataclass
class Access:
    """An authorised consent and its customer's token, and the calls its TPP makes."""
    tpp: Tpp
    consent_id: str
    token: str
    account_ids: list[str]

    def get(self, path: str, *, present: bool = True, headers: dict | None = None, **kw):
        headers = dict(headers or {})
        if present:
            headers.setdefault("x-fapi-customer-ip-address", "104.25.212.99")
        return self.tpp.call("GET", path if path.startswith("/open-banking")
                             else AISP + path, token=self.token, headers=headers, **kw)


@pytest.fixture
def grant(platform, clock):
    """An Authorised consent of `tpp` for `customer` over `accounts` (default: all of them),
    with `permissions`, and the customer's access token."""
    from consent import services as consents
    from consent.models import Consent

    def run(tpp: Tpp, customer: Customer, permissions, *, accounts=None, **data) -> Access:
        consent_id = tpp.create_consent(permissions, **data)
        chosen = customer.account_pks if accounts is None else accounts
        with platform.uow() as uow:
            consent = uow.session.scalars(select(Consent).where(
                Consent.consent_id == consent_id)).one()
            consents.authorise(uow, consent, customer.psu, chosen, clock.now())
            uow.commit()
        token = tpp.token(grant_type="authorization_code", consent_id=consent_id,
                          psu=customer.psu)
        ids = [a for a, pk in zip(customer.account_ids, customer.account_pks) if pk in chosen]
        return Access(tpp, consent_id, token, ids)
    return run


def data_of(response) -> dict:
    assert response.status_code == 200, (response.status_code, response.get_data(as_text=True))
    return response.get_json()["Data"]


def codes(response) -> list[str]:
    return [e["ErrorCode"] for e in response.get_json()["Errors"]]


@pytest.fixture
def app(database, clock, tmp_path):
    """The root conftest's app, with pages of 25 transactions (the smallest OBIE allows) so
    that a few months of history make several pages."""
    from bank import create_app
    from tests.conftest import TEST_ISSUER, UNLIMITED_RATES
    return create_app({"DATABASE_URL": database.url, "DATABASE": database, "CLOCK": clock,
                       "CELERY_ALWAYS_EAGER": True, "INSTANCE_PATH": str(tmp_path),
                       "SECRET_KEY": "test-secret", "TESTING": True, "AIS_PAGE_SIZE": 25,
                       "ISSUER": TEST_ISSUER, **UNLIMITED_RATES})
