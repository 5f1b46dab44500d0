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
