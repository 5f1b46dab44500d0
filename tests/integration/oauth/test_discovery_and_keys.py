"""Discovery metadata and the ASPSP's signing keys: published before they sign, kept
published after they stop, never a private part in the JWKS."""
from datetime import timedelta

from aspsp.oauth import keys


def test_discovery_names_every_endpoint_and_capability(client):
    meta = client.get("/.well-known/openid-configuration").json
    issuer = meta["issuer"]
    for name, path in [("authorization_endpoint", "/authorize"), ("token_endpoint", "/token"),
                       ("pushed_authorization_request_endpoint", "/par"),
                       ("registration_endpoint", "/register"), ("jwks_uri", "/jwks"),
                       ("introspection_endpoint", "/introspect"),
                       ("revocation_endpoint", "/revoke"), ("userinfo_endpoint", "/userinfo")]:
        assert meta[name] == issuer + path
    assert {"openid", "accounts", "payments", "fundsconfirmations"} <= set(meta["scopes_supported"])
    assert set(meta["response_types_supported"]) == {"code", "code id_token"}
    assert {"authorization_code", "client_credentials", "refresh_token"} <= set(
        meta["grant_types_supported"])
    assert set(meta["token_endpoint_auth_methods_supported"]) == {"private_key_jwt",
                                                                   "tls_client_auth"}
    for field in ("request_object_signing_alg_values_supported",
                  "id_token_signing_alg_values_supported",
                  "token_endpoint_auth_signing_alg_values_supported",
                  "dpop_signing_alg_values_supported"):
        assert set(meta[field]) == {"PS256", "ES256"}, field
    assert {"openbanking_intent_id", "acr"} <= set(meta["claims_supported"])
    assert set(meta["acr_values_supported"]) == {"urn:openbanking:psd2:sca",
                                                 "urn:openbanking:psd2:ca"}
    assert meta["tls_client_certificate_bound_access_tokens"] is True
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["code_challenge_methods_supported"] == ["S256"]


def test_jwks_publishes_public_keys_only(client):
    jwks = client.get("/jwks").json
    assert len(jwks["keys"]) == 1
    key = jwks["keys"][0]
    assert key["alg"] == "PS256" and key["use"] == "sig" and key["kid"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


def test_rotation_publishes_first_and_retires_later(platform, clock, client):
    secret = platform.config["SECRET_KEY"]
    with platform.uow() as uow:
        old_kid, _ = keys.signing_key(uow, "aspsp", secret=secret, now=clock.now())
        new = keys.rotate(uow, "aspsp", secret=secret, now=clock.now(),
                          lead=timedelta(hours=1), keep_published=timedelta(days=1))
        uow.commit()
        published = {k["kid"] for k in keys.published_jwks(uow, "aspsp", now=clock.now())["keys"]}
        assert published == {old_kid, new.kid}
        assert keys.signing_key(uow, "aspsp", secret=secret, now=clock.now())[0] == old_kid
        later = clock.now() + timedelta(hours=2)
        assert keys.signing_key(uow, "aspsp", secret=secret, now=later)[0] == new.kid
        assert {k["kid"] for k in keys.published_jwks(uow, "aspsp", now=later)["keys"]} == {
            old_kid, new.kid}
        much_later = clock.now() + timedelta(days=2)
        assert {k["kid"] for k in keys.published_jwks(uow, "aspsp", now=much_later)["keys"]} == {
            new.kid}


def test_private_keys_are_encrypted_at_rest(platform, clock):
    with platform.uow() as uow:
        keys.signing_key(uow, "aspsp", secret=platform.config["SECRET_KEY"], now=clock.now())
        row = uow.session.query(keys.SigningKey).one()
        assert '"d"' not in row.private_jwk and "kty" not in row.private_jwk


def test_rotate_command(app, platform):
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "published" in result.output
