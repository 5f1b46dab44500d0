"""The sandbox control API (/sandbox/control): a TPP's CI approves or refuses a pushed
authorization headlessly as a sandbox customer and gets the redirect the browser would have
followed, then exchanges the code; revokes and expires consents (and the OB APIs see it at
once); fires events through real delivery; moves the clock. Authenticated as the client with
its own DPoP-bound client-credentials token; one client never acts on another's consents;
every bad input is an OB error body, never a 500."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from aspsp.identity import services as identity
from sandbox.control import SANDBOX_ONLY_URLS
from tests import factories
from tests.integration.consent.conftest import (  # noqa: F401  (fixtures used here)
    CONSENTS, make_tpp)
from tests.integration.events.conftest import (  # noqa: F401  (fixtures used here)
    EventsTpp, make_events_tpp, make_receiver, outbox)
from tests.integration.psu_web.test_payment_approval import add_payment_consent, domestic
from tests.oauth_tpp import Tpp as OAuthTpp
from tests.oauth_tpp import pkce_verifier, redirect_params
from tests.psu_factories import PASSWORD

CONTROL = "/sandbox/control"
APPROVE, REJECT = f"{CONTROL}/authorizations/approve", f"{CONTROL}/authorizations/reject"
REVOKED = "urn:uk:org:openbanking:events:consent-authorization-revoked"
RESOURCE_UPDATE = "urn:uk:org:openbanking:events:resource-update"
LINKED = "urn:uk:org:openbanking:events:account-access-consent-linked-account-update"


@pytest.fixture(autouse=True)
def _platform_knows_its_app(platform, app):
    platform.app = app


@pytest.fixture
def alice(platform, clock):
    """The demo customer alice (a sandbox customer: SCA shortcuts, headless approval), with a
    current account and a saver; and bob, a customer who is not a sandbox customer."""
    now = clock.now()
    with platform.uow() as uow:
        party = factories.party(uow, "Alice Morgan", now=now)
        uow.session.flush()
        psu = identity.create_psu(uow, username="alice", password=PASSWORD, party=party,
                                  now=now)
        current = factories.account(uow, now=now, owner=party, name="Everyday Current",
                                    funded="500.00")
        saver = factories.account(uow, now=now, owner=party, name="Easy Saver",
                                  sub_type="Savings", funded="50.00")
        bob_party = factories.party(uow, "Bob Real", now=now)
        uow.session.flush()
        identity.create_psu(uow, username="bob", password=PASSWORD, party=bob_party, now=now)
        factories.account(uow, now=now, owner=bob_party)
        uow.commit()
    return type("Alice", (), {"psu": psu, "current": current.account_id,
                              "saver": saver.account_id,
                              "current_number": current.sort_code + current.account_number})


@pytest.fixture
def tpp(make_events_tpp) -> EventsTpp:
    return make_events_tpp(roles=("AISP", "PISP", "CBPII"), name="CI Bot")


def control(tpp: EventsTpp, method: str, path: str, body=None, *, token: str | None = None,
            **kw):
    """A control API call with the client's own DPoP-bound client-credentials token."""
    return tpp.call(method, f"{CONTROL}{path}", token=token or tpp.token(), json=body,
                    sign=False, **kw)


def pushed(tpp: Tpp, consent_id: str, *, scope: str = "openid accounts") -> tuple[str, dict, str]:
    """The TPP pushes its authorization request (PAR): (request_uri, params, verifier)."""
    oauth = OAuthTpp(tpp.http, tpp.client, clock=tpp.clock)
    verifier = pkce_verifier()
    params = oauth.request_params(consent_id, verifier=verifier, scope=scope)
    response = oauth.par(params)
    assert response.status_code == 201, response.json
    return response.json["request_uri"], params, verifier


def ob_error(response, status: int, code: str) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"Code", "Id", "Message", "Errors"}
    assert body["Errors"][0]["ErrorCode"] == code, body
    return body["Errors"][0]["Message"]


