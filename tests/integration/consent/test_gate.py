"""The consent gate, through a throwaway OB blueprint registered on the test app only."""
from __future__ import annotations

from datetime import timedelta

import pytest
from flask import jsonify
from sqlalchemy import update

from aspsp import obapi
from consent.gate import current_consent, requires_consent
from consent.models import Consent

BASE = "/open-banking/v3.1/gate-test"


@pytest.fixture
def gated(app):
    blp = obapi.Blueprint("gate-test", __name__, url_prefix=BASE)

    @blp.route("/accounts")
    @requires_consent("accounts", ("ReadAccountsBasic", "ReadAccountsDetail"))
    def accounts():
        c = current_consent()
        return jsonify(consent_id=c.consent_id, accounts=sorted(c.account_ids),
                       permissions=sorted(c.permissions), client_id=c.client_id,
                       present=c.customer_present,
                       from_=c.transaction_from.isoformat() if c.transaction_from else None)

    @blp.route("/accounts/<AccountId>/balances")
    @requires_consent("accounts", "ReadBalances")
    def balances(AccountId):  # noqa: N803
        return jsonify(account=AccountId, consent_id=current_consent().consent_id)

    @blp.route("/accounts/<AccountId>/offers")
    @requires_consent("accounts", "ReadOffers")
    def offers(AccountId):  # noqa: N803
        return jsonify(offers=[])

    @blp.route("/funds")
    @requires_consent("fundsconfirmations")
    def funds():
        return jsonify(ok=True)

    obapi.register_blueprint(app, blp)
    return blp


@pytest.fixture
def authorised(gated, aisp, customer, decide):
    """An Authorised consent over the customer's first account, and its customer's token."""
    consent_id = aisp.create_consent(TransactionFromDateTime="2026-01-01T00:00:00+00:00")
    decide(consent_id, customer, accounts=customer.account_pks[:1])
    token = aisp.token(grant_type="authorization_code", consent_id=consent_id,
                       psu=customer.psu)
    return consent_id, token


def codes(response):
    return [e["ErrorCode"] for e in response.get_json()["Errors"]]


