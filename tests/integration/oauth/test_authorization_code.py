"""The authorization code grant from the pushed request to tokens, with the PSU's decision
taken through aspsp.oauth.authorize.complete_authorization (the PSU pages call the same)."""
from datetime import timedelta

import pytest
from jwcrypto import jwk, jwt
from sqlalchemy import select

from aspsp.identity.models import PsuUser
from aspsp.ids import new_id
from aspsp.oauth.authorize import complete_authorization
from aspsp.oauth.idtoken import half_hash
from aspsp.oauth.models import PendingAuthorization
from consent.models import Consent
from tests import factories
from tests.oauth_tpp import pkce_verifier, redirect_params


@pytest.fixture(autouse=True)
def _platform_knows_its_app(platform, app):
    platform.app = app


@pytest.fixture
def customer(platform, clock):
    with platform.uow() as uow:
        party = factories.party(uow, "Alice Example", now=clock.now())
        account = factories.account(uow, now=clock.now(), owner=party, funded="100.00")
        psu = PsuUser(psu_id=new_id(), username=f"alice-{new_id()[:8]}", password_hash="x",
                      totp_secret="JBSWY3DPEHPK3PXP", party=party, created_at=clock.now())
        uow.session.add(psu)
        uow.commit()
        return psu.id, account.account_id


def start(tpp, consent_id, verifier, **overrides):
    params = tpp.request_params(consent_id, verifier=verifier, **overrides)
    if tpp.client.row.profile == "fapi2":
        pushed = tpp.par(params)
        assert pushed.status_code == 201, pushed.json
        query = {"client_id": tpp.client_id, "request_uri": pushed.json["request_uri"]}
    else:
        query = {"client_id": tpp.client_id, "request": tpp.request_object(params)}
    response = tpp.http.get("/authorize", query_string=query)
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"].rsplit("/", 1)[1], params


def decide(platform, clock, reference, customer, *, approved=True):
    psu_pk, account_id = customer
    with platform.app.app_context(), platform.uow() as uow:
        pending = uow.session.scalars(select(PendingAuthorization).where(
            PendingAuthorization.reference == reference)).one()
        pending.sca_at = clock.now()
        location = complete_authorization(uow, pending, approved=approved,
                                          psu=uow.session.get(PsuUser, psu_pk),
                                          account_ids=[account_id], now=clock.now())
        uow.commit()
    return location


def exchange(tpp, code, verifier, **form):
    return tpp.token({"grant_type": "authorization_code", "code": code,
                      "redirect_uri": tpp.client.row.client_metadata["redirect_uris"][0],
                      "code_verifier": verifier, **form})


@pytest.fixture
def flow(tpp, consent_for, platform, clock, customer):
    """A code ready to exchange: (code, verifier, consent_id, returned params)."""
    consent_id = consent_for(tpp)
    verifier = pkce_verifier()
    reference, params = start(tpp, consent_id, verifier)
    returned = redirect_params(decide(platform, clock, reference, customer))
    return returned["code"], verifier, consent_id, params, returned


def test_approval_returns_code_state_and_iss(flow, tpp):
    code, _, _, params, returned = flow
    assert returned["state"] == params["state"]
    assert returned["iss"] == tpp.issuer
    assert code


def test_code_exchange_gives_bound_tokens_and_an_id_token(flow, tpp, platform, clock):
    code, verifier, consent_id, params, _ = flow
    response = exchange(tpp, code, verifier)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["token_type"] == "DPoP"
    assert body["refresh_token"]
    keys = tpp.http.get("/jwks").json
    token = jwt.JWT(jwt=body["id_token"], key=jwk.JWKSet.from_json(__import__("json").dumps(keys)),
                    algs=["PS256"], check_claims=False)
    claims = __import__("json").loads(token.claims)
    assert claims["openbanking_intent_id"] == consent_id
    assert claims["sub"] == consent_id
    assert claims["aud"] == tpp.client_id
    assert claims["acr"] == "urn:openbanking:psd2:sca"
    assert claims["nonce"] == params["nonce"]
    assert claims["auth_time"] == int(clock.now().timestamp())
    assert claims["at_hash"] == half_hash(body["access_token"])
    with platform.uow() as uow:
        consent = uow.session.scalars(select(Consent).where(Consent.consent_id == consent_id)).one()
        assert consent.status == "Authorised"