# --- approve -------------------------------------------------------------------------------------
def test_ci_approves_a_pushed_request_and_exchanges_the_code_for_a_working_token(tpp, alice):
    consent_id = tpp.create_consent()
    request_uri, params, verifier = pushed(tpp, consent_id)
    response = control(tpp, "POST", "/authorizations/approve", {"request_uri": request_uri})
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["consent_id"] == consent_id and answer["status"] == "Authorised"
    assert answer["customer"] == "alice"
    assert sorted(answer["accounts"]) == sorted([alice.current, alice.saver])
    assert answer["redirect_uri"].startswith(params["redirect_uri"] + "?")
    returned = redirect_params(answer["redirect_uri"])
    assert returned["state"] == params["state"] and returned["iss"] == "http://localhost"

    oauth = OAuthTpp(tpp.http, tpp.client, clock=tpp.clock)
    tokens = oauth.token({"grant_type": "authorization_code", "code": returned["code"],
                          "redirect_uri": params["redirect_uri"], "code_verifier": verifier})
    assert tokens.status_code == 200, tokens.json
    accounts = tpp.call("GET", "/open-banking/v3.1/aisp/accounts",
                        token=tokens.json["access_token"], sign=False)
    assert accounts.status_code == 200, accounts.get_json()
    assert sorted(a["AccountId"] for a in accounts.get_json()["Data"]["Account"]) == \
        sorted([alice.current, alice.saver])


def test_a_sign_in_is_approved_and_rejected_headlessly_too(tpp, alice):
    """Scope openid alone, no intent (aspsp.oauth.authz_request): no consent, no accounts."""
    request_uri, params, verifier = pushed(tpp, None, scope="openid")
    response = control(tpp, "POST", "/authorizations/approve", {"request_uri": request_uri})
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert (answer["consent_id"], answer["status"], answer["accounts"]) == \
        (None, "Authorised", [])
    returned = redirect_params(answer["redirect_uri"])
    oauth = OAuthTpp(tpp.http, tpp.client, clock=tpp.clock)
    tokens = oauth.token({"grant_type": "authorization_code", "code": returned["code"],
                          "redirect_uri": params["redirect_uri"], "code_verifier": verifier})
    assert tokens.status_code == 200, tokens.json
    assert tokens.json["scope"] == "openid" and tokens.json["id_token"]

    request_uri, params, _ = pushed(tpp, None, scope="openid")
    refused = control(tpp, "POST", "/authorizations/reject", {"request_uri": request_uri})
    assert refused.status_code == 200, refused.get_json()
    assert (refused.get_json()["consent_id"], refused.get_json()["status"]) == (None, "Rejected")
    assert redirect_params(refused.get_json()["redirect_uri"])["error"] == "access_denied"


def test_approving_by_consent_id_picks_the_accounts_named(tpp, alice):
    consent_id = tpp.create_consent()
    pushed(tpp, consent_id)
    response = control(tpp, "POST", "/authorizations/approve",
                       {"consent_id": consent_id, "customer": "alice",
                        "accounts": [alice.saver]})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["accounts"] == [alice.saver]
    got = tpp.call("GET", f"{CONSENTS}/{consent_id}", token=tpp.token(), sign=False)
    assert got.get_json()["Data"]["Status"] == "Authorised"


def test_a_journey_a_browser_started_is_approved_by_consent_id(tpp, alice):
    consent_id = tpp.create_consent()
    request_uri, params, _ = pushed(tpp, consent_id)
    started = tpp.http.get("/authorize", query_string={"client_id": tpp.client_id,
                                                       "request_uri": request_uri})
    assert started.status_code == 303
    response = control(tpp, "POST", "/authorizations/approve", {"consent_id": consent_id})
    assert response.status_code == 200, response.get_json()
    assert redirect_params(response.get_json()["redirect_uri"])["state"] == params["state"]
    # the browser's pages are finished with it
    assert tpp.http.get(started.headers["Location"]).status_code == 404


