"""Every refusal of POST /register answers 400 with its RFC 7591 error code."""
import base64
import json
from datetime import timedelta

import pytest
from jwcrypto import jwt
from sqlalchemy import func, select

from aspsp.oauth import keys
from aspsp.oauth.keys import generate_jwk
from aspsp.oauth.models import OAuthClient
from sandbox import directory
from tests import tpp_factories
from tests.tpp_factories import DROP


@pytest.fixture
def tpp_and_ssa(app, platform, clock):
    with platform.uow() as uow:
        tpp = tpp_factories.tpp(uow, now=clock.now(), roles=("AISP",))
        ssa = tpp_factories.issue_ssa(uow, app, tpp.software_id, now=clock.now())
        uow.commit()
    return tpp, ssa


def _post(app, client, clock, tpp, ssa, **overrides):
    overrides.setdefault("scope", "openid accounts")          # the SSA grants AISP only
    token = tpp_factories.registration_jwt(tpp, ssa, issuer=app.config["ISSUER"],
                                           now=clock.now(), **overrides)
    return tpp_factories.post_registration(client, token)


def _refused(response, error: str, words: str = ""):
    assert response.status_code == 400, response.json
    assert response.json["error"] == error, response.json
    assert words in response.json["error_description"]
    assert response.headers["Cache-Control"] == "no-store"


def _clients(platform) -> int:
    with platform.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(OAuthClient))


def _directory_signed(uow, app, claims: dict, *, now) -> str:
    """An SSA with chosen claims, signed by the real sandbox directory key."""
    kid, key = keys.signing_key(uow, "directory", keyring=app.extensions["aspsp"].keyring,
                                now=now)
    token = jwt.JWT(header={"typ": "JWT", "alg": "PS256", "kid": kid}, claims=claims)
    token.make_signed_token(key)
    return token.serialize()


def _ssa_claims(ssa: str) -> dict:
    payload = ssa.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


# --- the software statement --------------------------------------------------------------------

def test_an_ssa_with_a_bad_signature(app, client, platform, clock, tpp_and_ssa):
    tpp, ssa = tpp_and_ssa
    header, _, signature = ssa.split(".")
    claims = dict(_ssa_claims(ssa), software_roles=["AISP", "PISP", "CBPII"])
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    forged = f"{header}.{forged_payload}.{signature}"
    _refused(_post(app, client, clock, tpp, forged), "invalid_software_statement",
             "signature does not verify")
    assert _clients(platform) == 0


def test_an_ssa_from_an_untrusted_issuer(app, client, clock, tpp_and_ssa):
    tpp, ssa = tpp_and_ssa
    rogue = generate_jwk("PS256")
    forged = jwt.JWT(header={"typ": "JWT", "alg": "PS256", "kid": rogue.thumbprint()},
                     claims=_ssa_claims(ssa))
    forged.make_signed_token(rogue)
    _refused(_post(app, client, clock, tpp, forged.serialize()), "unapproved_software_statement",
             "not signed by a trusted directory")


def test_an_ssa_older_than_two_hours(app, client, clock, tpp_and_ssa):
    tpp, ssa = tpp_and_ssa
    clock.advance(timedelta(hours=2, seconds=1))
    _refused(_post(app, client, clock, tpp, ssa), "invalid_software_statement", "older than")


def test_a_request_without_a_software_statement(app, client, clock, tpp_and_ssa):
    tpp, _ = tpp_and_ssa
    _refused(_post(app, client, clock, tpp, "ignored", software_statement=DROP),
             "invalid_software_statement", "no software_statement")


def test_an_ssa_of_a_revoked_organisation(app, client, platform, clock, tpp_and_ssa):
    tpp, ssa = tpp_and_ssa
    with platform.uow() as uow:
        revoked = _directory_signed(uow, app, dict(_ssa_claims(ssa), org_status="Revoked"),
                                    now=clock.now())
    _refused(_post(app, client, clock, tpp, revoked), "unapproved_software_statement", "Revoked")


def test_an_ssa_whose_roles_exceed_the_competent_authority_grant(app, client, platform, clock,
                                                                 tpp_and_ssa):
    tpp, ssa = tpp_and_ssa
    with platform.uow() as uow:
        inflated = _directory_signed(uow, app, dict(_ssa_claims(ssa),
                                                    software_roles=["AISP", "PISP"]),
                                     now=clock.now())
    _refused(_post(app, client, clock, tpp, inflated), "unapproved_software_statement",
             "competent authority")


def test_an_ssa_of_software_the_directory_does_not_know(app, client, platform, clock,
                                                       tpp_and_ssa):
    """Signed by the directory, but for a software_id it never issued: its JWKS endpoint
    publishes no key, and the statement (not the request's signature) is what is refused."""
    tpp, ssa = tpp_and_ssa
    unknown = "UnknownSoftware0000001"
    with platform.uow() as uow:
        claims = dict(_ssa_claims(ssa), software_id=unknown, software_client_id=unknown,
                      software_jwks_endpoint=directory.base_url(app.config["ISSUER"])
                      + f"/software/{unknown}/jwks")
        stranger = _directory_signed(uow, app, claims, now=clock.now())
    _refused(_post(app, client, clock, tpp, stranger, iss=unknown, software_id=unknown),
             "invalid_software_statement", "publishes no keys")
    assert _clients(platform) == 0


