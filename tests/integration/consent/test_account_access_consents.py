"""POST/GET/DELETE /open-banking/v3.1/aisp/account-access-consents through the Flask test
client, with real DPoP-bound client-credentials tokens."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from consent.domain import ConsentStatus
from tests.integration.consent.conftest import ALL_READ, CONSENTS

INTERACTION = "93bac548-d2de-4546-b106-880a5018460d"


def body(permissions=None, **data):
    return {"Data": {"Permissions": permissions or ALL_READ, **data}, "Risk": {}}


def errors(response):
    return [(e["ErrorCode"], e.get("Path")) for e in response.get_json()["Errors"]]


# --- the happy path ----------------------------------------------------------------------------
def test_create_returns_the_consent_awaiting_authorisation(aisp, clock):
    expiry = (clock.now() + timedelta(days=90)).isoformat()
    response = aisp.call("POST", CONSENTS, token=aisp.token(), json=body(
        ExpirationDateTime=expiry, TransactionFromDateTime="2026-01-01T00:00:00+00:00",
        TransactionToDateTime="2026-12-31T23:59:59Z"),
        headers={"x-fapi-interaction-id": INTERACTION})
    assert response.status_code == 201
    assert response.headers["x-fapi-interaction-id"] == INTERACTION
    assert response.headers["Content-Type"] == "application/json"
    payload = response.get_json()
    data = payload["Data"]
    assert data["ConsentId"].startswith("aac-")
    assert data["Status"] == "AwaitingAuthorisation"
    assert data["CreationDateTime"] == data["StatusUpdateDateTime"] == "2026-06-15T12:00:00+00:00"
    assert data["Permissions"] == ALL_READ
    assert data["ExpirationDateTime"] == "2026-09-13T12:00:00+00:00"
    assert data["TransactionFromDateTime"] == "2026-01-01T00:00:00+00:00"
    assert data["TransactionToDateTime"] == "2026-12-31T23:59:59+00:00"
    assert payload["Risk"] == {} and payload["Meta"] == {}
    assert payload["Links"]["Self"] == \
        f"http://localhost{CONSENTS}/{data['ConsentId']}"


def test_optional_fields_left_out_are_absent_not_null(aisp):
    response = aisp.call("POST", CONSENTS, token=aisp.token(), json=body(["ReadAccountsBasic"]))
    data = response.get_json()["Data"]
    assert "ExpirationDateTime" not in data and "TransactionFromDateTime" not in data


def test_get_returns_what_was_created(aisp):
    token = aisp.token()
    created = aisp.call("POST", CONSENTS, token=token, json=body()).get_json()
    response = aisp.call("GET", f"{CONSENTS}/{created['Data']['ConsentId']}", token=token)
    assert response.status_code == 200
    assert response.get_json() == created


def test_get_shows_the_customers_decision(aisp, customer, decide):
    consent_id = aisp.create_consent()
    decide(consent_id, customer)
    data = aisp.call("GET", f"{CONSENTS}/{consent_id}", token=aisp.token()).get_json()["Data"]
    assert data["Status"] == "Authorised"


def test_creation_is_recorded_in_the_consent_history(aisp, consent_in_db):
    record = consent_in_db(aisp.create_consent())
    assert [(e.from_status, e.to_status, e.actor, e.actor_id) for e in record.events] == \
        [(None, "AwaitingAuthorisation", "tpp", aisp.client_id)]


def test_delete_revokes_and_then_the_consent_is_gone_for_the_tpp(aisp, consent_in_db):
    consent_id = aisp.create_consent()
    token = aisp.token()
    response = aisp.call("DELETE", f"{CONSENTS}/{consent_id}", token=token)
    assert response.status_code == 204 and response.data == b""
    assert response.headers["x-fapi-interaction-id"]
    again = aisp.call("GET", f"{CONSENTS}/{consent_id}", token=token)
    assert again.status_code == 400
    assert errors(again) == [("UK.OBIE.Resource.NotFound", "ConsentId")]
    assert aisp.call("DELETE", f"{CONSENTS}/{consent_id}", token=token).status_code == 400
    assert consent_in_db(consent_id).recorded_status == ConsentStatus.REVOKED


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_a_signature_on_a_consent_read_or_delete_is_unexpected(aisp, consent_in_db, method):
    consent_id = aisp.create_consent()
    interaction = str(uuid.uuid4())
    response = aisp.call(method, f"{CONSENTS}/{consent_id}", token=aisp.token(), headers={
        "x-jws-signature": "a..b", "x-fapi-interaction-id": interaction})
    assert response.status_code == 400
    assert errors(response) == [("UK.OBIE.Signature.Unexpected", "x-jws-signature")]
    assert response.headers["x-fapi-interaction-id"] == interaction
    assert consent_in_db(consent_id).recorded_status == ConsentStatus.AWAITING_AUTHORISATION


def test_delete_of_an_authorised_consent_stops_its_tokens(aisp, customer, decide, platform):
    consent_id = aisp.create_consent()
    decide(consent_id, customer)
    psu_token = aisp.token(grant_type="authorization_code", consent_id=consent_id,
                           psu=customer.psu)
    assert aisp.call("DELETE", f"{CONSENTS}/{consent_id}", token=aisp.token()).status_code == 204
    from aspsp.oauth.tokens import find_by_access_token
    with platform.uow() as uow:
        assert find_by_access_token(uow, psu_token).revoked_at is not None


def test_delete_of_a_rejected_consent_keeps_it_rejected(aisp, customer, decide, consent_in_db):
    consent_id = aisp.create_consent()
    decide(consent_id, customer, approve=False)
    assert aisp.call("DELETE", f"{CONSENTS}/{consent_id}", token=aisp.token()).status_code == 204
    record = consent_in_db(consent_id)
    assert record.recorded_status == ConsentStatus.REJECTED and record.deleted_by_tpp
    assert aisp.call("GET", f"{CONSENTS}/{consent_id}", token=aisp.token()).status_code == 400


def test_an_expired_consent_shows_its_last_v3_1_status(aisp, customer, decide, clock):
    consent_id = aisp.create_consent(
        ExpirationDateTime=(clock.now() + timedelta(hours=1)).isoformat())
    never_authorised = aisp.create_consent(
        ExpirationDateTime=(clock.now() + timedelta(hours=1)).isoformat())
    decide(consent_id, customer)
    clock.advance(timedelta(hours=2))
    token = aisp.token()
    assert aisp.call("GET", f"{CONSENTS}/{consent_id}", token=token
                     ).get_json()["Data"]["Status"] == "Authorised"
    assert aisp.call("GET", f"{CONSENTS}/{never_authorised}", token=token
                     ).get_json()["Data"]["Status"] == "Rejected"


# --- not found / not yours -------------------------------------------------------------------
def test_an_unknown_consent_id_is_400_not_found(aisp):
    response = aisp.call("GET", f"{CONSENTS}/aac-{uuid.uuid4()}", token=aisp.token())
    assert response.status_code == 400
    assert errors(response) == [("UK.OBIE.Resource.NotFound", "ConsentId")]


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_another_clients_consent_is_403_and_an_unknown_one_400(aisp, other_aisp, method,
                                                              consent_in_db):
    """OBIE Read/Write profile, "403 (Forbidden)": a resource id of another TPP's is 403; an
    id that names nothing is 400 UK.OBIE.Resource.NotFound. Either way nothing changes."""
    consent_id = aisp.create_consent()
    response = other_aisp.call(method, f"{CONSENTS}/{consent_id}", token=other_aisp.token())
    unknown = other_aisp.call(method, f"{CONSENTS}/aac-{uuid.uuid4()}", token=other_aisp.token())
    assert (response.status_code, errors(response)) == (
        403, [("UK.InvisibleBank.Resource.OfAnotherClient", "ConsentId")])
    assert (unknown.status_code, errors(unknown)) == (
        400, [("UK.OBIE.Resource.NotFound", "ConsentId")])
    assert consent_in_db(consent_id).recorded_status == ConsentStatus.AWAITING_AUTHORISATION


@pytest.mark.parametrize("consent_id", ["x" * 500, "%00", "aac-%00"])
def test_odd_consent_ids_are_not_found(aisp, consent_id):
    response = aisp.call("GET", f"{CONSENTS}/{consent_id}", token=aisp.token())
    assert response.status_code == 400
    assert errors(response) == [("UK.OBIE.Resource.NotFound", "ConsentId")]


# --- bad bodies ------------------------------------------------------------------------------
@pytest.mark.parametrize("payload, expected", [
    ({"Risk": {}}, [("UK.OBIE.Field.Missing", "Data")]),
    ({"Data": {}, "Risk": {}}, [("UK.OBIE.Field.Missing", "Data.Permissions")]),
    ({"Data": {"Permissions": ["ReadAccountsBasic"]}}, [("UK.OBIE.Field.Missing", "Risk")]),
    (body([]) | {"Data": {"Permissions": []}}, [("UK.OBIE.Field.Invalid", "Data.Permissions")]),
    (body(["ReadAccountsBasic", "ReadEverything"]),
     [("UK.OBIE.Field.Invalid", "Data.Permissions[1]")]),
    (body(["ReadBalances"]), [("UK.OBIE.Field.Expected", "Data.Permissions")]),
    (body(["ReadAccountsBasic", "ReadTransactionsBasic"]),
     [("UK.OBIE.Field.Expected", "Data.Permissions")]),
    (body(["ReadAccountsBasic", "ReadTransactionsDebits"]),
     [("UK.OBIE.Field.Expected", "Data.Permissions")]),
    (body(["ReadAccountsBasic", 7]), [("UK.OBIE.Field.Invalid", "Data.Permissions[1]")]),
    ({"Data": {"Permissions": "ReadAccountsBasic"}, "Risk": {}},
     [("UK.OBIE.Field.Invalid", "Data.Permissions")]),
    (body(ExpirationDateTime="next tuesday"),
     [("UK.OBIE.Field.InvalidDate", "Data.ExpirationDateTime")]),
    (body(ExpirationDateTime="2020-01-01T00:00:00+00:00"),
     [("UK.OBIE.Field.InvalidDate", "Data.ExpirationDateTime")]),
    (body(TransactionFromDateTime="2026-05-01T00:00:00Z",
          TransactionToDateTime="2026-04-01T00:00:00Z"),
     [("UK.OBIE.Field.InvalidDate", "Data.TransactionToDateTime")]),
    (body(TransactionFromDateTime="9999-12-31T23:59:59-01:00"),
     [("UK.OBIE.Field.InvalidDate", "Data.TransactionFromDateTime")]),
    (body() | {"Extra": 1}, [("UK.OBIE.Field.Unexpected", "Extra")]),
    ({"Data": {"Permissions": ["ReadAccountsBasic"], "Colour": "red"}, "Risk": {}},
     [("UK.OBIE.Field.Unexpected", "Data.Colour")]),
    ({"Data": {"Permissions": ["ReadAccountsBasic"]}, "Risk": {"PaymentContextCode": "x"}},
     [("UK.OBIE.Field.Unexpected", "Risk.PaymentContextCode")]),
    ({"Data": "everything", "Risk": {}}, [("UK.OBIE.Resource.InvalidFormat", "Data")]),
])
def test_bad_bodies_are_400_with_the_obie_code_and_path(aisp, payload, expected):
    response = aisp.call("POST", CONSENTS, token=aisp.token(), json=payload)
    assert response.status_code == 400, response.get_json()
    assert errors(response) == expected
    assert response.get_json()["Code"] == "400 Bad Request"


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"", b"null"])
def test_a_body_that_is_not_a_json_object_is_invalid_format(aisp, raw):
    response = aisp.call("POST", CONSENTS, token=aisp.token(), data=raw,
                         content_type="application/json")
    assert response.status_code == 400
    assert errors(response) == [("UK.OBIE.Resource.InvalidFormat", None)]


def test_a_naive_date_time_is_taken_as_utc(aisp):
    response = aisp.call("POST", CONSENTS, token=aisp.token(),
                         json=body(ExpirationDateTime="2026-12-01T10:00:00"))
    assert response.get_json()["Data"]["ExpirationDateTime"] == "2026-12-01T10:00:00+00:00"


# --- media types -------------------------------------------------------------------------------
def test_a_body_that_is_not_json_is_415(aisp):
    response = aisp.call("POST", CONSENTS, token=aisp.token(), data="Permissions=all",
                         content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert errors(response) == [("UK.OBIE.Header.Invalid", "Content-Type")]


def test_an_accept_header_without_json_is_406(aisp):
    response = aisp.call("GET", f"{CONSENTS}/aac-x", token=aisp.token(),
                         headers={"Accept": "application/xml"})
    assert response.status_code == 406
    assert errors(response) == [("UK.OBIE.Header.Invalid", "Accept")]


def test_accept_with_wildcards_or_charset_is_fine(aisp):
    response = aisp.call("POST", CONSENTS, token=aisp.token(), json=body(),
                         headers={"Accept": "application/json; charset=utf-8, */*;q=0.1"})
    assert response.status_code == 201


# --- tokens ------------------------------------------------------------------------------------
def test_no_token_is_401_without_a_body(aisp):
    response = aisp.call("POST", CONSENTS, json=body())
    assert response.status_code == 401 and response.data == b""
    # RFC 6750 §3.1 / RFC 9449 §7.1: no credentials, so no error code; both schemes offered
    assert response.headers["WWW-Authenticate"] == 'DPoP algs="PS256 ES256", Bearer'
    assert "Content-Type" not in response.headers
    assert response.headers["x-fapi-interaction-id"]


def test_an_unknown_token_is_401(aisp):
    response = aisp.call("GET", f"{CONSENTS}/aac-x", token="made-up-token")
    assert response.status_code == 401 and response.data == b""
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_an_expired_token_is_401(aisp, clock):
    token = aisp.token(ttl=60)
    clock.advance(timedelta(seconds=61))
    response = aisp.call("GET", f"{CONSENTS}/aac-x", token=token)
    assert response.status_code == 401 and response.data == b""


def test_a_dpop_token_without_its_proof_is_401(aisp):
    response = aisp.call("POST", CONSENTS, token=aisp.token(), json=body(), proof=False)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith(
        'DPoP error="invalid_dpop_proof", error_description="DPoP proof missing"')


def test_a_proof_signed_by_another_key_is_401(aisp, other_aisp):
    token = aisp.token()
    proof = aisp.proof("POST", CONSENTS, token, key=other_aisp.client.dpop_key)
    response = aisp.call("POST", CONSENTS, token=token, json=body(), headers={"DPoP": proof})
    assert response.status_code == 401


def test_a_dpop_token_sent_as_bearer_is_401(aisp):
    token = aisp.token()
    response = aisp.call("POST", CONSENTS, token=token, json=body(),
                         headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_a_token_without_the_accounts_scope_is_403(aisp):
    response = aisp.call("POST", CONSENTS, token=aisp.token(scope="payments"), json=body())
    assert response.status_code == 403
    assert errors(response) == [("UK.InvisibleBank.Token.InsufficientScope", None)]
    assert response.headers["WWW-Authenticate"] == \
        'DPoP error="insufficient_scope", scope="accounts"'


def test_a_client_that_is_not_an_aisp_is_403(make_tpp):
    pisp = make_tpp(roles=("PISP",))
    response = pisp.call("POST", CONSENTS, token=pisp.token(), json=body())
    assert response.status_code == 403
    assert errors(response) == [("UK.InvisibleBank.Client.RoleMissing", None)]


def test_a_customer_token_cannot_manage_consents(aisp, customer, decide):
    consent_id = aisp.create_consent()
    decide(consent_id, customer)
    psu_token = aisp.token(grant_type="authorization_code", consent_id=consent_id,
                           psu=customer.psu)
    response = aisp.call("GET", f"{CONSENTS}/{consent_id}", token=psu_token)
    assert response.status_code == 403
    assert errors(response) == [("UK.InvisibleBank.Token.WrongGrantType", None)]


def test_the_token_is_checked_before_the_body(aisp):
    response = aisp.call("POST", CONSENTS, json={"Data": {}})
    assert response.status_code == 401