def test_rejecting_returns_the_error_redirect_and_the_consent_is_rejected(tpp, alice):
    consent_id = tpp.create_consent()
    request_uri, params, _ = pushed(tpp, consent_id)
    response = control(tpp, "POST", "/authorizations/reject", {"request_uri": request_uri})
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["status"] == "Rejected"
    returned = redirect_params(answer["redirect_uri"])
    assert returned["error"] == "access_denied" and returned["state"] == params["state"]
    got = tpp.call("GET", f"{CONSENTS}/{consent_id}", token=tpp.token(), sign=False)
    assert got.get_json()["Data"]["Status"] == "Rejected"
    # decided: a second decision is refused clearly
    again = control(tpp, "POST", "/authorizations/approve", {"request_uri": request_uri})
    assert "already used" in ob_error(again, 400, "UK.OBIE.Field.Invalid")


def test_a_payment_is_approved_from_the_debtor_account_chosen(tpp, alice, platform, clock):
    with platform.uow() as uow:
        consent = add_payment_consent(uow, tpp.client, "domestic-payment", domestic(), clock.now())
        uow.commit()
    request_uri, _, _ = pushed(tpp, consent.consent_id, scope="openid payments")
    response = control(tpp, "POST", "/authorizations/approve",
                       {"request_uri": request_uri, "debtor_account": alice.saver})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["accounts"] == [alice.saver]
    assert "code" in redirect_params(response.get_json()["redirect_uri"])


def test_a_payment_from_an_account_the_customer_cannot_pay_from_is_refused_by_the_bank(
        tpp, alice, platform, clock):
    named = domestic(DebtorAccount={"SchemeName": "UK.OBIE.SortCodeAccountNumber",
                                    "Identification": "99999912345678", "Name": "Not hers"})
    with platform.uow() as uow:
        consent = add_payment_consent(uow, tpp.client, "domestic-payment", named, clock.now())
        uow.commit()
    request_uri, _, _ = pushed(tpp, consent.consent_id, scope="openid payments")
    response = control(tpp, "POST", "/authorizations/approve", {"request_uri": request_uri})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "Rejected"
    assert redirect_params(response.get_json()["redirect_uri"])["error"] == "access_denied"


def test_a_debtor_account_that_is_not_payable_is_a_clear_error(tpp, alice, platform, clock):
    with platform.uow() as uow:
        consent = add_payment_consent(uow, tpp.client, "domestic-payment", domestic(), clock.now())
        uow.commit()
    request_uri, _, _ = pushed(tpp, consent.consent_id, scope="openid payments")
    message = ob_error(control(tpp, "POST", "/authorizations/approve",
                               {"request_uri": request_uri, "debtor_account": "nope"}),
                       400, "UK.OBIE.Field.Invalid")
    assert alice.current in message and alice.saver in message
    # nothing was decided: the same request is approved once asked properly
    ok = control(tpp, "POST", "/authorizations/approve", {"request_uri": request_uri})
    assert ok.status_code == 200, ok.get_json()


def test_only_sandbox_customers_approve_headlessly(tpp, alice):
    consent_id = tpp.create_consent()
    request_uri, _, _ = pushed(tpp, consent_id)
    for who in ("bob", "nobody", 7):
        message = ob_error(control(tpp, "POST", "/authorizations/approve",
                                   {"request_uri": request_uri, "customer": who}),
                           400, "UK.OBIE.Field.Invalid")
        assert "alice" in message or "string" in message


def test_approval_refusals_are_clear(tpp, alice, make_events_tpp):
    consent_id = tpp.create_consent()
    assert "either request_uri" in ob_error(
        control(tpp, "POST", "/authorizations/approve", {}), 400, "UK.OBIE.Field.Missing")
    assert "push one" in ob_error(
        control(tpp, "POST", "/authorizations/approve", {"consent_id": consent_id}),
        400, "UK.OBIE.Resource.NotFound")
    assert "unknown" in ob_error(
        control(tpp, "POST", "/authorizations/approve",
                {"request_uri": "urn:ietf:params:oauth:request_uri:nope"}),
        400, "UK.OBIE.Field.Invalid")
    ob_error(control(tpp, "POST", "/authorizations/approve", {"consent_id": consent_id,
                                                              "colour": "blue"}),
             400, "UK.OBIE.Field.Unexpected")
    # another client's request and consent are nobody's business of this one
    request_uri, _, _ = pushed(tpp, consent_id)
    other = make_events_tpp(name="Other")
    ob_error(control(other, "POST", "/authorizations/approve", {"request_uri": request_uri}),
             400, "UK.OBIE.Field.Invalid")
    ob_error(control(other, "POST", "/authorizations/approve", {"consent_id": consent_id}),
             404, "UK.OBIE.Resource.NotFound")


