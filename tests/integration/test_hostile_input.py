"""NUL characters anywhere a client can put them: a clear 400 in the called API's format,
never a 500 (PostgreSQL refuses NUL in text)."""
import pytest


@pytest.mark.parametrize("method, path, data", [
    ("GET", "/authorize?client_id=%00", None),
    ("GET", "/authorize?client_id=x&request_uri=%00", None),
    ("POST", "/token", {"grant_type": "client_credentials", "client_id": "\x00"}),
    ("POST", "/par", {"client_id": "a\x00b"}),
    ("GET", "/psu/authorize/%00", None),
    ("POST", "/psu/login", {"username": "al\x00ice", "password": "x"}),
    ("GET", "/sandbox/directory/software/%00/jwks", None),
    ("GET", "/open-banking/v3.1/aisp/account-access-consents?x=%00", None),
])
def test_nul_characters_are_refused_with_400(client, method, path, data):
    response = client.open(path, method=method, data=data)
    assert response.status_code == 400
    if path.startswith("/open-banking/"):
        assert response.json["Errors"][0]["ErrorCode"] == "UK.OBIE.Field.Invalid"
    elif path.startswith("/psu/"):
        assert response.mimetype == "text/html"
    else:
        assert response.json["error"] == "invalid_request"


# --- bodies read only once the caller is known, nesting capped ---------------------------------
CONSENTS = "/open-banking/v3.1/aisp/account-access-consents"


def _nested(depth: int) -> bytes:
    return b'{"Data":' + b"[" * depth + b"]" * depth + b', "Risk": {}}'


@pytest.mark.parametrize("body", [_nested(100_000), b"{not json", b"[]"])
def test_an_unauthenticated_open_banking_request_is_401_before_its_body_is_read(client, body):
    response = client.post(CONSENTS, data=body, content_type="application/json")
    assert response.status_code == 401 and response.data == b""
    assert response.headers["WWW-Authenticate"] == 'DPoP algs="PS256 ES256", Bearer'


@pytest.fixture
def aisp_token(platform, clock):
    from tests.oauth_factories import dpop_token, make_client
    with platform.uow() as uow:
        tpp = make_client(uow, now=clock.now(), roles=("AISP",))
        token = dpop_token(uow, tpp, now=clock.now()).access_token
        uow.commit()
    return tpp, token


@pytest.mark.parametrize("depth", [33, 5_000, 100_000])
def test_deeply_nested_json_is_a_400_invalid_format_not_a_500(client, clock, aisp_token, depth):
    from tests.oauth_factories import dpop_proof
    tpp, token = aisp_token
    headers = {"Authorization": f"DPoP {token}",
               "DPoP": dpop_proof(tpp.dpop_key, "POST", "http://localhost" + CONSENTS,
                                  access_token=token, iat=int(clock.now().timestamp()))}
    response = client.post(CONSENTS, data=_nested(depth), content_type="application/json",
                           headers=headers)
    assert response.status_code == 400
    (error,) = response.json["Errors"]
    assert error["ErrorCode"] == "UK.OBIE.Resource.InvalidFormat"
    assert "nests deeper than 32 levels" in error["Message"]
