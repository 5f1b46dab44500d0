"""Sender-constrained tokens at the resource server: DPoP (RFC 9449) and MTLS (RFC 8705)."""
import pytest
from flask import Blueprint, jsonify, request

from aspsp.oauth import tokens
from tests.certs import client_certificate
from tests.oauth_factories import dpop_proof, make_client
from tests.oauth_tpp import HOST, Tpp

PATH = "/test-protected"


@pytest.fixture
def protected(app):
    bp = Blueprint("protected", __name__)

    @bp.get(PATH)
    def resource():
        p = app.extensions["aspsp"]
        with p.uow() as uow:
            try:
                ctx = tokens.authenticate_resource_request(uow, request, now=p.clock.now(),
                                                           replay=p.replay, config=p.config)
            except tokens.TokenError as exc:
                return exc.response()
            return jsonify(client_id=ctx.client.client_id)

    app.register_blueprint(bp)
    return PATH


def _get(tpp, token, *, proof=True, key=None, url=None, jti=None, scheme="DPoP"):
    headers = {"Authorization": f"{scheme} {token}"}
    if proof:
        headers["DPoP"] = dpop_proof(key or tpp.client.dpop_key, "GET", url or HOST + PATH,
                                     access_token=token, iat=tpp.now(), jti=jti)
    return tpp.http.get(PATH, headers=headers)


def _cc_token(tpp):
    response = tpp.client_credentials("accounts")
    assert response.status_code == 200, response.json
    return response.json["access_token"]


def test_dpop_bound_token_with_its_proof(tpp, protected):
    response = _get(tpp, _cc_token(tpp))
    assert response.status_code == 200
    assert response.json["client_id"] == tpp.client_id


def test_dpop_proof_missing(tpp, protected):
    response = _get(tpp, _cc_token(tpp), proof=False)
    assert response.status_code == 401
    assert response.json["error"] == "invalid_dpop_proof"
    assert response.headers["WWW-Authenticate"].startswith("DPoP ")


def test_dpop_proof_from_another_key(tpp, protected):
    from jwcrypto import jwk
    response = _get(tpp, _cc_token(tpp), key=jwk.JWK.generate(kty="EC", crv="P-256"))
    assert response.status_code == 401
    assert "another key" in response.json["error_description"]


def test_dpop_proof_for_another_url(tpp, protected):
    response = _get(tpp, _cc_token(tpp), url=HOST + "/somewhere-else")
    assert response.status_code == 401
    assert "htu" in response.json["error_description"]


def test_dpop_proof_replayed(tpp, protected):
    token = _cc_token(tpp)
    assert _get(tpp, token, jti="once").status_code == 200
    replay = _get(tpp, token, jti="once")
    assert replay.status_code == 401
    assert "jti" in replay.json["error_description"]


def test_dpop_bound_token_sent_as_bearer(tpp, protected):
    response = _get(tpp, _cc_token(tpp), proof=False, scheme="Bearer")
    assert response.status_code == 401
    assert response.json["error"] == "invalid_token"


def test_revoked_token(tpp, protected, platform, clock):
    token = _cc_token(tpp)
    with platform.uow() as uow:
        tokens.revoke_for_client(uow, tpp.client.row.id, now=clock.now())
        uow.commit()
    assert _get(tpp, token).json["error"] == "invalid_token"


@pytest.fixture
def mtls_tpp(platform, client, clock):
    platform.config["TRUSTED_PROXIES"] = "127.0.0.1"
    cert, dn = client_certificate("mtls-tpp")
    with platform.uow() as uow:
        test_client = make_client(uow, now=clock.now(), auth_method="tls_client_auth")
        test_client.row.client_metadata = {**test_client.row.client_metadata,
                                           "tls_client_auth_subject_dn": dn}
        uow.commit()
    return Tpp(client, test_client, clock=clock), cert