# --- authentication -----------------------------------------------------------------------------
def test_the_caller_must_present_its_own_sender_constrained_client_credentials_token(
        tpp, alice):
    no_token = tpp.http.post(f"{CONTROL}/clock/advance", json={"days": 1})
    assert no_token.status_code == 401 and no_token.get_data() == b""
    assert "DPoP" in no_token.headers["WWW-Authenticate"]
    no_proof = tpp.call("POST", f"{CONTROL}/clock/advance", token=tpp.token(),
                        json={"days": 1}, proof=False, sign=False)
    assert no_proof.status_code == 401
    assert 'error="invalid_dpop_proof"' in no_proof.headers["WWW-Authenticate"]
    psu_token = tpp.token(grant_type="authorization_code", psu=alice.psu)
    refused = control(tpp, "GET", "/clock", token=psu_token)
    ob_error(refused, 403, "UK.InvisibleBank.Token.WrongGrantType")


def test_an_mtls_client_calls_with_its_certificate_bound_token(platform, client, clock):
    from tests.certs import client_certificate
    from tests.oauth_factories import make_client

    platform.config["TRUSTED_PROXIES"] = "127.0.0.1"
    cert, dn = client_certificate("mtls-ci-bot")
    with platform.uow() as uow:
        mtls = make_client(uow, now=clock.now(), auth_method="tls_client_auth")
        mtls.row.client_metadata = {**mtls.row.client_metadata,
                                    "tls_client_auth_subject_dn": dn}
        uow.commit()
    issued = client.post("/token", data={"grant_type": "client_credentials",
                                         "scope": "accounts", "client_id": mtls.client_id},
                         headers={"X-SSL-Client-Cert": cert},
                         environ_base={"REMOTE_ADDR": "127.0.0.1"})
    token = issued.json["access_token"]
    ok = client.get(f"{CONTROL}/clock", headers={"Authorization": f"Bearer {token}",
                                                 "X-SSL-Client-Cert": cert},
                    environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert ok.status_code == 200, ok.get_json()
    other, _ = client_certificate("someone-else")
    refused = client.get(f"{CONTROL}/clock", headers={"Authorization": f"Bearer {token}",
                                                      "X-SSL-Client-Cert": other},
                         environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert refused.status_code == 401
    assert "certificate" in refused.headers["WWW-Authenticate"]


# --- revoke, expire ------------------------------------------------------------------------------
def approved(tpp, consent_id: str) -> str:
    request_uri, params, verifier = pushed(tpp, consent_id)
    answer = control(tpp, "POST", "/authorizations/approve", {"request_uri": request_uri})
    assert answer.status_code == 200, answer.get_json()
    code = redirect_params(answer.get_json()["redirect_uri"])["code"]
    tokens = OAuthTpp(tpp.http, tpp.client, clock=tpp.clock).token({
        "grant_type": "authorization_code", "code": code,
        "redirect_uri": params["redirect_uri"], "code_verifier": verifier})
    return tokens.json["access_token"]


def test_a_revocation_by_the_customer_stops_the_token_and_raises_the_event(
        tpp, alice, make_receiver):
    receiver = make_receiver()
    tpp.subscribe(receiver.url)
    consent_id = tpp.create_consent()
    token = approved(tpp, consent_id)
    response = control(tpp, "POST", f"/consents/{consent_id}/revoke")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "Revoked"
    accounts = tpp.call("GET", "/open-banking/v3.1/aisp/accounts", token=token, sign=False)
    assert accounts.status_code == 401
    [pushed_set] = receiver.tokens()
    claims = json.loads(_payload(pushed_set))
    assert REVOKED in claims["events"] and claims["events"][REVOKED] == {}
    again = control(tpp, "POST", f"/consents/{consent_id}/revoke")
    assert "Revoked" in ob_error(again, 400, "UK.OBIE.Resource.InvalidConsentStatus")


def test_a_revocation_by_the_bank_carries_its_reason(tpp, alice, make_receiver):
    receiver = make_receiver()
    tpp.subscribe(receiver.url)
    consent_id = tpp.create_consent()
    approved(tpp, consent_id)
    bad = control(tpp, "POST", f"/consents/{consent_id}/revoke", {"by": "bank",
                                                                  "reason": "boredom"})
    assert "fraud" in ob_error(bad, 400, "UK.OBIE.Field.Invalid")
    response = control(tpp, "POST", f"/consents/{consent_id}/revoke",
                       {"by": "bank", "reason": "fraud"})
    assert response.status_code == 200 and response.get_json()["status"] == "Revoked"
    claims = json.loads(_payload(receiver.tokens()[-1]))
    assert claims["events"][REVOKED] == {"reason": "UK.InvisibleBank.SuspectedFraud"}


def test_expiring_now_moves_the_expiry_and_the_consent_is_expired_everywhere(
        tpp, alice, clock):
    consent_id = tpp.create_consent(ExpirationDateTime=(clock.now() + timedelta(days=30))
                                    .isoformat())
    token = approved(tpp, consent_id)
    response = control(tpp, "POST", f"/consents/{consent_id}/expire")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "Expired"
    got = tpp.call("GET", f"{CONSENTS}/{consent_id}", token=tpp.token(), sign=False)
    data = got.get_json()["Data"]
    # v3.1 has no Expired for this resource (consent.api): its expiry, now passed, says it
    assert data["ExpirationDateTime"] == clock.now().isoformat()
    assert tpp.call("GET", "/open-banking/v3.1/aisp/accounts", token=token,
                    sign=False).status_code == 401
    again = control(tpp, "POST", f"/consents/{consent_id}/expire")
    assert "Expired" in ob_error(again, 400, "UK.OBIE.Resource.InvalidConsentStatus")


def test_a_client_never_touches_another_clients_consent(tpp, alice, make_events_tpp):
    consent_id = tpp.create_consent()
    other = make_events_tpp(name="Nosy")
    for path in (f"/consents/{consent_id}/revoke", f"/consents/{consent_id}/expire"):
        ob_error(control(other, "POST", path), 404, "UK.OBIE.Resource.NotFound")
    ob_error(control(other, "POST", "/events", {"event_type": RESOURCE_UPDATE,
                                                "consent_id": consent_id}),
             404, "UK.OBIE.Resource.NotFound")
    got = tpp.call("GET", f"{CONSENTS}/{consent_id}", token=tpp.token(), sign=False)
    assert got.get_json()["Data"]["Status"] == "AwaitingAuthorisation"


# --- events ----------------------------------------------------------------------------------------
def test_a_fired_event_is_pushed_to_the_callback_signed(tpp, alice, make_receiver):
    receiver = make_receiver()
    tpp.subscribe(receiver.url)
    consent_id = tpp.create_consent()
    response = control(tpp, "POST", "/events", {"event_type": LINKED,
                                                "consent_id": consent_id, "reason": "cass"})
    assert response.status_code == 201, response.get_json()
    answer = response.get_json()
    assert answer["delivery"] == "push"
    assert answer["subject"] == {"rid": consent_id, "rty": "account-access-consent"}
    [token] = receiver.tokens()
    claims = json.loads(_payload(token))
    assert claims["jti"] == answer["jti"] and claims["aud"] == tpp.client_id
    assert claims["events"][LINKED]["reason"] == "UK.OBIE.CASS"


def test_without_a_callback_the_fired_event_waits_for_polling(tpp, alice):
    tpp.subscribe()                                     # polling only
    consent_id = tpp.create_consent()
    response = control(tpp, "POST", "/events", {"event_type": RESOURCE_UPDATE,
                                                "consent_id": consent_id})
    assert response.status_code == 201 and response.get_json()["delivery"] == "polling"
    polled = tpp.poll({"maxEvents": 10})
    assert list(polled.get_json()["sets"]) == [response.get_json()["jti"]]


def test_event_refusals_are_clear(tpp, alice):
    consent_id = tpp.create_consent()
    assert "subscription" in ob_error(
        control(tpp, "POST", "/events", {"event_type": RESOURCE_UPDATE,
                                         "consent_id": consent_id}),
        409, "UK.InvisibleBank.Sandbox.NoEventSubscription")
    tpp.subscribe()
    ob_error(control(tpp, "POST", "/events", {"event_type": "urn:nope",
                                              "consent_id": consent_id}),
             400, "UK.OBIE.Unsupported.EventType")
    ob_error(control(tpp, "POST", "/events", {"consent_id": consent_id}),
             400, "UK.OBIE.Field.Missing")
    ob_error(control(tpp, "POST", "/events", {"event_type": RESOURCE_UPDATE}),
             400, "UK.OBIE.Field.Missing")
    ob_error(control(tpp, "POST", "/events", {"event_type": RESOURCE_UPDATE,
                                              "payment_id": "pay-unknown"}),
             404, "UK.OBIE.Resource.NotFound")
    ob_error(control(tpp, "POST", "/events", {"event_type": REVOKED, "consent_id": consent_id,
                                              "reason": "whim"}),
             400, "UK.OBIE.Field.Invalid")


# --- the clock -------------------------------------------------------------------------------------
def test_the_clock_moves_forward_only(tpp, clock):
    before = clock.now()
    response = control(tpp, "POST", "/clock/advance", {"days": 2, "hours": 3})
    assert response.status_code == 200, response.get_json()
    assert clock.now() == before + timedelta(days=2, hours=3)
    assert response.get_json()["now"] == clock.now().isoformat()
    shown = control(tpp, "GET", "/clock")
    assert shown.get_json()["now"] == clock.now().isoformat()
    for body in ({}, {"days": -1}, {"days": "2"}, {"days": 1.5}, {"days": True},
                 {"weeks": 1}, {"days": 1, "run_schedules": "yes"}):
        response = control(tpp, "POST", "/clock/advance", body)
        assert response.status_code == 400, (body, response.get_json())
    assert clock.now() == before + timedelta(days=2, hours=3)


def test_a_control_call_without_a_body_is_fine_and_a_bad_body_is_a_clear_error(tpp, alice):
    consent_id = tpp.create_consent()
    token = tpp.token()
    bare = tpp.call("POST", f"{CONTROL}/consents/{consent_id}/expire", token=token, sign=False)
    assert bare.status_code == 200, bare.get_json()
    for data, content_type, status in ((b"{", "application/json", 400),
                                       (b"[1]", "application/json", 400),
                                       (b"days=1", "text/plain", 415),
                                       (b"\xff\xfe", "application/json", 400)):
        response = tpp.call("POST", f"{CONTROL}/clock/advance", token=tpp.token(),
                            data=data, content_type=content_type, sign=False)
        assert response.status_code == status, (data, response.get_data(as_text=True))
        assert response.get_json()["Errors"]


@pytest.mark.parametrize("body", [
    {"request_uri": ["x"]}, {"consent_id": {"a": 1}}, {"request_uri": "x" * 10_000},
    {"consent_id": "\x00"}, {"consent_id": "a", "accounts": "all"},
    {"consent_id": "a", "accounts": [None]}, {"request_uri": "u", "consent_id": "c"},
    {"consent_id": "a", "debtor_account": 5}])
def test_no_input_is_a_500(tpp, alice, body):
    for path in ("/authorizations/approve", "/authorizations/reject", "/events"):
        response = control(tpp, "POST", path, body)
        assert 400 <= response.status_code < 500, (path, body, response.get_data(as_text=True))
        assert response.get_json()["Errors"]


def test_the_list_of_sandbox_only_urls_names_every_control_endpoint(app):
    listed = {rule for _, rule, _ in SANDBOX_ONLY_URLS}
    control_rules = {r.rule for r in app.url_map.iter_rules()
                     if r.endpoint.startswith("sandbox_control.")}
    assert control_rules and control_rules <= listed


def _payload(token: str) -> bytes:
    import base64
    part = token.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
