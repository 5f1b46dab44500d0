"""CBPIIs that call the Confirmation of Funds resources with real DPoP-bound tokens, customers
with funded accounts (with and without an arranged overdraft), and funds-confirmation consents
driven through the customer's decision as the approval journey drives it
(consent.services.authorise with the one account named).

PostgreSQL only: nothing here depends on the database engine (the approval pages and the
conformance run against `make run` exercise SQLite), so the tests are not run twice."""
from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from aspsp.identity.models import PsuUser
from aspsp.ids import new_id
from consent import services as consents
from consent.models import Consent
from tests import factories
from tests.integration.consent.conftest import (  # noqa: F401  (fixtures used here)
    Tpp, make_tpp)

CBPII = "/open-banking/v3.1/cbpii"
CONSENTS = f"{CBPII}/funds-confirmation-consents"
CONFIRMATIONS = f"{CBPII}/funds-confirmations"
SCOPE = "fundsconfirmations"
_usernames = itertools.count(1)


@pytest.fixture
def db_url(postgres_url) -> str:
    return postgres_url


def consent_body(identification: str, *, scheme: str = "UK.OBIE.SortCodeAccountNumber",
                 **data) -> dict:
    return {"Data": {"DebtorAccount": {"SchemeName": scheme, "Identification": identification,
                                       "Name": "Pat Payer"}, **data}}


def confirmation_body(consent_id: str, amount: str, currency: str = "GBP",
                      reference: str | None = None) -> dict:
    return {"Data": {"ConsentId": consent_id, "Reference": reference or uuid.uuid4().hex[:35],
                     "InstructedAmount": {"Amount": amount, "Currency": currency}}}


@dataclass
class Holder:
    psu: PsuUser
    account_id: str
    account_pk: int
    identification: str         # sort code and account number, 14 digits


@pytest.fixture
def cbpii(make_tpp) -> Tpp:
    return make_tpp(roles=("CBPII",), name="Card Issuer")


@pytest.fixture
def make_holder(platform, clock):
    """A customer with one GBP account holding `funded`, with `credit_limit` of arranged
    overdraft."""
    def build(funded: str | None = "100.00", credit_limit: str = "0", **kw) -> Holder:
        now = clock.now()
        with platform.uow() as uow:
            party = factories.party(uow, "Pat Payer", now=now)
            account = factories.account(uow, now=now, owner=party, funded=funded,
                                        credit_limit=credit_limit, **kw)
            psu = PsuUser(psu_id=new_id(), username=f"cof-customer-{next(_usernames)}",
                          password_hash="not-a-real-hash", totp_secret="JBSWY3DPEHPK3PXP",
                          party_pk=party.id, failed_attempts=0, created_at=now)
            uow.session.add(psu)
            uow.session.flush()
            uow.commit()
            return Holder(psu, account.account_id, account.id,
                          f"{account.sort_code}{account.account_number}")
    return build


@pytest.fixture
def holder(make_holder) -> Holder:
    return make_holder()


@dataclass
class Cof:
    """A CBPII's consent approved by the customer, and the customer's token for it."""
    tpp: Tpp
    holder: Holder
    consent_id: str
    token: str

    def confirm(self, amount: str, currency: str = "GBP", **kw):
        return self.tpp.call("POST", CONFIRMATIONS, token=self.token,
                             json=confirmation_body(self.consent_id, amount, currency, **kw))

    def available(self, amount: str) -> bool:
        response = self.confirm(amount)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["Data"]["FundsAvailable"]


@pytest.fixture
def create_consent():
    def create(tpp: Tpp, body: dict):
        return tpp.call("POST", CONSENTS, token=tpp.token(scope=SCOPE), json=body)
    return create


@pytest.fixture
def approve(platform, clock):
    def run(consent_id: str, holder: Holder) -> None:
        with platform.uow() as uow:
            consent = uow.session.scalars(select(Consent).where(
                Consent.consent_id == consent_id)).one()
            consents.authorise(uow, consent, holder.psu, [holder.account_pk], clock.now())
            uow.commit()
    return run


@pytest.fixture
def approved(create_consent, approve):
    """A consent of `tpp` for the holder's account, approved, with the customer's token."""
    def build(tpp: Tpp, holder: Holder, **data) -> Cof:
        response = create_consent(tpp, consent_body(holder.identification, **data))
        assert response.status_code == 201, response.get_json()
        consent_id = response.get_json()["Data"]["ConsentId"]
        approve(consent_id, holder)
        token = tpp.token(scope=SCOPE, grant_type="authorization_code", consent_id=consent_id,
                          psu=holder.psu)
        return Cof(tpp, holder, consent_id, token)
    return build
