"""Re-authentication of a VRP consent and the bank's revocation of one (OBIE VRP profile
v3.1.11, "Consent Re-authentication" and "Consent Revocation"), through the real flows: the
PISP pushes an authorization request (PAR) for its Authorised consent, the customer goes
through /authorize and the bank's pages again (log in, sign the mandate, pick the account),
and the code comes back to be exchanged at /token.

- Re-authentication keeps the consent: its ConsentId, its ControlParameters, its Authorised
  status and what its VRPs already used of each limit; the tokens issued before stop working,
  the new one pays.
- A revocation at the bank (`flask consents revoke`/`revoke-client`), or by the customer on
  the dashboard, leaves the status
  unchanged (Authorised, the v3.1.11 VRP consent enum has no Revoked), kills its tokens and any
  code not yet exchanged, tells the PISP (consent-authorization-revoked with the reason), and
  refuses every later VRP and funds confirmation until the customer re-authenticates it.
"""
from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import pyotp
import pytest
from sqlalchemy import select

from aspsp import events
from aspsp.events.models import EventNotification, EventSubscription
from aspsp.identity import dynamic_linking as dl
from consent.models import Consent
from tests.integration.pis.conftest import SigningTpp
from tests.integration.psu_web.conftest import Browser
from tests.integration.psu_web.test_payment_approval import RISK, log_in
from tests.oauth_tpp import Tpp as OAuthTpp
from tests.oauth_tpp import pkce_verifier, redirect_params

from .conftest import CONSENTS, VRPS, vrp_body
from .test_vrp_approval import CONTROLS, PAYEE, vrp_world

BODY = {"Data": {"ControlParameters": CONTROLS,
                 "Initiation": {"CreditorAccount": PAYEE,
                                "RemittanceInformation": {"Reference": "SWEEP"}}},
        "Risk": RISK}


@pytest.fixture(autouse=True)
def _platform_knows_its_app(platform, app):
    platform.app = app


class Pisp:
    """The world's TPP seen from both sides: OAuth (PAR, /token) and the signed VRP API."""

    def __init__(self, app, platform, clock, world):
        http = app.test_client()
        self.oauth = OAuthTpp(http, world.tpp, clock=clock)
        self.api = SigningTpp(http, platform, clock, world.tpp)
        self.world, self.clock = world, clock

    def cc(self) -> str:
        return self.api.token(scope="payments")

    def consent(self) -> dict:
        response = self.api.call("GET", f"{CONSENTS}/{self.world.consent_id}", token=self.cc())
        assert response.status_code == 200, response.get_json()
        return response.get_json()["Data"]

    def pay(self, token: str, amount: str = "10.00"):
        return self.api.call("POST", VRPS, token=token,
                             json=vrp_body(self.world.consent_id, BODY, amount),
                             headers={"x-idempotency-key": uuid.uuid4().hex})

    def funds(self, token: str):
        return self.api.call(
            "POST", f"{CONSENTS}/{self.world.consent_id}/funds-confirmation", token=token,
            json={"Data": {"ConsentId": self.world.consent_id, "Reference": "check",
                           "InstructedAmount": {"Amount": "1.00", "Currency": "GBP"}}})

    def push(self):
        verifier = pkce_verifier()
        params = self.oauth.request_params(self.world.consent_id, verifier=verifier,
                                           scope="openid payments")
        return self.oauth.par(params), params, verifier

    def exchange(self, location: str, params: dict, verifier: str) -> str:
        returned = redirect_params(location)
        assert returned["state"] == params["state"], returned
        response = self.oauth.token({"grant_type": "authorization_code",
                                     "code": returned["code"],
                                     "redirect_uri": params["redirect_uri"],
                                     "code_verifier": verifier})
        assert response.status_code == 200, response.json
        return response.json["access_token"]


