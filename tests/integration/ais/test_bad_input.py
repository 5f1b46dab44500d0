"""What the AIS resources answer to bad input and to the wrong caller: the right status and
an OB error body (401: none), never a 500."""
from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import quote, unquote

import pytest
from sqlalchemy import update

from consent.models import Consent
from tests.oauth_factories import dpop_proof
from tests.integration.ais.conftest import AISP, EVERYTHING, codes, data_of

NOT_FOUND = "UK.OBIE.Resource.NotFound"


@pytest.fixture
def alice_access(aisp, demo, grant):
    alice = demo("alice")
    return alice, grant(aisp, alice, EVERYTHING)


def get_odd(access, path: str):
    """GET a path with characters a URL must escape (NUL, non-ASCII, quotes, spaces): sent
    percent-encoded, with the DPoP proof's htu as the server reconstructs the URL."""
    from werkzeug.sansio.utils import get_current_url
    sent = quote(AISP + path, safe="/!$&'()*+,:;=@")
    htu = get_current_url("http", "localhost", "", unquote(sent))
    proof = dpop_proof(access.tpp.client.dpop_key, "GET", htu, access_token=access.token,
                       iat=int(access.tpp.clock.now().timestamp()))
    return access.tpp.http.get(sent, headers={"Authorization": f"DPoP {access.token}",
                                              "DPoP": proof,
                                              "x-fapi-customer-ip-address": "104.25.212.99"})


def error_of(response) -> tuple[str, str | None]:
    (error,) = response.get_json()["Errors"]
    return error["ErrorCode"], error.get("Path")


@pytest.mark.parametrize("name", ["fromBookingDateTime", "toBookingDateTime"])
@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "2026-02-30T10:00:00",
                                   "2026-06-01T25:00:00", "", "2026-06-01T10:00:00+99:99x",
                                   "２０２６-06-01"])
def test_malformed_booking_dates_are_400_invalid_date(name, value, alice_access):
    alice, access = alice_access
    response = access.get(f"/accounts/{alice.account_ids[0]}/transactions",
                          query_string={name: value})
    assert response.status_code == 400, response.get_json()
    assert error_of(response) == ("UK.OBIE.Field.InvalidDate", name)


@pytest.mark.parametrize("query", [{"fromBookingDateTime": "2026-06-01T\x00"},
                                   {"page": "a\x00"}, {"\x00": "x"}])
def test_nul_characters_in_the_query_are_400_in_ob_format(query, alice_access):
    """Refused before any database sees them (the platform's guard or the schema)."""
    alice, access = alice_access
    response = access.get(f"/accounts/{alice.account_ids[0]}/transactions",
                          query_string=query)
    assert response.status_code == 400
    assert set(codes(response)) <= {"UK.OBIE.Field.Invalid", "UK.OBIE.Field.InvalidDate",
                                    "UK.OBIE.Field.Unexpected"}
    assert response.headers["x-fapi-interaction-id"]


def test_malformed_statement_dates_are_400_invalid_date(alice_access):
    _, access = alice_access
    response = access.get("/statements", query_string={"toStatementDateTime": "31/05/2026"})
    assert response.status_code == 400
    assert error_of(response) == ("UK.OBIE.Field.InvalidDate", "toStatementDateTime")


@pytest.mark.parametrize("path", ["/accounts", "/transactions", "/balances",
                                  "/statements"])
def test_unknown_query_parameters_are_400(path, alice_access):
    _, access = alice_access
    response = access.get(path, query_string={"fromBookingDateTime": "2026-01-01",
                                              "sortBy": "amount"}
                          if path == "/transactions" else {"limit": "5"})
    assert response.status_code == 400
    assert "UK.OBIE.Field.Unexpected" in codes(response)


@pytest.mark.parametrize("account_id", ["5b8a4e0f-3c2d-4b1e-9a7f-2d6c1e0b9a31", "0", "x" * 41, "a\x00b",
                                        "caf\u00e9", "%00", "' OR 1=1 --"])
