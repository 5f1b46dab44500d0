"""PISPs that call the VRP resources with real DPoP-bound, signed requests; customers with
funded accounts; domestic VRP consents approved as the approval journey approves them
(consent.services.authorise with the account picked), and the customer's long-lived token.

SQLite: nothing here depends on the database engine but the race of concurrent VRPs on one
limit, which has a PostgreSQL database of its own (test_vrp_race.py)."""
from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass

import pytest

from tests.integration.pis.conftest import (  # noqa: F401  (fixtures used here)
    OUTSIDE_PAYEE, PISP, Customer, SigningTpp, Tpp, approve, codes, idem, make_payer,
    make_tpp, payer, pisp, other_pisp)

CONSENTS = f"{PISP}/domestic-vrp-consents"
VRPS = f"{PISP}/domestic-vrps"
LONG = 400 * 24 * 3600          # the customer's token lives as long as the consent


@pytest.fixture
def db_url(sqlite_url) -> str:
    return sqlite_url


def limit(amount: str, period: str = "Month", alignment: str = "Calendar",
          currency: str = "GBP") -> dict:
    return {"PeriodType": period, "PeriodAlignment": alignment, "Amount": amount,
            "Currency": currency}


def vrp_consent_body(maximum: str = "250.00", limits=None, *, vrp_type=None,
                     valid_to: str | None = "2027-06-01T00:00:00+00:00", creditor=None,
                     **controls) -> dict:
    """A sweeping VRP consent to OUTSIDE_PAYEE: up to `maximum` a payment, `limits`
    (default £1,000 a calendar month), valid until `valid_to`."""
    parameters = {"PSUAuthenticationMethods": ["UK.OBIE.SCANotRequired"],
                  "VRPType": vrp_type or ["UK.OBIE.VRPType.Sweeping"],
                  "MaximumIndividualAmount": {"Amount": maximum, "Currency": "GBP"},
                  "PeriodicLimits": limits if limits is not None else [limit("1000.00")],
                  **controls}
    if valid_to:
        parameters["ValidToDateTime"] = valid_to
    return {"Data": {"ControlParameters": parameters, "Initiation": {
        "CreditorAccount": dict(creditor or OUTSIDE_PAYEE),
        "RemittanceInformation": {"Reference": "SWEEP-1", "Unstructured": "Sweep"}}},
        "Risk": {"PaymentContextCode": "TransferToSelf"}}


def vrp_body(consent_id: str, consent_body: dict, amount: str = "10.00", **data) -> dict:
    body = copy.deepcopy(consent_body)
    initiation = body["Data"]["Initiation"]
    body["Data"] = {"ConsentId": consent_id, "PSUAuthenticationMethod": "UK.OBIE.SCANotRequired",
                    "VRPType": "UK.OBIE.VRPType.Sweeping", "Initiation": initiation,
                    "Instruction": {
                        "InstructionIdentification": "i-" + uuid.uuid4().hex[:12],
                        "EndToEndIdentification": "e2e-" + uuid.uuid4().hex[:12],
                        "InstructedAmount": {"Amount": amount, "Currency": "GBP"},
                        "CreditorAccount": dict(initiation["CreditorAccount"]),
                        "RemittanceInformation": dict(initiation["RemittanceInformation"])},
                    **data}
    return body


@pytest.fixture
def create_vrp_consent():
    def run(tpp: Tpp, body: dict, **kw):
        return tpp.call("POST", CONSENTS, token=tpp.token(scope="payments"), json=body,
                        headers={**idem(), **kw.pop("headers", {})}, **kw)
    return run


@dataclass
class VrpJourney:
    """A PISP's VRP consent, approved by a customer, and the customer's token for it."""
    tpp: SigningTpp
    customer: Customer
    consent_id: str
    body: dict
    token: str

    def pay(self, amount: str = "10.00", body: dict | None = None, **kw):
        return self.tpp.call("POST", VRPS, token=self.token,
                             json=body or vrp_body(self.consent_id, self.body, amount),
                             headers={**idem(), **kw.pop("headers", {})}, **kw)

    def read(self, vrp_id: str, suffix: str = ""):
        return self.tpp.call("GET", f"{VRPS}/{vrp_id}{suffix}",
                             token=self.tpp.token(scope="payments"))

    def consent(self):
        return self.tpp.call("GET", f"{CONSENTS}/{self.consent_id}",
                             token=self.tpp.token(scope="payments"))


@pytest.fixture
def vrp_journey(create_vrp_consent, approve):
    def run(tpp: SigningTpp, customer: Customer, body: dict | None = None,
            account_pk: int | None = None) -> VrpJourney:
        body = body or vrp_consent_body()
        response = create_vrp_consent(tpp, body)
        assert response.status_code == 201, response.get_json()
        consent_id = response.get_json()["Data"]["ConsentId"]
        approve(consent_id, customer, account_pk)
        token = tpp.token(scope="payments", grant_type="authorization_code",
                          consent_id=consent_id, psu=customer.psu, ttl=LONG)
        return VrpJourney(tpp, customer, consent_id, body, token)
    return run