def authorise_first(app, platform, clock, world) -> str:
    """The customer's first approval on the bank's pages; the code it gives is exchanged."""
    browser = Browser(app.test_client())
    log_in(browser, world)
    signed = dl.code_at(world.secret, dl.mandate_to_sign("250.00", "GBP", PAYEE["Identification"]),
                        clock.now())
    assert browser.submit(f"{world.url}/code", {"code": signed}).status_code == 200
    decision = browser.submit(f"{world.url}/decision", {"decision": "approve",
                                                        "debtor_account": world.current},
                              follow=False)
    assert decision.status_code == 303
    code = redirect_params(decision.headers["Location"])["code"]
    pisp = Pisp(app, platform, clock, world)
    response = pisp.oauth.token({"grant_type": "authorization_code", "code": code,
                                 "redirect_uri": world.redirect_uri,
                                 "code_verifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"})
    assert response.status_code == 200, response.json
    return response.json["access_token"]


def reauthenticate(app, pisp: Pisp, world, clock, *, decision: str = "approve",
                   account: str | None = None, username: str | None = None):
    """The PISP sends the customer back for the consent; the customer goes through the bank's
    pages again. Returns the approval page and the decision's response."""
    clock.advance(timedelta(seconds=31))      # a one-time code is good once: the next one
    pushed, params, verifier = pisp.push()
    assert pushed.status_code == 201, pushed.json
    browser = Browser(app.test_client())
    response = browser.http.get("/authorize", query_string={
        "client_id": pisp.oauth.client_id, "request_uri": pushed.json["request_uri"]})
    assert response.status_code == 303, response.get_data(as_text=True)
    pages = response.headers["Location"]
    assert urlsplit(pages).path.startswith("/psu/authorize/")
    browser.get(pages)
    browser.submit(f"{pages}/login", {"username": username or world.username,
                                      "password": world.password})
    signed = dl.code_at(world.secret, dl.mandate_to_sign("250.00", "GBP", PAYEE["Identification"]),
                        clock.now())
    assert browser.submit(f"{pages}/code", {"code": signed}).status_code == 200
    page = browser.html
    form = {"decision": decision}
    if decision == "approve":
        form["debtor_account"] = account or world.current
    response = browser.submit(f"{pages}/decision", form, follow=False)
    return page, response, params, verifier