def test_an_authorised_consent_passes_with_its_context(aisp, customer, authorised):
    consent_id, token = authorised
    response = aisp.call("GET", f"{BASE}/accounts", token=token,
                         headers={"x-fapi-customer-ip-address": "104.25.212.99"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "consent_id": consent_id, "accounts": [customer.account_ids[0]],
        "client_id": aisp.client_id, "present": True,
        "from_": "2026-01-01T00:00:00+00:00",
        "permissions": sorted({"ReadAccountsDetail", "ReadAccountsBasic", "ReadBalances",
                               "ReadTransactionsCredits", "ReadTransactionsDebits",
                               "ReadTransactionsDetail", "ReadTransactionsBasic"})}
    assert response.headers["x-fapi-interaction-id"]


def test_an_account_of_the_consent_passes(aisp, customer, authorised):
    _, token = authorised
    response = aisp.call("GET", f"{BASE}/accounts/{customer.account_ids[0]}/balances",
                         token=token)
    assert response.status_code == 200


def test_an_account_outside_the_consent_is_403(aisp, customer, authorised):
    _, token = authorised
    response = aisp.call("GET", f"{BASE}/accounts/{customer.account_ids[1]}/balances",
                         token=token)
    assert response.status_code == 403
    assert codes(response) == ["UK.InvisibleBank.Consent.AccountNotPermitted"]


def test_a_permission_the_consent_lacks_is_403(aisp, customer, authorised):
    _, token = authorised
    response = aisp.call("GET", f"{BASE}/accounts/{customer.account_ids[0]}/offers",
                         token=token)
    assert response.status_code == 403
    assert codes(response) == ["UK.InvisibleBank.Consent.PermissionMissing"]


def test_a_client_credentials_token_where_the_customer_must_have_authorised_is_401(
        aisp, authorised):
    """OBIE FCS (OB-301-*-client grant scripts): 401, the token is not valid here."""
    response = aisp.call("GET", f"{BASE}/accounts", token=aisp.token())
    assert response.status_code == 401 and response.data == b""
    assert response.headers["WWW-Authenticate"].startswith(
        'DPoP error="invalid_token", error_description="this resource needs a token of the '
        "customer's authorisation")


def test_a_token_without_its_dpop_proof_is_401(aisp, authorised):
    _, token = authorised
    response = aisp.call("GET", f"{BASE}/accounts", token=token, proof=False)
    assert response.status_code == 401 and response.data == b""
    assert 'error="invalid_dpop_proof"' in response.headers["WWW-Authenticate"]


def test_a_replayed_dpop_proof_is_401(aisp, authorised):
    _, token = authorised
    proof = aisp.proof("GET", f"{BASE}/accounts", token)
    first = aisp.call("GET", f"{BASE}/accounts", token=token, headers={"DPoP": proof})
    second = aisp.call("GET", f"{BASE}/accounts", token=token, headers={"DPoP": proof})
    assert (first.status_code, second.status_code) == (200, 401)


def test_a_proof_for_another_url_is_401(aisp, authorised):
    _, token = authorised
    proof = aisp.proof("GET", f"{BASE}/funds", token)
    response = aisp.call("GET", f"{BASE}/accounts", token=token, headers={"DPoP": proof})
    assert response.status_code == 401


def test_a_rejected_consent_is_refused(aisp, customer, decide, gated):
    consent_id = aisp.create_consent()
    decide(consent_id, customer, approve=False)
    token = aisp.token(grant_type="authorization_code", consent_id=consent_id,
                       psu=customer.psu)      # a token that should never have been issued
    response = aisp.call("GET", f"{BASE}/accounts", token=token)
    assert response.status_code == 400
    assert codes(response) == ["UK.OBIE.Resource.InvalidConsentStatus"]


def test_a_consent_awaiting_authorisation_is_refused(aisp, customer, gated):
    consent_id = aisp.create_consent()
    token = aisp.token(grant_type="authorization_code", consent_id=consent_id,
                       psu=customer.psu)
    response = aisp.call("GET", f"{BASE}/accounts", token=token)
    assert response.status_code == 400
    assert codes(response) == ["UK.OBIE.Resource.InvalidConsentStatus"]


def test_a_consent_deleted_by_the_tpp_stops_its_token_at_once(aisp, authorised):
    consent_id, token = authorised
    assert aisp.call("GET", f"{BASE}/accounts", token=token).status_code == 200
    aisp.call("DELETE", f"/open-banking/v3.1/aisp/account-access-consents/{consent_id}",
              token=aisp.token())
    response = aisp.call("GET", f"{BASE}/accounts", token=token)
    assert response.status_code == 401 and response.data == b""


def test_a_consent_revoked_by_the_customer_stops_its_token_at_once(aisp, customer, authorised,
                                                                   platform, clock):
    from consent import services
    consent_id, token = authorised
    with platform.uow() as uow:
        services.revoke_by_psu(uow, customer.psu, consent_id, clock.now())
        uow.commit()
    assert aisp.call("GET", f"{BASE}/accounts", token=token).status_code == 401


def test_a_revoked_consent_is_refused_even_with_a_live_token(aisp, customer, authorised,
                                                             platform, clock):
    """Defence in depth: the status is checked, not only the token's revocation."""
    from consent import services
    consent_id, _ = authorised
    with platform.uow() as uow:
        services.revoke_by_psu(uow, customer.psu, consent_id, clock.now())
        uow.commit()
    token = aisp.token(grant_type="authorization_code", consent_id=consent_id,
                       psu=customer.psu)
    response = aisp.call("GET", f"{BASE}/accounts", token=token)
    assert response.status_code == 400
    assert codes(response) == ["UK.OBIE.Resource.InvalidConsentStatus"]


def test_an_expired_consent_is_401_without_a_body(aisp, customer, decide, gated, clock):
    consent_id = aisp.create_consent(
        ExpirationDateTime=(clock.now() + timedelta(hours=1)).isoformat())
    decide(consent_id, customer)
    token = aisp.token(grant_type="authorization_code", consent_id=consent_id,
                       psu=customer.psu, ttl=3 * 3600)
    assert aisp.call("GET", f"{BASE}/accounts", token=token).status_code == 200
    clock.advance(timedelta(hours=1))
    response = aisp.call("GET", f"{BASE}/accounts", token=token)
    assert response.status_code == 401 and response.data == b""
    assert response.headers["WWW-Authenticate"].startswith(
        'DPoP error="invalid_token", error_description="the consent has expired"')


def test_another_clients_consent_is_refused(aisp, other_aisp, authorised, customer):
    consent_id, _ = authorised
    token = other_aisp.token(grant_type="authorization_code", consent_id=consent_id,
                             psu=customer.psu)
    response = other_aisp.call("GET", f"{BASE}/accounts", token=token)
    assert response.status_code == 403
    assert codes(response) == ["UK.OBIE.Resource.ConsentMismatch"]


def test_a_token_of_another_customer_is_refused(aisp, authorised, make_customer):
    consent_id, _ = authorised
    stranger = make_customer(accounts=1)
    token = aisp.token(grant_type="authorization_code", consent_id=consent_id,
                       psu=stranger.psu)
    response = aisp.call("GET", f"{BASE}/accounts", token=token)
    assert response.status_code == 403
    assert codes(response) == ["UK.OBIE.Resource.ConsentMismatch"]


def test_a_token_without_the_scope_is_403(aisp, authorised, customer):
    consent_id, _ = authorised
    token = aisp.token(scope="payments", grant_type="authorization_code",
                       consent_id=consent_id, psu=customer.psu)
    response = aisp.call("GET", f"{BASE}/accounts", token=token)
    assert response.status_code == 403
    assert codes(response) == ["UK.InvisibleBank.Token.InsufficientScope"]


def test_an_account_consent_cannot_open_another_api(make_tpp, customer, decide, gated):
    tpp = make_tpp(roles=("AISP", "CBPII"))
    consent_id = tpp.create_consent()
    decide(consent_id, customer)
    token = tpp.token(scope="accounts fundsconfirmations", grant_type="authorization_code",
                      consent_id=consent_id, psu=customer.psu)
    response = tpp.call("GET", f"{BASE}/funds", token=token)
    assert response.status_code == 403
    assert codes(response) == ["UK.OBIE.Resource.ConsentMismatch"]


def test_a_client_that_lost_its_aisp_role_is_refused(aisp, authorised, platform):
    from aspsp.oauth.models import OAuthClient
    _, token = authorised
    with platform.uow() as uow:
        uow.session.execute(update(OAuthClient).where(OAuthClient.id == aisp.client.row.id)
                            .values(roles=["PISP"]))
        uow.commit()
    response = aisp.call("GET", f"{BASE}/accounts", token=token)
    assert response.status_code == 403
    assert codes(response) == ["UK.InvisibleBank.Client.RoleMissing"]


def test_the_gate_reads_the_status_as_stored_now(aisp, authorised, platform):
    """No cached decision: a status changed behind the gate's back is seen on the next call."""
    consent_id, token = authorised
    with platform.uow() as uow:
        uow.session.execute(update(Consent).where(Consent.consent_id == consent_id)
                            .values(status="Revoked"))
        uow.commit()
    assert aisp.call("GET", f"{BASE}/accounts", token=token).status_code == 400


def test_an_account_the_customer_no_longer_holds_drops_out_at_once(aisp, customer, authorised,
                                                                   platform):
    from sqlalchemy import delete
    from aspsp.ledger.models import AccountParty
    _, token = authorised
    url = f"{BASE}/accounts/{customer.account_ids[0]}/balances"
    assert aisp.call("GET", url, token=token).status_code == 200
    with platform.uow() as uow:
        uow.session.execute(delete(AccountParty).where(
            AccountParty.account_pk == customer.account_pks[0]))
        uow.commit()
    response = aisp.call("GET", url, token=token)
    assert response.status_code == 403
    assert codes(response) == ["UK.InvisibleBank.Consent.AccountNotPermitted"]


@pytest.mark.parametrize("scheme", ["dpop", "dPoP", "DPOP"])
def test_the_authorization_scheme_is_case_insensitive(aisp, authorised, scheme):
    """RFC 9110 §11.1 (the OpenID suite's access-token-type-header-case-sensitivity)."""
    _, token = authorised
    response = aisp.call("GET", f"{BASE}/accounts", token=token,
                         headers={"Authorization": f"{scheme} {token}"})
    assert response.status_code == 200, response.get_json()


def test_an_unknown_authorization_scheme_is_401(aisp, authorised):
    _, token = authorised
    response = aisp.call("GET", f"{BASE}/accounts", token=token,
                         headers={"Authorization": f"DPoPx {token}"})
    assert response.status_code == 401