def test_an_unknown_account_id_is_400_not_found(account_id, alice_access):
    _, access = alice_access
    for suffix in ("", "/balances", "/transactions"):
        response = get_odd(access, f"/accounts/{account_id}{suffix}")
        assert response.status_code == 400, (suffix, response.get_json())
        assert error_of(response) == (NOT_FOUND, "AccountId")


def test_an_account_outside_the_consent_is_403(aisp, demo, grant):
    """Another customer's account, and the customer's own account not selected."""
    alice, owen = demo("alice"), demo("owen")
    access = grant(aisp, alice, EVERYTHING, accounts=alice.account_pks[:1])
    for account_id in (owen.account_ids[0], alice.account_ids[1]):
        response = access.get(f"/accounts/{account_id}/transactions")
        assert response.status_code == 403
        assert codes(response) == ["UK.InvisibleBank.Consent.AccountNotPermitted"]
    assert [a["AccountId"] for a in data_of(access.get("/accounts"))["Account"]] \
        == alice.account_ids[:1]


def test_an_unknown_or_foreign_statement_id_is_400(aisp, demo, grant):
    alice = demo("alice")
    access = grant(aisp, alice, EVERYTHING)
    current, saver = alice.account_ids[:2]
    of_saver = data_of(access.get(f"/accounts/{saver}/statements"))["Statement"][0]
    for statement_id in (str(uuid.uuid4()), of_saver["StatementId"], "a\x00b", "é"):
        for suffix in ("", "/file", "/transactions"):
            response = get_odd(access, f"/accounts/{current}/statements/{statement_id}{suffix}")
            assert response.status_code == 400, (statement_id, suffix)
            assert error_of(response) == (NOT_FOUND, "StatementId")


@pytest.mark.parametrize("path, status", [("/accounts/{A}/cards", 404), ("/cards", 404),
                                          ("/accounts/{A}/transactions/x", 404)])
def test_unsupported_paths_are_404_in_ob_format(path, status, alice_access):
    alice, access = alice_access
    response = access.get(path.replace("{A}", alice.account_ids[0]))
    assert response.status_code == status
    assert codes(response) == ["UK.InvisibleBank.Endpoint.NotFound"]


def test_another_method_is_405(alice_access):
    _, access = alice_access
    response = access.tpp.call("POST", AISP + "/accounts", token=access.token, json={})
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"


@pytest.mark.parametrize("path", ["/accounts", "/accounts/{account}", "/balances",
                                  "/accounts/{account}/balances", "/party",
                                  "/accounts/{account}/transactions", "/beneficiaries",
                                  "/direct-debits", "/standing-orders", "/offers",
                                  "/scheduled-payments", "/products"])
def test_a_client_credentials_token_on_a_customer_resource_is_401(aisp, alice_access, path):
    """The OBIE functional conformance suite asserts 401 for every account resource called
    with a client-credentials token (OB-301-BAL-101700, -BEN-102203, -PAR-103102, ...)."""
    alice, _ = alice_access
    response = aisp.call("GET", AISP + path.format(account=alice.account_ids[0]),
                         token=aisp.token())
    assert response.status_code == 401 and response.data == b""
    assert "Content-Type" not in response.headers
    assert response.headers["WWW-Authenticate"].startswith('DPoP error="invalid_token"')
    assert 'algs="PS256 ES256"' in response.headers["WWW-Authenticate"]


def test_a_payments_scope_token_is_refused(make_tpp, demo, grant):
    both = make_tpp(roles=("AISP", "PISP"))
    alice = demo("alice")
    access = grant(both, alice, EVERYTHING)
    payments = both.token(scope="payments", grant_type="authorization_code",
                          consent_id=access.consent_id, psu=alice.psu)
    response = both.call("GET", AISP + "/accounts", token=payments)
    assert response.status_code == 403
    assert codes(response) == ["UK.InvisibleBank.Token.InsufficientScope"]