def flask(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def history(platform, world) -> list[tuple]:
    with platform.uow() as uow:
        row = uow.session.get(Consent, world.consent_pk)
        return [(e.from_status, e.to_status, e.actor, e.reason) for e in row.events]


def revocations(platform, world) -> list[dict]:
    with platform.uow() as uow:
        rows = uow.session.scalars(select(EventNotification).where(
            EventNotification.client_pk == world.tpp.row.id,
            EventNotification.event_type == events.CONSENT_AUTHORIZATION_REVOKED))
        return [row.claims["events"][events.CONSENT_AUTHORIZATION_REVOKED] for row in rows]


# --- re-authentication -----------------------------------------------------------------------
def test_the_customer_re_authenticates_a_vrp_consent_which_keeps_its_id_limits_and_use(
        app, platform, clock):
    world = vrp_world(platform, clock)
    first = authorise_first(app, platform, clock, world)
    pisp = Pisp(app, platform, clock, world)
    assert pisp.pay(first, "120.00").status_code == 201
    before = pisp.consent()

    page, decision, params, verifier = reauthenticate(app, pisp, world, clock)
    assert "Sweepr</span> would like to make variable recurring payments" in page
    assert "up to £250 a payment, £1,000 a month, until 1 June 2027" in page
    assert decision.status_code == 303
    token = pisp.exchange(decision.headers["Location"], params, verifier)

    after = pisp.consent()
    assert after["ConsentId"] == world.consent_id and after["Status"] == "Authorised"
    assert after["ControlParameters"] == before["ControlParameters"]
    assert history(platform, world)[-1] == ("Authorised", "Authorised", "psu",
                                            "re-authenticated by the customer")
    assert pisp.pay(first).status_code == 401                 # the old token stopped
    for _ in range(3):                                        # the new one pays
        assert pisp.pay(token, "250.00").status_code == 201
    # the limit kept its use: 120 + 3 x 250 = 870 of 1,000 this month, so 250 more is over
    refused = pisp.pay(token, "250.00")
    assert refused.status_code == 400
    assert refused.get_json()["Errors"][0]["ErrorCode"] == "UK.OBIE.Rules.FailsControlParameters"


def test_declining_the_re_authentication_leaves_the_consent_and_its_token_as_they_were(
        app, platform, clock):
    world = vrp_world(platform, clock)
    first = authorise_first(app, platform, clock, world)
    pisp = Pisp(app, platform, clock, world)
    events_before = history(platform, world)

    _, decision, _, _ = reauthenticate(app, pisp, world, clock, decision="deny")
    assert decision.status_code == 303
    assert redirect_params(decision.headers["Location"])["error"] == "access_denied"
    assert pisp.consent()["Status"] == "Authorised"
    assert history(platform, world) == events_before
    assert pisp.pay(first).status_code == 201


def test_only_the_customer_who_authorised_it_can_re_authenticate_it(app, platform, clock):
    world = vrp_world(platform, clock)
    first = authorise_first(app, platform, clock, world)
    pisp = Pisp(app, platform, clock, world)
    stranger = vrp_world(platform, clock)          # another customer of the bank
    world_as_stranger = type(world)(**{**vars(world), "username": stranger.username,
                                       "secret": stranger.secret})
    _, decision, _, _ = reauthenticate(app, pisp, world_as_stranger, clock,
                                       account=stranger.current)
    assert decision.status_code == 422
    assert "another customer authorised this consent" in decision.get_data(as_text=True)
    assert pisp.consent()["Status"] == "Authorised"
    assert pisp.pay(first).status_code == 201


def test_an_expired_vrp_consent_or_an_authorised_ais_one_cannot_be_sent_back(
        app, platform, clock):
    world = vrp_world(platform, clock, controls={
        **CONTROLS, "ValidToDateTime": "2026-07-01T00:00:00+00:00"})
    with platform.uow() as uow:
        row = uow.session.get(Consent, world.consent_pk)
        row.expiration_datetime = clock.now().replace(year=2026, month=7, day=1, hour=0,
                                                      minute=0, second=0, microsecond=0)
        uow.commit()
    authorise_first(app, platform, clock, world)
    pisp = Pisp(app, platform, clock, world)
    clock.advance(timedelta(days=40))                   # past its ValidToDateTime
    pushed, _, _ = pisp.push()
    assert pushed.status_code == 400
    assert pushed.json["error"] == "invalid_request"
    assert "not awaiting authorisation" in pushed.json["error_description"]


# --- the bank revokes --------------------------------------------------------------------------
def test_a_bank_revocation_keeps_the_status_stops_every_vrp_and_a_re_authentication_restores(
        app, platform, clock):
    world = vrp_world(platform, clock)
    with platform.uow() as uow:                 # the PISP polls for its events
        uow.session.add(EventSubscription(
            subscription_id="sub-reauth", client_pk=world.tpp.row.id, callback_url=None,
            version="3.1", event_types=None, created_at=clock.now(), updated_at=clock.now()))
        uow.commit()
    first = authorise_first(app, platform, clock, world)
    pisp = Pisp(app, platform, clock, world)
    before = pisp.consent()

    result = flask(app, "consents", "revoke", world.consent_id, "--reason", "fraud",
                   "--operator", "ops-7")
    assert result.exit_code == 0, result.output
    assert f"{world.consent_id} Authorised, its access revoked" in result.output

    after = pisp.consent()
    assert (after["Status"], after["StatusUpdateDateTime"]) == \
        ("Authorised", before["StatusUpdateDateTime"])
    assert pisp.pay(first).status_code == 401
    assert pisp.funds(first).status_code == 401
    assert revocations(platform, world) == [{"reason": "UK.InvisibleBank.SuspectedFraud"}]
    assert history(platform, world)[-1] == ("Authorised", "Authorised", "system",
                                            "revoked by the bank: UK.InvisibleBank.SuspectedFraud")
    again = flask(app, "consents", "revoke", world.consent_id, "--reason", "fraud")
    assert again.exit_code == 1 and "access is already revoked" in again.output
    every = flask(app, "consents", "revoke-client", world.tpp.client_id, "--reason",
                  "tpp-unauthorised")
    assert every.exit_code == 0 and "0 consents" in every.output
    assert len(revocations(platform, world)) == 1          # told once

    _, decision, params, verifier = reauthenticate(app, pisp, world, clock)
    token = pisp.exchange(decision.headers["Location"], params, verifier)
    assert pisp.pay(token).status_code == 201
    assert pisp.consent()["Status"] == "Authorised"


def test_a_code_not_yet_exchanged_when_the_bank_revokes_gives_no_token(app, platform, clock):
    world = vrp_world(platform, clock)
    authorise_first(app, platform, clock, world)
    pisp = Pisp(app, platform, clock, world)
    _, decision, params, verifier = reauthenticate(app, pisp, world, clock)
    assert decision.status_code == 303
    assert flask(app, "consents", "revoke", world.consent_id, "--reason",
                 "bank-decision").exit_code == 0
    returned = redirect_params(decision.headers["Location"])
    response = pisp.oauth.token({"grant_type": "authorization_code", "code": returned["code"],
                                 "redirect_uri": params["redirect_uri"],
                                 "code_verifier": verifier})
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_the_customer_sees_the_bank_stopped_the_access(app, platform, clock):
    world = vrp_world(platform, clock)
    authorise_first(app, platform, clock, world)
    assert flask(app, "consents", "revoke", world.consent_id, "--reason",
                 "bank-decision").exit_code == 0
    dashboard = Browser(app.test_client())
    dashboard.get("/psu/login")
    dashboard.submit("/psu/login", {"username": world.username, "password": world.password})
    dashboard.submit("/psu/login/code", {"code": pyotp.TOTP(world.secret).at(clock.now())})
    dashboard.get("/psu/consents")
    assert "The bank stopped Sweepr&#39;s access until you confirm it again" in dashboard.html


def test_the_customer_stopping_it_on_the_dashboard_keeps_the_status_until_re_authenticated(
        app, platform, clock):
    world = vrp_world(platform, clock)
    with platform.uow() as uow:
        uow.session.add(EventSubscription(
            subscription_id="sub-psu-stop", client_pk=world.tpp.row.id, callback_url=None,
            version="3.1", event_types=None, created_at=clock.now(), updated_at=clock.now()))
        uow.commit()
    first = authorise_first(app, platform, clock, world)
    pisp = Pisp(app, platform, clock, world)
    before = pisp.consent()
    dashboard = Browser(app.test_client())
    dashboard.get("/psu/login")
    dashboard.submit("/psu/login", {"username": world.username, "password": world.password})
    clock.advance(timedelta(seconds=31))
    dashboard.submit("/psu/login/code", {"code": pyotp.TOTP(world.secret).at(clock.now())})
    dashboard.get(f"/psu/consents/{world.consent_id}/revoke")
    assert dashboard.submit(f"/psu/consents/{world.consent_id}/revoke", {}).status_code == 200

    after = pisp.consent()
    assert (after["Status"], after["StatusUpdateDateTime"]) == \
        ("Authorised", before["StatusUpdateDateTime"])
    assert pisp.pay(first).status_code == 401
    assert len(revocations(platform, world)) == 1             # the PISP is told
    again = dashboard.get(f"/psu/consents/{world.consent_id}/revoke")    # nothing to revoke
    assert (again.status_code, again.headers["Location"]) == (303, "/psu/consents")

    _, decision, params, verifier = reauthenticate(app, pisp, world, clock)
    token = pisp.exchange(decision.headers["Location"], params, verifier)
    assert pisp.pay(token).status_code == 201
    dashboard.get("/psu/consents")
    assert "You confirmed the payments again" in dashboard.html
    assert "Revoke access" in dashboard.html