# --- the request JWT ----------------------------------------------------------------------------

def test_an_expired_request(app, client, clock, tpp_and_ssa):
    tpp, ssa = tpp_and_ssa
    now = int(clock.now().timestamp())
    _refused(_post(app, client, clock, tpp, ssa, iat=now - 120, exp=now - 1),
             "invalid_client_metadata", "expired")


def test_a_request_for_another_audience(app, client, clock, tpp_and_ssa):
    tpp, ssa = tpp_and_ssa
    _refused(_post(app, client, clock, tpp, ssa, aud="https://other-bank.example"),
             "invalid_client_metadata", "aud must be")


def test_a_replayed_request(app, client, platform, clock, tpp_and_ssa):
    tpp, ssa = tpp_and_ssa
    token = tpp_factories.registration_jwt(tpp, ssa, issuer=app.config["ISSUER"], now=clock.now(),
                                           scope="openid accounts")
    assert tpp_factories.post_registration(client, token).status_code == 201
    _refused(tpp_factories.post_registration(client, token), "invalid_client_metadata",
             "used before")
    assert _clients(platform) == 1


@pytest.mark.parametrize("iss", ["someone-else", "", "A" * 23])
def test_a_request_whose_iss_is_not_the_software_id(app, client, clock, tpp_and_ssa, iss):
    tpp, ssa = tpp_and_ssa
    _refused(_post(app, client, clock, tpp, ssa, iss=iss), "invalid_client_metadata", "iss")


def test_a_request_signed_by_a_key_not_in_the_ssa_jwks(app, client, clock, tpp_and_ssa):
    tpp, ssa = tpp_and_ssa
    stranger = generate_jwk("PS256")
    for kid in (tpp.kid, stranger.thumbprint()):      # borrowing the kid does not help
        _refused(_post(app, client, clock, tpp, ssa, key=stranger, kid=kid),
                 "invalid_client_metadata", "not signed by a key of the software statement")


def test_a_request_signed_with_rs256(app, client, clock, tpp_and_ssa):
    tpp, ssa = tpp_and_ssa
    _refused(_post(app, client, clock, tpp, ssa, alg="RS256"), "invalid_client_metadata",
             "PS256 or ES256")


def test_an_unsigned_request(app, client, clock, tpp_and_ssa):
    tpp, ssa = tpp_and_ssa
    claims = tpp_factories.registration_claims(tpp, ssa, issuer=app.config["ISSUER"],
                                               now=clock.now())
    unsigned = ".".join(base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()
                        for part in ({"alg": "none"}, claims)) + "."
    _refused(tpp_factories.post_registration(client, unsigned), "invalid_client_metadata")


def test_a_request_that_is_not_a_jwt(client):
    _refused(client.post("/register", json={"redirect_uris": ["https://tpp.example/cb"]}),
             "invalid_client_metadata", "application/jwt")
    _refused(client.post("/register", data="not-a-jwt", content_type="application/jwt"),
             "invalid_client_metadata", "signed JWT")


# --- the metadata -------------------------------------------------------------------------------

def test_a_redirect_uri_not_in_the_ssa(app, client, clock, tpp_and_ssa):
    tpp, ssa = tpp_and_ssa
    _refused(_post(app, client, clock, tpp, ssa, redirect_uris=["https://evil.example/cb"]),
             "invalid_redirect_uri", "not among the software statement's")


def test_an_http_redirect_uri(app, client, clock, tpp_and_ssa):
    tpp, ssa = tpp_and_ssa
    _refused(_post(app, client, clock, tpp, ssa, redirect_uris=["http://tpp.example/callback"]),
             "invalid_redirect_uri", "https")


def test_an_https_localhost_redirect_uri_is_for_the_sandbox(app, client, platform, clock):
    with platform.uow() as uow:
        tpp = tpp_factories.tpp(uow, now=clock.now(),
                                redirect_uris=("https://localhost:8443/cb",))
        ssa = tpp_factories.issue_ssa(uow, app, tpp.software_id, now=clock.now())
        uow.commit()
    assert _post(app, client, clock, tpp, ssa).status_code == 201


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post",
                                    "client_secret_jwt", "none"])
def test_an_unsupported_auth_method(app, client, clock, tpp_and_ssa, method):
    tpp, ssa = tpp_and_ssa
    _refused(_post(app, client, clock, tpp, ssa, token_endpoint_auth_method=method),
             "invalid_client_metadata", "private_key_jwt or tls_client_auth")


def test_tls_client_auth_without_a_subject_dn(app, client, clock, tpp_and_ssa):
    tpp, ssa = tpp_and_ssa
    _refused(_post(app, client, clock, tpp, ssa, token_endpoint_auth_method="tls_client_auth"),
             "invalid_client_metadata", "tls_client_auth_subject_dn")


