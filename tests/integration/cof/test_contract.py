"""The real responses of every Confirmation of Funds endpoint against the official OBIE
v3.1.11 document (the repository's copy in specs/obie): a consent created, read awaiting and
authorised, deleted; a funds confirmation; and the error responses."""
from __future__ import annotations

from tests.conftest import OBIE_SPECS
from tests.contract import validate_response
from tests.integration.cof.conftest import (CBPII, CONFIRMATIONS, CONSENTS, SCOPE,
                                            confirmation_body, consent_body)

SPEC = OBIE_SPECS / "v3.1.11" / "confirmation-funds-openapi.json"


def check(method: str, path: str, response, status: int) -> dict | None:
    assert response.status_code == status, (path, response.get_json(silent=True))
    body = response.get_json(silent=True)
    validate_response(SPEC, path.removeprefix(CBPII), method, status, body,
                      dict(response.headers))
    return body


def test_every_endpoint_matches_the_contract(cbpii, holder, create_consent, approve, approved):
    full = consent_body(holder.identification, ExpirationDateTime="2027-01-01T00:00:00+00:00")
    full["Data"]["DebtorAccount"]["SecondaryIdentification"] = "Roll 56988"
    created = check("POST", CONSENTS, create_consent(cbpii, full), 201)
    consent_id = created["Data"]["ConsentId"]
    assert created["Data"]["Status"] == "AwaitingAuthorisation"
    assert created["Data"]["DebtorAccount"] == full["Data"]["DebtorAccount"]
    assert created["Links"]["Self"].endswith(f"{CONSENTS}/{consent_id}")
    token = cbpii.token(scope=SCOPE)
    path = f"{CONSENTS}/{consent_id}"
    check("GET", path, cbpii.call("GET", path, token=token), 200)
    approve(consent_id, holder)
    read = check("GET", path, cbpii.call("GET", path, token=token), 200)
    assert read["Data"]["Status"] == "Authorised"

    cof = approved(cbpii, holder)
    answer = check("POST", CONFIRMATIONS, cof.confirm("10.00"), 201)
    assert answer["Data"]["ConsentId"] == cof.consent_id
    assert answer["Data"]["FundsAvailable"] is True

    deleted = cbpii.call("DELETE", path, token=token)
    assert deleted.status_code == 204 and deleted.get_data() == b""


def test_error_responses_match_the_contract(cbpii, holder, create_consent, approved):
    token = cbpii.token(scope=SCOPE)
    bad = consent_body(holder.identification)
    bad["Data"]["DebtorAccount"]["SchemeName"] = "TestingAnInvalidSchemeName"
    body = check("POST", CONSENTS, create_consent(cbpii, bad), 400)
    assert [e["ErrorCode"] for e in body["Errors"]] == ["UK.OBIE.Unsupported.Scheme"]
    body = check("GET", f"{CONSENTS}/42", cbpii.call("GET", f"{CONSENTS}/42", token=token), 400)
    assert body["Errors"][0]["ErrorCode"] == "UK.OBIE.Resource.NotFound"
    body = check("DELETE", f"{CONSENTS}/42",
                 cbpii.call("DELETE", f"{CONSENTS}/42", token=token), 400)
    assert body["Errors"][0]["ErrorCode"] == "UK.OBIE.Resource.NotFound"

    cof = approved(cbpii, holder)
    body = check("POST", CONFIRMATIONS, cof.confirm("1.001"), 400)
    assert body["Errors"][0]["ErrorCode"] == "UK.OBIE.Field.Invalid"
    wrong = cbpii.call("POST", CONFIRMATIONS, token=cof.token,
                       json=confirmation_body("fcc-someone-else", "1.00"))
    body = check("POST", CONFIRMATIONS, wrong, 400)
    assert body["Errors"][0]["ErrorCode"] == "UK.OBIE.Resource.ConsentMismatch"
    unauthenticated = cbpii.call("POST", CONFIRMATIONS, json=confirmation_body(
        cof.consent_id, "1.00"))
    assert unauthenticated.status_code == 401 and unauthenticated.get_data() == b""
    check("POST", CONFIRMATIONS, unauthenticated, 401)