def test_a_tpp_without_the_aisp_role_is_refused(make_tpp, demo, grant, aisp):
    alice = demo("alice")
    access = grant(aisp, alice, EVERYTHING)
    pisp = make_tpp(roles=("PISP",))
    token = pisp.token(grant_type="authorization_code", consent_id=access.consent_id,
                       psu=alice.psu)
    response = pisp.call("GET", AISP + "/accounts", token=token)
    assert response.status_code == 403


def test_another_tpps_token_for_the_consent_is_refused(aisp, other_aisp, demo, grant):
    alice = demo("alice")
    access = grant(aisp, alice, EVERYTHING)
    stolen = other_aisp.token(grant_type="authorization_code", consent_id=access.consent_id,
                              psu=alice.psu)
    response = other_aisp.call("GET", AISP + "/accounts", token=stolen)
    assert response.status_code == 403
    assert codes(response) == ["UK.OBIE.Resource.ConsentMismatch"]


def test_no_token_or_no_dpop_proof_is_401_without_a_body(alice_access):
    alice, access = alice_access
    bare = access.tpp.http.get(AISP + "/accounts")
    assert bare.status_code == 401 and bare.data == b""
    assert "Content-Type" not in bare.headers
    assert bare.headers["WWW-Authenticate"] == 'DPoP algs="PS256 ES256", Bearer'
    unproven = access.tpp.call("GET", AISP + "/accounts", token=access.token, proof=False)
    assert unproven.status_code == 401 and unproven.data == b""
    assert unproven.headers["WWW-Authenticate"].startswith('DPoP error="invalid_dpop_proof"')


# --- the consent's state ------------------------------------------------------------------
def test_a_consent_deleted_by_the_tpp_is_refused_at_once(aisp, alice_access):
    _, access = alice_access
    assert access.get("/accounts").status_code == 200
    deleted = aisp.call("DELETE", f"{AISP}/account-access-consents/{access.consent_id}",
                        token=aisp.token())
    assert deleted.status_code == 204
    response = access.get("/accounts")
    assert response.status_code == 401 and response.data == b""


def test_a_consent_revoked_by_the_customer_is_refused_at_once(platform, clock, alice_access):
    from consent import services
    alice, access = alice_access
    with platform.uow() as uow:
        services.revoke_by_psu(uow, alice.psu, access.consent_id, clock.now())
        uow.commit()
    assert access.get("/balances").status_code == 401


def test_a_consent_no_longer_authorised_is_400_even_with_a_live_token(platform, alice_access):
    """Defence in depth: the gate reads the consent's status on every call, whatever the
    token."""
    _, access = alice_access
    with platform.uow() as uow:
        uow.session.execute(update(Consent).where(Consent.consent_id == access.consent_id)
                            .values(status="Rejected"))
        uow.commit()
    response = access.get("/accounts")
    assert response.status_code == 400
    assert codes(response) == ["UK.OBIE.Resource.InvalidConsentStatus"]


def test_an_expired_consent_is_401_without_a_body(aisp, demo, grant, clock):
    alice = demo("alice")
    access = grant(aisp, alice, EVERYTHING,
                   ExpirationDateTime=(clock.now() + timedelta(minutes=5)).isoformat())
    assert access.get("/accounts").status_code == 200
    clock.advance(timedelta(minutes=6))          # the token itself lives 10 minutes
    response = access.get("/accounts")
    assert response.status_code == 401 and response.data == b""


# --- headers ---------------------------------------------------------------------------------
def test_interaction_id_is_echoed_and_date_is_set_on_success_and_error(alice_access):
    _, access = alice_access
    interaction = str(uuid.uuid4())
    for path in ("/accounts", f"/accounts/{uuid.uuid4()}"):
        response = access.get(path, headers={"x-fapi-interaction-id": interaction})
        assert response.headers["x-fapi-interaction-id"] == interaction
        assert response.headers["Date"] == "Mon, 15 Jun 2026 12:00:00 GMT"