def test_reused_code_is_refused_and_revokes_its_tokens(flow, tpp):
    code, verifier, *_ = flow
    first = exchange(tpp, code, verifier)
    assert first.status_code == 200
    again = exchange(tpp, code, verifier)
    assert again.status_code == 400
    assert again.json["error"] == "invalid_grant"
    introspected = tpp.http.post("/introspect", data={**tpp.auth_form(),
                                                      "token": first.json["access_token"]})
    assert introspected.json == {"active": False}


def test_code_of_another_client(flow, fapi1_tpp):
    code, verifier, *_ = flow
    response = exchange(fapi1_tpp, code, verifier)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"


def test_wrong_code_verifier(flow, tpp):
    code, *_ = flow
    response = exchange(tpp, code, pkce_verifier())
    assert response.json["error"] == "invalid_grant"


def test_a_code_exchanged_without_code_verifier_is_invalid_grant(flow, tpp):
    """RFC 7636 §4.6: without the verifier the code cannot be redeemed (invalid_grant)."""
    code, *_ = flow
    response = exchange(tpp, code, None)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"


def test_expired_code(flow, tpp, clock):
    code, verifier, *_ = flow
    clock.advance(timedelta(seconds=61))
    response = exchange(tpp, code, verifier)
    assert response.json["error"] == "invalid_grant"
    assert "expired" in response.json["error_description"]


def test_redirect_uri_must_match(flow, tpp):
    code, verifier, *_ = flow
    response = exchange(tpp, code, verifier, redirect_uri="https://tpp.example/other")
    assert response.json["error"] == "invalid_grant"


def test_code_is_bound_to_the_dpop_key_used_at_par(flow, tpp):
    code, verifier, *_ = flow
    tpp.client.dpop_key = jwk.JWK.generate(kty="EC", crv="P-256")
    response = exchange(tpp, code, verifier)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_dpop_proof"


def test_denial_rejects_the_consent(tpp, consent_for, platform, clock, customer):
    consent_id = consent_for(tpp)
    reference, params = start(tpp, consent_id, pkce_verifier())
    returned = redirect_params(decide(platform, clock, reference, customer, approved=False))
    assert returned["error"] == "access_denied"
    assert returned["state"] == params["state"]
    assert returned["iss"] == tpp.issuer
    with platform.uow() as uow:
        consent = uow.session.scalars(select(Consent).where(Consent.consent_id == consent_id)).one()
        assert consent.status == "Rejected"


def test_hybrid_flow_for_fapi1_advanced(fapi1_tpp, consent_for, platform, clock, customer):
    consent_id = consent_for(fapi1_tpp)
    verifier = pkce_verifier()
    reference, params = start(fapi1_tpp, consent_id, verifier)
    location = decide(platform, clock, reference, customer)
    assert "#" in location and "?" not in location.split("#")[0]
    returned = redirect_params(location)
    keys = jwk.JWKSet.from_json(__import__("json").dumps(fapi1_tpp.http.get("/jwks").json))
    claims = __import__("json").loads(jwt.JWT(jwt=returned["id_token"], key=keys, algs=["PS256"],
                                              check_claims=False).claims)
    assert claims["c_hash"] == half_hash(returned["code"])
    assert claims["s_hash"] == half_hash(params["state"])
    assert claims["nonce"] == params["nonce"]
    assert claims["openbanking_intent_id"] == consent_id
    assert exchange(fapi1_tpp, returned["code"], verifier).status_code == 200


def test_refresh_keeps_working_until_the_consent_is_revoked(flow, tpp, platform, clock):
    code, verifier, consent_id, *_ = flow
    tokens = exchange(tpp, code, verifier).json
    refreshed = tpp.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.json
    assert refreshed.json["access_token"] != tokens["access_token"]
    assert refreshed.json["refresh_token"] == tokens["refresh_token"]
    from consent import services
    with platform.uow() as uow:
        consent = uow.session.scalars(select(Consent).where(Consent.consent_id == consent_id)).one()
        services.revoke_by_psu(uow, uow.session.get(PsuUser, consent.psu_pk), consent_id,
                               now=clock.now())
        uow.commit()
    again = tpp.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert again.json["error"] == "invalid_grant"