def _mtls_token(tpp, cert):
    response = tpp.http.post("/token", data={"grant_type": "client_credentials",
                                             "scope": "accounts", "client_id": tpp.client_id},
                             headers={"X-SSL-Client-Cert": cert},
                             environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert response.status_code == 200, response.json
    assert response.json["token_type"] == "Bearer"
    return response.json["access_token"]


def _mtls_get(tpp, token, cert, remote="127.0.0.1"):
    return tpp.http.get(PATH, headers={"Authorization": f"Bearer {token}",
                                       "X-SSL-Client-Cert": cert},
                        environ_base={"REMOTE_ADDR": remote})


def test_mtls_bound_token_with_its_certificate(mtls_tpp, protected):
    tpp, cert = mtls_tpp
    assert _mtls_get(tpp, _mtls_token(tpp, cert), cert).status_code == 200


def test_mtls_bound_token_with_another_certificate(mtls_tpp, protected):
    tpp, cert = mtls_tpp
    other, _ = client_certificate("someone-else")
    response = _mtls_get(tpp, _mtls_token(tpp, cert), other)
    assert response.status_code == 401
    assert "certificate" in response.json["error_description"]


def test_a_certificate_bound_token_must_use_the_bearer_scheme(mtls_tpp, protected):
    tpp, cert = mtls_tpp
    token = _mtls_token(tpp, cert)
    response = tpp.http.get(PATH, headers={"Authorization": f"DPoP {token}",
                                           "X-SSL-Client-Cert": cert},
                            environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert response.status_code == 401
    assert response.json["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


def test_certificate_header_from_an_untrusted_address_is_ignored(mtls_tpp, protected):
    tpp, cert = mtls_tpp
    token = _mtls_token(tpp, cert)
    assert _mtls_get(tpp, token, cert, remote="10.1.2.3").status_code == 401


def test_tls_client_auth_with_a_certificate_of_another_subject(mtls_tpp):
    tpp, _ = mtls_tpp
    other, _ = client_certificate("someone-else")
    response = tpp.http.post("/token", data={"grant_type": "client_credentials",
                                             "scope": "accounts", "client_id": tpp.client_id},
                             headers={"X-SSL-Client-Cert": other},
                             environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"


def test_forged_forwarding_headers_from_a_non_proxy_do_not_make_it_trusted(mtls_tpp, protected):
    """A caller that reaches the app directly cannot claim to be the proxy with
    X-Forwarded-For, nor present a certificate header of its own."""
    tpp, cert = mtls_tpp
    token = _mtls_token(tpp, cert)
    response = tpp.http.get(PATH, headers={"Authorization": f"Bearer {token}",
                                           "X-SSL-Client-Cert": cert,
                                           "X-Forwarded-For": "127.0.0.1"},
                            environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert response.status_code == 401


def test_requests_through_the_proxy_keep_the_certificate_whatever_the_forwarded_for(
        mtls_tpp, protected):
    """Behind the proxy, X-Forwarded-For names the TPP; the certificate is still believed
    because the peer (the socket) is the proxy."""
    tpp, cert = mtls_tpp
    token = _mtls_token(tpp, cert)
    response = tpp.http.get(PATH, headers={"Authorization": f"Bearer {token}",
                                           "X-SSL-Client-Cert": cert,
                                           "X-SSL-Client-Verify": "SUCCESS",
                                           "X-Forwarded-For": "203.0.113.7",
                                           "X-Forwarded-Proto": "http",
                                           "X-Forwarded-Host": "localhost"},
                            environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert response.status_code == 200, response.json


def test_a_certificate_the_proxy_could_not_verify_is_ignored(mtls_tpp, protected):
    tpp, cert = mtls_tpp
    token = _mtls_token(tpp, cert)
    response = tpp.http.get(PATH, headers={"Authorization": f"Bearer {token}",
                                           "X-SSL-Client-Cert": cert,
                                           "X-SSL-Client-Verify": "FAILED:unknown CA"},
                            environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert response.status_code == 401


def test_htu_compares_after_uri_normalisation():
    from aspsp.oauth.dpop import normalise_htu
    assert normalise_htu("HTTP://LocalHost/a%7Eb/c?x=1#f") == normalise_htu("http://localhost/a~b/c")
    assert normalise_htu("http://localhost/caf%C3%A9") == normalise_htu("http://localhost/café")
    assert normalise_htu("http://localhost/a%00") == normalise_htu("http://localhost/a\x00")
    assert normalise_htu("http://localhost/a") != normalise_htu("http://localhost/b")
    # the scheme's default port is no port (RFC 3986 §6.2.3; the OpenID suite's DpopHtuWithPort)
    assert normalise_htu("https://Bank.example:443/token") == normalise_htu("https://bank.example/token")
    assert normalise_htu("http://localhost:80/a") == normalise_htu("http://localhost/a")
    assert normalise_htu("https://bank.example:8443/token") != normalise_htu("https://bank.example/token")
    assert normalise_htu("http://localhost:443/a") != normalise_htu("http://localhost/a")
    assert normalise_htu("http://localhost/a") != normalise_htu("http://evil.example/a")


def test_a_proof_for_the_same_path_on_another_host_is_refused(tpp, protected):
    """htu is checked against the bank's public URL (ISSUER), not the request's Host header."""
    token = _cc_token(tpp)
    assert _get(tpp, token, url="https://evil.example" + PATH).status_code == 401
    response = tpp.http.get(PATH, base_url="https://evil.example", headers={
        "Authorization": f"DPoP {token}",
        "DPoP": dpop_proof(tpp.client.dpop_key, "GET", "https://evil.example" + PATH,
                           access_token=token, iat=tpp.now())})
    assert response.status_code == 401
    assert "htu" in response.json["error_description"]


def test_client_assertion_for_another_host_is_refused_whatever_the_host_header(tpp):
    response = tpp.http.post("/token", base_url="https://evil.example", data={
        "grant_type": "client_credentials", "scope": "accounts",
        **tpp.auth_form(aud="https://evil.example/token")},
        headers={"DPoP": dpop_proof(tpp.client.dpop_key, "POST", "https://evil.example/token",
                                    iat=tpp.now())})
    assert response.status_code in (400, 401)
    assert response.json["error"] in ("invalid_client", "invalid_dpop_proof")
