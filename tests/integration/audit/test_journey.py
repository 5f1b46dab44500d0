"""A real journey leaves its audit trail: a TPP's consent made through the API, the customer
approving it on the bank's pages (password, one-time code), the code exchanged for tokens at
/token and refreshed, an account read, the token revoked at /revoke. Each step is one record
with its actor, address and interaction id; `flask audit verify` passes on the whole trail; no password,
one-time code, authorization code, token or client assertion appears in any record."""
from __future__ import annotations

import json
import uuid

import pyotp
import pytest
from sqlalchemy import select

from aspsp.audit import services
from aspsp.audit.models import AuditRecord
from aspsp.identity.services import totp_secret
from tests import factories
from tests.integration.psu_web.conftest import Browser
from tests.oauth_factories import dpop_proof, make_client
from tests.oauth_tpp import HOST, Tpp, pkce_verifier, redirect_params
from tests.psu_factories import PASSWORD, psu

CONSENTS = "/open-banking/v3.1/aisp/account-access-consents"
ACCOUNTS = "/open-banking/v3.1/aisp/accounts"


@pytest.fixture(autouse=True)
def _platform_knows_its_app(platform, app):
    platform.app = app


def trail(platform) -> list[dict]:
    with platform.uow() as uow:
        return [services.as_fields(row) for row in
                uow.session.scalars(select(AuditRecord).order_by(AuditRecord.seq))]


def resource_call(http, tpp: Tpp, method: str, path: str, token: str, *, clock, **kw):
    headers = {"Authorization": f"DPoP {token}",
               "DPoP": dpop_proof(tpp.client.dpop_key, method, HOST + path,
                                  access_token=token, iat=int(clock.now().timestamp())),
               **kw.pop("headers", {})}
    return http.open(path, method=method, headers=headers, **kw)


def test_an_ais_journey_is_audited_and_verifies(app, client, platform, clock):
    now = clock.now()
    with platform.uow() as uow:
        tpp_client = make_client(uow, now=now, name="Budget Buddy")
        customer = psu(uow, now=now, name="Alice Morgan")
        account = factories.account(uow, now=now, owner=customer.party, name="Everyday")
        uow.commit()
    tpp = Tpp(client, tpp_client, clock=clock)
    totp = pyotp.TOTP(totp_secret(customer, platform.keyring))
    secrets_used = [PASSWORD]

    # the TPP's consent, through the API, with its interaction id
    made = tpp.client_credentials("accounts")
    assert made.status_code == 200, made.json
    cc_token = made.json["access_token"]
    secrets_used.append(cc_token)
    consent_interaction = str(uuid.uuid4())
    created = resource_call(client, tpp, "POST", CONSENTS, cc_token, clock=clock,
                            json={"Data": {"Permissions": ["ReadAccountsDetail",
                                                           "ReadBalances"]}, "Risk": {}},
                            headers={"x-fapi-interaction-id": consent_interaction})
    assert created.status_code == 201, created.get_json()
    consent_id = created.get_json()["Data"]["ConsentId"]

    # the customer approves on the bank's pages
    verifier = pkce_verifier()
    params = tpp.request_params(consent_id, verifier=verifier)
    pushed = tpp.par(params)
    assert pushed.status_code == 201, pushed.json
    browser = Browser(app.test_client())
    pages = browser.http.get("/authorize", query_string={
        "client_id": tpp.client_id, "request_uri": pushed.json["request_uri"]}
    ).headers["Location"]
    browser.get(pages)
    browser.submit(f"{pages}/login", {"username": customer.username, "password": PASSWORD})
    one_time_code = totp.at(clock.now())
    secrets_used.append(one_time_code)
    browser.submit(f"{pages}/code", {"code": one_time_code})
    decision = browser.submit(f"{pages}/decision", {"decision": "approve",
                                                    "account": [account.account_id]})
    assert decision.status_code == 303
    code = redirect_params(decision.headers["Location"])["code"]
    secrets_used.append(code)

    # the code exchanged for tokens, an account read, the token revoked
    token_interaction = str(uuid.uuid4())
    tokens = tpp.token({"grant_type": "authorization_code", "code": code,
                        "redirect_uri": params["redirect_uri"], "code_verifier": verifier},
                       headers={"x-fapi-interaction-id": token_interaction})
    assert tokens.status_code == 200, tokens.json
    access, refresh = tokens.json["access_token"], tokens.json["refresh_token"]
    secrets_used += [access, refresh, verifier]
    refreshed = tpp.token({"grant_type": "refresh_token", "refresh_token": refresh})
    assert refreshed.status_code == 200, refreshed.json
    access = refreshed.json["access_token"]
    secrets_used.append(access)
    read = resource_call(client, tpp, "GET", ACCOUNTS, access, clock=clock)
    assert read.status_code == 200, read.get_json()
    revoked = client.post("/revoke", data={**tpp.auth_form(), "token": access})
    assert revoked.status_code == 200

    records = trail(platform)
    kinds = [(r["event_type"], r["subject"]) for r in records]
    assert kinds == [
        ("token.issued", None),                      # client credentials
        ("consent.created", consent_id),
        ("consent.authorised", consent_id),
        ("token.issued", consent_id),                # authorization code
        ("token.refreshed", consent_id),
        ("token.revoked", consent_id),
    ]
    by_type = {r["event_type"]: r for r in records}
    assert (by_type["consent.created"]["actor_type"],
            by_type["consent.created"]["actor_id"]) == ("client", tpp.client_id)
    assert by_type["consent.created"]["interaction_id"] == consent_interaction
    assert by_type["consent.created"]["client_ip"] == "127.0.0.1"
    authorised = by_type["consent.authorised"]
    assert (authorised["actor_type"], authorised["actor_id"]) == ("customer", customer.psu_id)
    assert authorised["client_ip"] == "127.0.0.1"
    assert authorised["facts"]["from"] == "AwaitingAuthorisation"
    issued = records[3]
    assert (issued["actor_type"], issued["actor_id"]) == ("client", tpp.client_id)
    assert issued["interaction_id"] == token_interaction
    assert issued["facts"]["grant_type"] == "authorization_code"
    assert issued["facts"]["bound_to"] == "dpop"
    assert all(r["occurred_at"] == now.isoformat(timespec="microseconds") for r in records)

    everything = json.dumps(records)
    for secret in secrets_used:
        assert secret not in everything
    assert account.account_number not in everything

    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert f"verified: {len(records)} records" in result.output