def test_introspection_and_revocation_for_the_owning_client_only(flow, tpp, fapi1_tpp):
    code, verifier, consent_id, *_ = flow
    access = exchange(tpp, code, verifier).json["access_token"]
    own = tpp.http.post("/introspect", data={**tpp.auth_form(), "token": access}).json
    assert own["active"] is True
    assert own["openbanking_intent_id"] == consent_id
    assert own["cnf"] == {"jkt": tpp.client.dpop_key.thumbprint()}
    other = fapi1_tpp.http.post("/introspect", data={**fapi1_tpp.auth_form(), "token": access})
    assert other.json == {"active": False}
    # RFC 7009 §2.2: another client's token is answered as an unknown one, and stays valid
    ignored = fapi1_tpp.http.post("/revoke", data={**fapi1_tpp.auth_form(), "token": access})
    assert (ignored.status_code, ignored.json) == (200, {})
    still = tpp.http.post("/introspect", data={**tpp.auth_form(), "token": access}).json
    assert still["active"] is True
    assert tpp.http.post("/revoke", data={**tpp.auth_form(), "token": access}).status_code == 200
    gone = tpp.http.post("/introspect", data={**tpp.auth_form(), "token": access}).json
    assert gone == {"active": False}


def test_an_expired_consent_gets_no_tokens(flow, tpp, platform, clock):
    code, verifier, consent_id, *_ = flow
    with platform.uow() as uow:
        consent = uow.session.scalars(select(Consent).where(Consent.consent_id == consent_id)).one()
        consent.expiration_datetime = clock.now() + timedelta(seconds=10)
        uow.commit()
    clock.advance(timedelta(seconds=20))
    response = exchange(tpp, code, verifier)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"


def test_no_key_that_may_sign_the_id_token_is_a_503_temporarily_unavailable_with_retry_after(
        flow, tpp, platform, clock, caplog):
    """An install that just gained the client's id_token algorithm (its key is published but
    may not sign for JWKS_MAX_AGE_SECONDS): the token endpoint says when to come back, and
    keeps nothing of the attempt, so the same code works once the key may sign."""
    from sqlalchemy import delete

    from aspsp.oauth import keys
    from aspsp.oauth.models import SigningKey
    code, verifier, *_ = flow
    with platform.uow() as uow:
        uow.session.execute(delete(SigningKey).where(SigningKey.owner == "aspsp",
                                                     SigningKey.alg == "PS256"))
        [made] = keys.ensure_keys(uow, "aspsp", keyring=platform.keyring, now=clock.now())
        uow.commit()
        made_id = made.id
    clock.advance(timedelta(seconds=20))

    with caplog.at_level("ERROR", logger="aspsp.oauth.views"):
        response = exchange(tpp, code, verifier)
    assert response.status_code == 503
    assert response.json["error"] == "temporarily_unavailable"
    assert response.headers["Retry-After"] == str(keys.JWKS_MAX_AGE_SECONDS - 20)
    assert response.headers["Cache-Control"] == "no-store"
    assert any("no signing key" in r.getMessage() for r in caplog.records
               if r.levelname == "ERROR")

    with platform.uow() as uow:       # the key has waited its time (the code has not expired)
        row = uow.session.get(SigningKey, made_id)
        row.created_at = row.active_from = clock.now() - keys.JWKS_MAX_AGE
        uow.commit()
    retried = exchange(tpp, code, verifier)
    assert retried.status_code == 200, retried.json
    assert retried.json["id_token"]


# FAPI 1.0 Advanced waives PKCE for a request object sent by value (it requires it with PAR):
# the OpenID conformance suite's FAPI 1.0 UK plan sends none, so none must be needed there.
def test_a_fapi1_request_by_value_without_pkce_gets_tokens_without_a_verifier(
        fapi1_tpp, consent_for, platform, clock, customer):
    reference, params = start(fapi1_tpp, consent_for(fapi1_tpp), pkce_verifier(),
                              code_challenge=None, code_challenge_method=None)
    assert "code_challenge" not in params
    returned = redirect_params(decide(platform, clock, reference, customer))
    response = exchange(fapi1_tpp, returned["code"], None)
    assert response.status_code == 200, response.json
    assert response.json["access_token"] and response.json["id_token"]


def test_a_verifier_for_a_code_requested_without_pkce_is_refused(
        fapi1_tpp, consent_for, platform, clock, customer):
    reference, _ = start(fapi1_tpp, consent_for(fapi1_tpp), pkce_verifier(),
                         code_challenge=None, code_challenge_method=None)
    returned = redirect_params(decide(platform, clock, reference, customer))
    response = exchange(fapi1_tpp, returned["code"], pkce_verifier())
    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"


