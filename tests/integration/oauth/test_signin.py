"""Sign-in: an authorization request with scope `openid` alone and no openbanking_intent_id
(what the OpenID FAPI conformance suite's plain_fapi plans send). No consent is made; the
client gets an id_token and a userinfo answer whose `sub` is the customer's pairwise subject
for the client's software, an access token that opens no Open Banking API, and no refresh
token. The customer's pages for it are in tests/integration/psu_web/test_signin_pages.py."""
import json
import uuid

import pytest
from jwcrypto import jwk, jwt
from sqlalchemy import func, select

from aspsp.audit.models import AuditRecord
from aspsp.identity.models import PsuUser
from aspsp.oauth.models import SignInSubject
from consent.models import Consent
from tests.oauth_factories import dpop_proof
from tests.oauth_tpp import HOST, pkce_verifier, redirect_params

from .test_authorization_code import customer, decide, exchange, start  # noqa: F401


@pytest.fixture(autouse=True)
def _platform_knows_its_app(platform, app):
    platform.app = app


def sign_in(tpp, platform, clock, customer, *, approved=True):   # noqa: F811
    """A sign-in decided by the customer: (authorization response params, verifier)."""
    verifier = pkce_verifier()
    reference, params = start(tpp, None, verifier, scope="openid", claims=None)
    returned = redirect_params(decide(platform, clock, reference, customer, approved=approved))
    return returned, params, verifier


def id_token_claims(tpp, token: str) -> dict:
    keys = jwk.JWKSet.from_json(json.dumps(tpp.http.get("/jwks").json))
    return json.loads(jwt.JWT(jwt=token, key=keys, algs=["PS256"], check_claims=False).claims)


def bearer(tpp, access: str, method: str, path: str) -> dict:
    return {"Authorization": f"DPoP {access}",
            "DPoP": dpop_proof(tpp.client.dpop_key, method, HOST + path, access_token=access,
                               iat=tpp.now())}


def test_a_sign_in_gets_a_pairwise_subject_no_consent_and_no_refresh_token(
        tpp, platform, clock, customer):   # noqa: F811
    with platform.uow() as uow:
        consents_before = uow.session.scalar(select(func.count()).select_from(Consent))
    returned, params, verifier = sign_in(tpp, platform, clock, customer)
    assert returned["state"] == params["state"] and returned["iss"] == tpp.issuer

    response = exchange(tpp, returned["code"], verifier)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["token_type"] == "DPoP" and body["scope"] == "openid"
    assert "refresh_token" not in body
    claims = id_token_claims(tpp, body["id_token"])
    assert "openbanking_intent_id" not in claims
    assert claims["aud"] == tpp.client_id and claims["acr"] == "urn:openbanking:psd2:sca"
    with platform.uow() as uow:
        psu = uow.session.get(PsuUser, customer[0])
        known = (psu.psu_id, psu.username, str(psu.id))
        [subject] = uow.session.scalars(select(SignInSubject.sub)).all()
        assert uow.session.scalar(select(func.count()).select_from(Consent)) == consents_before
    assert claims["sub"] == subject
    assert claims["sub"] not in known
    assert len(claims["sub"]) >= 43          # 256 random bits: not guessable, not derived


def test_userinfo_and_introspection_answer_the_same_subject(tpp, platform, clock,
                                                            customer):   # noqa: F811
    returned, _, verifier = sign_in(tpp, platform, clock, customer)
    body = exchange(tpp, returned["code"], verifier).json
    sub = id_token_claims(tpp, body["id_token"])["sub"]

    interaction = str(uuid.uuid4())
    info = tpp.http.get("/userinfo", headers={
        **bearer(tpp, body["access_token"], "GET", "/userinfo"),
        "x-fapi-interaction-id": interaction})
    assert info.status_code == 200, info.json
    assert info.json == {"sub": sub}
    assert "no-store" in info.headers["Cache-Control"]
    assert info.headers["x-fapi-interaction-id"] == interaction   # FAPI 1.0 Adv. 6.2.1-11

    introspected = tpp.http.post("/introspect", data={**tpp.auth_form(),
                                                      "token": body["access_token"]})
    assert introspected.status_code == 200
    assert introspected.json["active"] is True and introspected.json["sub"] == sub
    assert "openbanking_intent_id" not in introspected.json


def test_a_sign_in_token_opens_no_open_banking_api(tpp, platform, clock,
                                                   customer):   # noqa: F811
    returned, _, verifier = sign_in(tpp, platform, clock, customer)
    access = exchange(tpp, returned["code"], verifier).json["access_token"]
    path = "/open-banking/v3.1/aisp/accounts"
    response = tpp.http.get(path, headers={**bearer(tpp, access, "GET", path),
                                           "x-fapi-financial-id": "0015800001041RHAAY"})
    assert response.status_code == 403, response.get_data(as_text=True)
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert response.json["Errors"][0]["ErrorCode"] == "UK.InvisibleBank.Token.InsufficientScope"


def test_the_subject_is_stable_for_one_software_and_differs_between_softwares(
        tpp, fapi1_tpp, platform, clock, customer):   # noqa: F811
    first, _, v1 = sign_in(tpp, platform, clock, customer)
    again, _, v2 = sign_in(tpp, platform, clock, customer)
    sub1 = id_token_claims(tpp, exchange(tpp, first["code"], v1).json["id_token"])["sub"]
    sub2 = id_token_claims(tpp, exchange(tpp, again["code"], v2).json["id_token"])["sub"]
    assert sub1 == sub2
    assert tpp.client.row.software_id != fapi1_tpp.client.row.software_id
    other, _, v3 = sign_in(fapi1_tpp, platform, clock, customer)
    # FAPI 1.0 Advanced's hybrid response carries an id_token too: the same subject in both
    front = id_token_claims(fapi1_tpp, other["id_token"])
    back = id_token_claims(fapi1_tpp, exchange(fapi1_tpp, other["code"], v3).json["id_token"])
    assert front["sub"] == back["sub"] != sub1
    assert "openbanking_intent_id" not in front


def test_a_denied_sign_in_is_access_denied_and_audited(tpp, platform, clock,
                                                       customer):   # noqa: F811
    returned, params, _ = sign_in(tpp, platform, clock, customer, approved=False)
    assert returned["error"] == "access_denied" and returned["state"] == params["state"]
    assert "code" not in returned
    approved, _, _ = sign_in(tpp, platform, clock, customer)
    assert approved["code"]
    with platform.uow() as uow:
        events = [(r.event_type, r.subject) for r in uow.session.scalars(
            select(AuditRecord).where(AuditRecord.event_type.like("signin.%"))
            .order_by(AuditRecord.seq))]
    assert events == [("signin.denied", tpp.client_id), ("signin.approved", tpp.client_id)]


def test_an_account_scope_still_needs_its_intent(tpp):
    for scope, error in (("openid accounts", "invalid_request"),
                         ("openid accounts payments", "invalid_scope")):
        pushed = tpp.par(tpp.request_params(None, verifier=pkce_verifier(), scope=scope,
                                            claims=None))
        assert pushed.status_code == 400, pushed.json
        assert pushed.json["error"] == error, (scope, pushed.json)