def test_a_subject_dn_with_private_key_jwt(app, client, clock, tpp_and_ssa):
    tpp, ssa = tpp_and_ssa
    _refused(_post(app, client, clock, tpp, ssa, tls_client_auth_subject_dn="CN=tpp"),
             "invalid_client_metadata", "only for tls_client_auth")


def test_private_key_jwt_without_a_signing_alg(app, client, clock, tpp_and_ssa):
    tpp, ssa = tpp_and_ssa
    _refused(_post(app, client, clock, tpp, ssa, token_endpoint_auth_signing_alg=DROP),
             "invalid_client_metadata", "token_endpoint_auth_signing_alg")


@pytest.mark.parametrize("claim", ["token_endpoint_auth_signing_alg",
                                   "id_token_signed_response_alg", "request_object_signing_alg"])
@pytest.mark.parametrize("alg", ["RS256", "none", "HS256"])
def test_algorithms_other_than_ps256_and_es256(app, client, clock, tpp_and_ssa, claim, alg):
    tpp, ssa = tpp_and_ssa
    _refused(_post(app, client, clock, tpp, ssa, **{claim: alg}), "invalid_client_metadata",
             claim)


def test_a_role_the_ssa_does_not_grant(app, client, clock, tpp_and_ssa):
    tpp, ssa = tpp_and_ssa                                   # the SSA grants AISP only
    _refused(_post(app, client, clock, tpp, ssa, scope="openid accounts payments"),
             "invalid_client_metadata", "PISP")


def test_an_unknown_scope(app, client, clock, tpp_and_ssa):
    tpp, ssa = tpp_and_ssa
    _refused(_post(app, client, clock, tpp, ssa, scope="openid accounts admin"),
             "invalid_client_metadata", "unknown scope admin")


@pytest.mark.parametrize("response_types", [["token"], ["id_token"], ["code token"]])
def test_unsupported_response_types(app, client, clock, tpp_and_ssa, response_types):
    tpp, ssa = tpp_and_ssa
    _refused(_post(app, client, clock, tpp, ssa, response_types=response_types),
             "invalid_client_metadata", "response type")


@pytest.mark.parametrize("grant_types", [["password"], ["urn:openid:params:grant-type:ciba"],
                                         ["implicit", "authorization_code"], []])
def test_unsupported_grant_types(app, client, clock, tpp_and_ssa, grant_types):
    tpp, ssa = tpp_and_ssa
    _refused(_post(app, client, clock, tpp, ssa, grant_types=grant_types),
             "invalid_client_metadata", "grant")


def test_response_types_without_the_authorization_code_grant(app, client, clock, tpp_and_ssa):
    tpp, ssa = tpp_and_ssa
    _refused(_post(app, client, clock, tpp, ssa, grant_types=["client_credentials"]),
             "invalid_client_metadata", "authorization_code")


def test_a_client_credentials_only_client_registers_no_response_types(app, client, clock,
                                                                      tpp_and_ssa):
    tpp, ssa = tpp_and_ssa
    response = _post(app, client, clock, tpp, ssa, grant_types=["client_credentials"],
                     response_types=DROP)
    assert response.status_code == 201, response.json
    assert response.json["response_types"] == []


def test_the_sandbox_directory_is_trusted_only_while_the_sandbox_runs(database, clock, tmp_path,
                                                                     app, platform, redis_url):
    from bank import create_app
    with platform.uow() as uow:
        tpp = tpp_factories.tpp(uow, now=clock.now())
        ssa = tpp_factories.issue_ssa(uow, app, tpp.software_id, now=clock.now())
        uow.commit()
    production = create_app({"DATABASE_URL": database.url, "DATABASE": database, "CLOCK": clock,
                             "CELERY_ALWAYS_EAGER": True, "INSTANCE_PATH": str(tmp_path),
                             "SECRET_KEY": "test-secret", "TESTING": True,
                             "SANDBOX_ENABLED": False, "REDIS_URL": redis_url})
    token = tpp_factories.registration_jwt(tpp, ssa, issuer=production.config["ISSUER"],
                                           now=clock.now())
    _refused(tpp_factories.post_registration(production.test_client(), token),
             "unapproved_software_statement")
    assert directory.ISSUER == _ssa_claims(ssa)["iss"]


@pytest.mark.parametrize("claims, error", [
    ({"iat": float("nan")}, "invalid_client_metadata"),
    ({"exp": float("inf"), "iat": float("nan")}, "invalid_client_metadata"),
    ({"exp": True}, "invalid_client_metadata"),
    ({"redirect_uris": ["https://[::1/cb"]}, "invalid_redirect_uri"),
    ({"redirect_uris": "https://tpp.example/callback"}, "invalid_redirect_uri"),
    ({"scope": ["openid"]}, "invalid_client_metadata"),
    ({"grant_types": "client_credentials"}, "invalid_client_metadata"),
    ({"require_pushed_authorization_requests": "yes"}, "invalid_client_metadata"),
    ({"application_type": "native"}, "invalid_client_metadata"),
])
def test_malformed_claims_are_refused_not_crashed_on(app, client, clock, tpp_and_ssa, claims,
                                                     error):
    tpp, ssa = tpp_and_ssa
    _refused(_post(app, client, clock, tpp, ssa, **claims), error)