def test_pkce_a_fapi1_request_by_value_sends_is_enforced(fapi1_tpp, consent_for, platform,
                                                         clock, customer):
    verifier = pkce_verifier()
    reference, _ = start(fapi1_tpp, consent_for(fapi1_tpp), verifier)
    code = redirect_params(decide(platform, clock, reference, customer))["code"]
    assert exchange(fapi1_tpp, code, None).json["error"] == "invalid_grant"
    reference, _ = start(fapi1_tpp, consent_for(fapi1_tpp), verifier)
    code = redirect_params(decide(platform, clock, reference, customer))["code"]
    assert exchange(fapi1_tpp, code, pkce_verifier()).json["error"] == "invalid_grant"
    reference, _ = start(fapi1_tpp, consent_for(fapi1_tpp), verifier)
    code = redirect_params(decide(platform, clock, reference, customer))["code"]
    assert exchange(fapi1_tpp, code, verifier).status_code == 200


def _payment_consent(tpp, consent_for, clock, minutes: int) -> str:
    """A payment consent the PISP wants authorised within `minutes` from now."""
    completion = (clock.now() + timedelta(minutes=minutes)).isoformat()
    return consent_for(tpp, consent_type="domestic-payment", permissions=(), data={
        "Authorisation": {"AuthorisationType": "Single", "CompletionDateTime": completion}})


def test_no_authorisation_starts_after_the_consents_completion_time(tpp, consent_for, clock):
    """OBIE PIS: Authorisation.CompletionDateTime is when every authorisation step must be
    complete; after it the bank does not start one."""
    open_ = tpp.par(tpp.request_params(_payment_consent(tpp, consent_for, clock, 10),
                                       verifier=pkce_verifier(), scope="openid payments"))
    assert open_.status_code == 201, open_.json
    closed = tpp.par(tpp.request_params(_payment_consent(tpp, consent_for, clock, -1),
                                        verifier=pkce_verifier(), scope="openid payments"))
    assert closed.status_code == 400
    assert closed.json["error"] == "invalid_request"
    assert "CompletionDateTime" in closed.json["error_description"]


def test_an_approval_after_the_consents_completion_time_is_refused(
        tpp, consent_for, platform, clock, customer):
    from consent.errors import AuthorisationClosed
    consent_id = _payment_consent(tpp, consent_for, clock, 2)
    reference, _ = start(tpp, consent_id, pkce_verifier(), scope="openid payments")
    clock.advance(timedelta(minutes=3))           # the customer took too long
    with pytest.raises(AuthorisationClosed):
        decide(platform, clock, reference, customer)
    with platform.uow() as uow:
        consent = uow.session.scalars(select(Consent).where(
            Consent.consent_id == consent_id)).one()
        assert consent.status == "AwaitingAuthorisation"


# --- the bank's authorisation window (CONSENT_AUTHORISATION_WINDOW, a day by default) -----------
def test_no_authorisation_starts_once_the_consent_has_waited_the_whole_window(
        tpp, consent_for, clock):
    consent_id = consent_for(tpp)
    clock.advance(timedelta(days=1) - timedelta(seconds=1))
    in_time = tpp.par(tpp.request_params(consent_id, verifier=pkce_verifier()))
    assert in_time.status_code == 201, in_time.json
    clock.advance(timedelta(seconds=1))
    late = tpp.par(tpp.request_params(consent_id, verifier=pkce_verifier()))
    assert late.status_code == 400
    assert late.json["error"] == "invalid_request"
    assert "authorisation window" in late.json["error_description"]


def test_an_approval_given_after_the_window_closed_is_refused_and_the_sweep_rejects(
        app, tpp, consent_for, platform, clock, customer):
    from consent import services
    from consent.errors import AuthorisationClosed
    consent_id = consent_for(tpp)
    clock.advance(timedelta(days=1) - timedelta(minutes=1))
    reference, _ = start(tpp, consent_id, pkce_verifier())
    clock.advance(timedelta(minutes=2))           # the customer approved a minute too late
    with pytest.raises(AuthorisationClosed):
        decide(platform, clock, reference, customer)
    with platform.uow() as uow:
        assert services.reject_overdue(uow, clock.now(),
                                       app.config["CONSENT_AUTHORISATION_WINDOW"]) == 1
        uow.commit()
    with platform.uow() as uow:
        assert uow.session.scalars(select(Consent.status).where(
            Consent.consent_id == consent_id)).one() == "Rejected"
