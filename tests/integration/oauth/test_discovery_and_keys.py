"""Discovery metadata and the platform's signing keys: published before they sign (at least
the JWKS cache lifetime), kept published after they stop, never made when something needs a
signature, never a private part in the JWKS, private parts sealed with the key-encryption key."""
import base64
import binascii
import json
from datetime import timedelta

import pytest
from jwcrypto import jwk, jwt
from sqlalchemy import delete, select

from aspsp.keyring import SealedValueError, parse
from aspsp.keyring import new_key_setting
from aspsp.oauth import idtoken, keys
from aspsp.oauth.models import SigningKey


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


def test_jwks_publishes_a_public_key_of_every_algorithm_it_signs_with(client):
    response = client.get("/jwks")
    assert response.headers["Cache-Control"] == f"public, max-age={keys.JWKS_MAX_AGE_SECONDS}"
    published = response.json["keys"]
    assert sorted(k["alg"] for k in published) == ["ES256", "PS256"]
    for key in published:
        assert key["use"] == "sig" and key["kid"]
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


def _sign(app, platform, clock, alg, at=None):
    with app.app_context(), platform.uow() as uow:
        token = idtoken.sign_jwt(uow, {"iss": "x"}, now=at or clock.now(), alg=alg)
        uow.commit()
    return jwt.JWT(jwt=token).token.jose_header["kid"]


@pytest.mark.parametrize("alg", ["ES256", "PS256"])
def test_the_first_id_token_of_an_algorithm_is_signed_by_a_key_already_published(
        app, platform, clock, client, alg):
    before = {k["kid"]: k for k in client.get("/jwks").json["keys"]}
    kid = _sign(app, platform, clock, alg)
    assert kid in before and before[kid]["alg"] == alg
    assert {k["kid"] for k in client.get("/jwks").json["keys"]} == set(before)


def test_signing_never_makes_a_key(app, platform, clock, client):
    with platform.uow() as uow:
        uow.session.execute(delete(SigningKey).where(SigningKey.owner == "aspsp"))
        uow.commit()
    with platform.uow() as uow, pytest.raises(keys.NoSigningKey, match="flask keys rotate"):
        keys.signing_key(uow, "aspsp", keyring=platform.keyring, now=clock.now(), alg="ES256")
    assert client.get("/jwks").json == {"keys": []}
    with platform.uow() as uow:
        assert uow.session.scalars(select(SigningKey).where(SigningKey.owner == "aspsp")).all() \
            == []


def test_rotation_publishes_first_and_retires_later(platform, clock, client):
    keyring = platform.keyring
    with platform.uow() as uow:
        old_kid, _ = keys.signing_key(uow, "aspsp", keyring=keyring, now=clock.now())
        es256_kid, _ = keys.signing_key(uow, "aspsp", keyring=keyring, now=clock.now(),
                                        alg="ES256")
        new = keys.rotate(uow, "aspsp", keyring=keyring, now=clock.now(),
                          lead=timedelta(hours=1), keep_published=timedelta(days=1))
        uow.commit()
        published = {k["kid"] for k in keys.published_jwks(uow, "aspsp", now=clock.now())["keys"]}
        assert published == {old_kid, es256_kid, new.kid}
        assert keys.signing_key(uow, "aspsp", keyring=keyring, now=clock.now())[0] == old_kid
        later = clock.now() + timedelta(hours=2)
        assert keys.signing_key(uow, "aspsp", keyring=keyring, now=later)[0] == new.kid
        # rotating PS256 leaves the ES256 key signing
        assert keys.signing_key(uow, "aspsp", keyring=keyring, now=later, alg="ES256")[0] \
            == es256_kid
        assert {k["kid"] for k in keys.published_jwks(uow, "aspsp", now=later)["keys"]} == {
            old_kid, es256_kid, new.kid}
        much_later = clock.now() + timedelta(days=2)
        assert {k["kid"] for k in keys.published_jwks(uow, "aspsp", now=much_later)["keys"]} == {
            es256_kid, new.kid}


def test_a_rotated_key_never_signs_before_the_jwks_cache_lifetime_even_with_no_lead(
        app, platform, clock, client):
    platform.config["KEY_PUBLISH_LEAD_SECONDS"] = 0
    old = _sign(app, platform, clock, "ES256")
    result = app.test_cli_runner().invoke(args=["keys", "rotate", "--alg", "ES256"])
    assert result.exit_code == 0, result.output
    new = result.output.split()[3]
    assert new in {k["kid"] for k in client.get("/jwks").json["keys"]}   # published at once
    almost = clock.now() + timedelta(seconds=keys.JWKS_MAX_AGE_SECONDS - 1)
    assert _sign(app, platform, clock, "ES256", at=almost) == old
    then = clock.now() + timedelta(seconds=keys.JWKS_MAX_AGE_SECONDS)
    assert _sign(app, platform, clock, "ES256", at=then) == new


def test_a_new_algorithm_on_an_existing_install_signs_only_after_the_jwks_cache_lifetime(
        platform, clock):
    with platform.uow() as uow:
        uow.session.execute(delete(SigningKey).where(SigningKey.owner == "aspsp",
                                                     SigningKey.alg == "ES256"))
        made = keys.ensure_keys(uow, "aspsp", keyring=platform.keyring, now=clock.now())
        assert [(k.alg, k.created_at, k.active_from) for k in made] == [
            ("ES256", clock.now(), clock.now() + keys.JWKS_MAX_AGE)]
        with pytest.raises(keys.NoSigningKey):
            keys.signing_key(uow, "aspsp", keyring=platform.keyring, now=clock.now(), alg="ES256")
        assert keys.signing_key(uow, "aspsp", keyring=platform.keyring,
                                now=clock.now() + keys.JWKS_MAX_AGE, alg="ES256")[0] == made[0].kid
        assert keys.ensure_keys(uow, "aspsp", keyring=platform.keyring, now=clock.now()) == []


def test_private_keys_are_encrypted_at_rest(platform, clock):
    with platform.uow() as uow:
        rows = uow.session.scalars(select(SigningKey)).all()
        assert {(row.owner, row.alg) for row in rows} >= {("aspsp", "PS256"), ("aspsp", "ES256")}
        for row in rows:
            version, payload = row.private_jwk.split(":")[1:]
            assert row.private_jwk.startswith(f"sealed:{version}:")
            for text in (row.private_jwk, _b64(payload)):
                with pytest.raises((ValueError, UnicodeDecodeError)):
                    json.loads(text)
            # it opens with the platform's KEK, to the private half of the published key ...
            private = jwk.JWK.from_json(platform.keyring.open(
                row.private_jwk, f"signing_keys.private_jwk:{row.kid}"))
            assert private.has_private and private.thumbprint() == row.kid
            # ... and with nothing else: another KEK of the same version, or another key's row
            with pytest.raises(SealedValueError):
                parse(new_key_setting(version)).open(row.private_jwk,
                                                     f"signing_keys.private_jwk:{row.kid}")
            with pytest.raises(SealedValueError):
                platform.keyring.open(row.private_jwk, "signing_keys.private_jwk:another-kid")


def _b64(payload: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(payload)
    except binascii.Error:
        pytest.fail("the sealed payload is not base64url")


def test_rotate_command(app, platform):
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "published" in result.output