@pytest.mark.parametrize("header, value", [("x-fapi-auth-date", "yesterday"),
                                           ("x-fapi-auth-date", "Sun, 15 Jun 2026 12:00:00 GMT"),
                                           ("x-fapi-customer-ip-address", "not-an-ip"),
                                           ("x-fapi-customer-ip-address", "999.1.1.1")])
def test_fapi_headers_are_validated(header, value, alice_access):
    _, access = alice_access
    response = access.get("/accounts", headers={header: value})
    assert response.status_code == 400
    assert error_of(response) == ("UK.OBIE.Header.Invalid", header)


def test_a_valid_auth_date_is_accepted(alice_access):
    _, access = alice_access
    response = access.get("/accounts", headers={"x-fapi-auth-date":
                                                "Mon, 15 Jun 2026 11:00:00 GMT"})
    assert response.status_code == 200


def test_wrong_accept_is_406(alice_access):
    alice, access = alice_access
    current = alice.account_ids[0]
    statement = data_of(access.get(f"/accounts/{current}/statements"))["Statement"][0]
    file_path = f"/accounts/{current}/statements/{statement['StatementId']}/file"
    for path, accept in (("/accounts", "application/xml"), ("/accounts", "application/pdf"),
                         (file_path, "application/json"), (file_path, "text/csv")):
        response = access.get(path, headers={"Accept": accept})
        assert response.status_code == 406, (path, accept)
        assert error_of(response)[0] == "UK.OBIE.Header.Invalid"
    assert access.get(file_path, headers={"Accept": "*/*"}).status_code == 200
    assert access.get("/accounts", headers={"Accept": "application/json"}).status_code == 200


# --- pages and windows ------------------------------------------------------------------------
@pytest.mark.parametrize("page", ["nonsense", "eyJ4IjoxfQ", "W10", "\u00e9t\u00e9", "a" * 300])
def test_a_malformed_page_cursor_is_400(page, alice_access):
    alice, access = alice_access
    response = access.get(f"/accounts/{alice.account_ids[0]}/transactions",
                          query_string={"page": page})
    assert response.status_code == 400
    assert error_of(response) == ("UK.OBIE.Field.Invalid", "page")


def test_a_cursor_of_another_list_is_400(alice_access):
    alice, access = alice_access
    current, saver = alice.account_ids[:2]
    nxt = access.get(f"/accounts/{current}/transactions").get_json()["Links"]["Next"]
    page = nxt.split("page=", 1)[1]
    response = access.get(f"/accounts/{saver}/transactions", query_string={"page": page})
    assert response.status_code == 400
    assert error_of(response) == ("UK.OBIE.Field.Invalid", "page")


def test_filters_ignore_the_time_zone(alice_access):
    alice, access = alice_access
    path = f"/accounts/{alice.account_ids[0]}/transactions"
    plain = access.get(path, query_string={"fromBookingDateTime": "2026-05-10T10:00:00",
                                           "toBookingDateTime": "2026-05-20"}).get_json()
    for zoned in ("2026-05-10T10:00:00+05:00", "2026-05-10T10:00:00Z",
                  "2026-05-10T10:00:00-0800", "2026-05-10T10:00:00 01:00"):
        other = access.get(path, query_string={"fromBookingDateTime": zoned,
                                               "toBookingDateTime": "2026-05-20"}).get_json()
        assert other["Data"] == plain["Data"], zoned
    times = [t["BookingDateTime"] for t in plain["Data"]["Transaction"]]
    assert times and min(times) >= "2026-05-10T10:00:00" and max(times) <= "2026-05-20T00:00:00"
    assert plain["Links"]["Self"].endswith(
        "?fromBookingDateTime=2026-05-10T10%3A00%3A00&toBookingDateTime=2026-05-20T00%3A00%3A00")


