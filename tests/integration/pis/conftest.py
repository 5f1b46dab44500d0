"""PISPs that call the payment initiation resources with real DPoP-bound tokens, customers
with funded accounts, and consents driven through the customer's decision as the approval
journey drives them (consent.services.authorise with the account picked)."""
from __future__ import annotations

import copy
import itertools
import json as _json
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from aspsp import ob_signing
from aspsp.identity.models import PsuUser
from aspsp.ids import new_id
from consent import services as consents
from consent.models import Consent
from tests import factories
from tests.integration.consent.conftest import (  # noqa: F401  (fixtures used here)
    Tpp, make_tpp)

PISP = "/open-banking/v3.1/pisp"
CONSENTS = f"{PISP}/domestic-payment-consents"
PAYMENTS = f"{PISP}/domestic-payments"
OUTSIDE_PAYEE = {"SchemeName": "UK.OBIE.SortCodeAccountNumber",
                 "Identification": "20000012345678", "Name": "ACME Ltd"}
_usernames = itertools.count(1)


def domestic_consent_body(amount: str = "10.50", *, creditor=None, data=None,
                          **initiation) -> dict:
    """The FCS manifest's minimalDomesticPaymentConsent, with a reference; `data`: other
    members of Data (Authorisation, SCASupportData)."""
    return {"Data": {**(data or {}), "Initiation": {
        "InstructionIdentification": "instr-" + uuid.uuid4().hex[:10],
        "EndToEndIdentification": "e2e-domestic-pay",
        "InstructedAmount": {"Amount": amount, "Currency": "GBP"},
        "CreditorAccount": dict(creditor or OUTSIDE_PAYEE),
        "RemittanceInformation": {"Reference": "INV-42"}, **initiation}},
        "Risk": {"PaymentContextCode": "EcommerceGoods"}}


def payment_body(consent_id: str, consent_body: dict) -> dict:
    """The submission of a consent: its ConsentId, Initiation and Risk."""
    body = copy.deepcopy(consent_body)
    body["Data"] = {"ConsentId": consent_id, "Initiation": body["Data"]["Initiation"]}
    return body


def idem() -> dict:
    return {"x-idempotency-key": uuid.uuid4().hex}


@dataclass
class Customer:
    psu: PsuUser
    account_ids: list[str]
    account_pks: list[int]
    sort_codes: list[str]


TAN = "localhost"      # the trust anchor's domain: the sandbox directory, at TEST_ISSUER's host


@dataclass
class SigningTpp(Tpp):
    """A TPP whose POSTs carry the body's detached JWS (x-jws-signature) made with its
    registered key, as the OBIE profile requires of payment requests; `sign=False` (or an
    x-jws-signature header of the test's own) leaves it to the test."""

    def signature(self, body: bytes, **kw) -> str:
        key = self.client.signing_key
        return ob_signing.sign_detached(
            body, key, kid=key.get("kid"), alg="ES256",
            iss=f"{self.client.row.org_id}/{self.client.row.software_id}", tan=TAN,
            now=self.clock.now(), **kw)

    def call(self, method: str, path: str, *, token=None, json=None, headers=None,
             proof: bool = True, sign: bool = True, **kw):
        headers = dict(headers or {})
        if method == "POST" and json is not None:
            data = _json.dumps(json).encode()
            if sign and "x-jws-signature" not in headers:
                headers["x-jws-signature"] = self.signature(data)
            kw.update(data=data, content_type="application/json")
            json = None
        return super().call(method, path, token=token, json=json, headers=headers,
                            proof=proof, **kw)


def signing(tpp: Tpp) -> SigningTpp:
    return SigningTpp(tpp.http, tpp.platform, tpp.clock, tpp.client)


@pytest.fixture
def pisp(make_tpp) -> SigningTpp:
    return signing(make_tpp(roles=("PISP",), name="Pay Quick"))


@pytest.fixture
def other_pisp(make_tpp) -> SigningTpp:
    return signing(make_tpp(roles=("PISP",), name="Other Payer"))


@pytest.fixture
def make_payer(platform, clock):
    """A customer with accounts, the first funded with `funded`."""
    def build(funded: str | None = "100.00", accounts: int = 1, **first) -> Customer:
        now = clock.now()
        with platform.uow() as uow:
            party = factories.party(uow, "Pat Payer", now=now)
            rows = [factories.account(uow, now=now, owner=party,
                                      funded=funded if i == 0 else None,
                                      **(first if i == 0 else {}))
                    for i in range(accounts)]
            psu = PsuUser(psu_id=new_id(), username=f"pis-customer-{next(_usernames)}",
                          password_hash="not-a-real-hash", totp_secret="JBSWY3DPEHPK3PXP",
                          party_pk=party.id, failed_attempts=0, created_at=now)
            uow.session.add(psu)
            uow.session.flush()
            uow.commit()
            return Customer(psu, [a.account_id for a in rows], [a.id for a in rows],
                            [f"{a.sort_code}{a.account_number}" for a in rows])
    return build


@pytest.fixture
def payer(make_payer) -> Customer:
    return make_payer()


@pytest.fixture
def approve(platform, clock):
    """The customer approves the consent, paying from `account_pk` (default: their first)."""
    def run(consent_id: str, customer: Customer, account_pk: int | None = None) -> None:
        with platform.uow() as uow:
            consent = uow.session.scalars(select(Consent).where(
                Consent.consent_id == consent_id)).one()
            consents.authorise(uow, consent, customer.psu,
                               [account_pk or customer.account_pks[0]], clock.now())
            uow.commit()
    return run


@dataclass
class Journey:
    """A PISP's consent, approved by a customer, and the customer's token for it."""
    tpp: Tpp
    customer: Customer
    consent_id: str
    body: dict
    token: str

    def submit(self, body: dict | None = None, **kw):
        return self.tpp.call("POST", PAYMENTS, token=self.token,
                             json=body or payment_body(self.consent_id, self.body),
                             headers={**idem(), **kw.pop("headers", {})}, **kw)


@pytest.fixture
def create_consent():
    def run(tpp: Tpp, body: dict):
        return tpp.call("POST", CONSENTS, token=tpp.token(scope="payments"), json=body,
                        headers=idem())
    return run


@pytest.fixture
def journey(create_consent, approve):
    def run(tpp: Tpp, customer: Customer, body: dict | None = None,
            account_pk: int | None = None) -> Journey:
        body = body or domestic_consent_body()
        response = create_consent(tpp, body)
        assert response.status_code == 201, response.get_json()
        consent_id = response.get_json()["Data"]["ConsentId"]
        approve(consent_id, customer, account_pk)
        token = tpp.token(scope="payments", grant_type="authorization_code",
                          consent_id=consent_id, psu=customer.psu)
        return Journey(tpp, customer, consent_id, body, token)
    return run


def codes(response) -> list[str]:
    return [e["ErrorCode"] for e in response.get_json()["Errors"]]