def test_the_consent_period_bounds_transactions_and_statements(aisp, demo, grant):
    """TransactionFrom/ToDateTime narrow every filter; statements must lie wholly inside."""
    alice = demo("alice")
    access = grant(aisp, alice, EVERYTHING,
                   TransactionFromDateTime="2026-04-01T00:00:00+00:00",
                   TransactionToDateTime="2026-05-31T23:59:59+00:00")
    current = alice.account_ids[0]
    body = access.get(f"/accounts/{current}/transactions",
                      query_string={"fromBookingDateTime": "2020-01-01"}).get_json()
    assert body["Meta"]["FirstAvailableDateTime"] >= "2026-04-01T00:00:00"
    assert body["Meta"]["LastAvailableDateTime"] <= "2026-05-31T23:59:59+00:00"
    last_page = access.get(body["Links"]["Last"].split("/aisp", 1)[1]).get_json()
    booked = [t["BookingDateTime"] for t in body["Data"]["Transaction"]
              + last_page["Data"]["Transaction"]]
    assert min(booked) >= "2026-04-01" and max(booked) < "2026-06-01"
    statements = data_of(access.get(f"/accounts/{current}/statements"))["Statement"]
    assert sorted(s["StartDateTime"][:7] for s in statements) == ["2026-04", "2026-05"]
    wide = grant(aisp, alice, EVERYTHING)
    march = next(s for s in data_of(wide.get(f"/accounts/{current}/statements"))["Statement"]
                 if s["StartDateTime"].startswith("2026-03"))
    for suffix in ("", "/file", "/transactions"):
        response = access.get(f"/accounts/{current}/statements/{march['StatementId']}{suffix}")
        assert response.status_code == 403
        assert codes(response) == ["UK.InvisibleBank.Consent.OutsideTransactionPeriod"]


def test_statement_filters_keep_statements_wholly_between_them(alice_access):
    alice, access = alice_access
    statements = data_of(access.get(
        f"/accounts/{alice.account_ids[0]}/statements",
        query_string={"fromStatementDateTime": "2026-04-01",
                      "toStatementDateTime": "2026-05-31T23:59:59"}))["Statement"]
    assert sorted(s["StartDateTime"][:7] for s in statements) == ["2026-04", "2026-05"]


def test_statement_transactions_are_the_booked_transactions_of_its_period(alice_access):
    alice, access = alice_access
    current = alice.account_ids[0]
    april = next(s for s in data_of(access.get(f"/accounts/{current}/statements"))["Statement"]
                 if s["StartDateTime"].startswith("2026-04"))
    path = f"/accounts/{current}/statements/{april['StatementId']}/transactions"
    seen = []
    while path:
        body = access.get(path).get_json()
        seen += body["Data"]["Transaction"]
        path = body["Links"]["Next"].split("/aisp", 1)[1] if "Next" in body["Links"] else None
    listed = access.get(f"/accounts/{current}/transactions",
                        query_string={"fromBookingDateTime": "2026-04-01",
                                      "toBookingDateTime": "2026-04-30T23:59:59"})
    assert seen and {t["Status"] for t in seen} == {"Booked"}
    assert all(t["BookingDateTime"].startswith("2026-04") for t in seen)
    amounts = {a["Type"]: a["Amount"]["Amount"] for a in april["StatementAmount"]}
    credits = sum(float(t["Amount"]["Amount"]) for t in seen
                  if t["CreditDebitIndicator"] == "Credit")
    debits = sum(float(t["Amount"]["Amount"]) for t in seen
                 if t["CreditDebitIndicator"] == "Debit")
    assert f"{credits:.2f}" == amounts["UK.OBIE.TotalCredits"]
    assert f"{debits:.2f}" == amounts["UK.OBIE.TotalDebits"]
    assert listed.get_json()["Meta"]["TotalPages"] >= 1
