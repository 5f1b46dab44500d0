"""An app's keys: generated (the private key downloaded once, never kept), uploaded (public
keys only, strong, named, for signing), rotated and revoked."""
from __future__ import annotations

import json
import logging
from datetime import timedelta
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives import serialization
from jwcrypto import jwk, jws
from sqlalchemy import select

from developer_portal.models import DEVELOPER, PortalApp, PortalMembership
from tests.integration.portal.org_app_helpers import post, signed_in, text
from tests.portal_factories import make_app, make_developer, make_organisation


@pytest.fixture
def world(app, database, clock):
    now = clock.now()
    with database.uow() as uow:
        dana = make_developer(uow, now, email="dana@acme.example")
        acme = make_organisation(uow, now, dana)
        eve = make_developer(uow, now, email="eve@acme.example")
        uow.session.add(PortalMembership(org_pk=acme.id, developer_pk=eve.id, role=DEVELOPER,
                                         created_at=now))
        mallory = make_developer(uow, now, email="mallory@other.example")
        make_organisation(uow, now, mallory, name="Other Corp")
        acme_app = make_app(uow, now, acme)
        uow.commit()
    url = f"/developers/apps/{acme_app.app_id}"
    return SimpleNamespace(dana=dana, eve=eve, mallory=mallory, app=acme_app, url=url,
                           keys=url + "/keys", now=now)


def _jwks(database, app_id) -> dict:
    with database.uow() as uow:
        return uow.session.scalars(select(PortalApp.jwks).where(
            PortalApp.app_id == app_id)).one()


def _public(kid: str, kty: str = "EC", **extra) -> dict:
    key = jwk.JWK.generate(kty="EC", crv=extra.pop("crv", "P-256")) if kty == "EC" \
        else jwk.JWK.generate(kty="RSA", size=extra.pop("size", 2048))
    return {**json.loads(key.export_public()), "kid": kid, **extra}


@pytest.mark.parametrize("alg, fmt", [("ES256", "pem"), ("PS256", "jwk")])
def test_a_generated_private_key_is_downloaded_once_and_never_kept(app, database, world,
                                                                    alg, fmt, caplog):
    caplog.set_level(logging.DEBUG)
    client = signed_in(app, world.eve, world.now)
    response = post(client, world.url, world.keys + "/generate", {"alg": alg, "format": fmt})
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data(as_text=True)
    if fmt == "pem":
        assert body.startswith("-----BEGIN PRIVATE KEY-----")
        private = jwk.JWK.from_pem(body.encode())
    else:
        private = jwk.JWK(**json.loads(body))
        assert json.loads(body)["alg"] == alg and json.loads(body)["use"] == "sig"
    assert private.has_private
    stored = _jwks(database, world.app.app_id)["keys"]
    assert len(stored) == 1
    kid = stored[0]["kid"]
    assert kid == response.headers["X-Key-Id"] == private.thumbprint()
    assert stored[0]["alg"] == alg and stored[0]["use"] == "sig"
    assert not set(stored[0]) & {"d", "p", "q", "dp", "dq", "qi"}
    # the stored public key verifies what the downloaded private key signs
    signed = jws.JWS(b"hello")
    signed.add_signature(private, alg=alg, protected={"alg": alg, "kid": kid})
    check = jws.JWS()
    check.deserialize(signed.serialize())
    check.verify(jwk.JWK(**stored[0]), alg=alg)
    # the page shows the public key, never the private one, and says it is not stored
    page = text(client.get(world.url))
    assert kid in page and "PRIVATE KEY" not in page
    assert private.export_private(as_dict=True)["d"] not in page
    assert "never stored" in page
    # nothing in the logs carries the private key
    secret = private.export_private(as_dict=True)["d"]
    assert all(secret not in r.getMessage() and "PRIVATE KEY" not in r.getMessage()
               for r in caplog.records)
    # a second generation is another key, not the first one again
    again = post(client, world.url, world.keys + "/generate", {"alg": alg, "format": fmt})
    assert again.get_data(as_text=True) != body
    assert len(_jwks(database, world.app.app_id)["keys"]) == 2


def test_the_pem_download_loads_as_a_pkcs8_key(app, world):
    client = signed_in(app, world.dana, world.now)
    body = post(client, world.url, world.keys + "/generate",
                {"alg": "PS256", "format": "pem"}).get_data()
    key = serialization.load_pem_private_key(body, password=None)
    assert key.key_size == 2048


def test_generation_refuses_an_unknown_algorithm_or_format(app, database, world):
    client = signed_in(app, world.dana, world.now)
    for data, message in [({"alg": "HS256", "format": "pem"}, "choose ES256 or PS256"),
                          ({"alg": "ES256", "format": "p12"}, "PEM or JWK")]:
        response = post(client, world.url, world.keys + "/generate", data)
        assert response.status_code == 400 and message in text(response)
    assert _jwks(database, world.app.app_id) == {"keys": []}


def test_an_uploaded_public_jwks_is_added(app, database, world):
    client = signed_in(app, world.dana, world.now)
    keys = [_public("ec-1", use="sig", alg="ES256"), _public("rsa-1", "RSA")]
    response = post(client, world.url, world.keys + "/upload",
                    {"jwks": json.dumps({"keys": keys})})
    assert response.status_code == 303
    stored = _jwks(database, world.app.app_id)["keys"]
    assert [k["kid"] for k in stored] == ["ec-1", "rsa-1"]
    page = text(client.get(world.url))
    assert "ec-1" in page and "EC P-256" in page and "RSA 2048" in page
    # a single JWK is a JWKS of one
    response = post(client, world.url, world.keys + "/upload",
                    {"jwks": json.dumps(_public("ec-2"))})
    assert response.status_code == 303
    assert [k["kid"] for k in _jwks(database, world.app.app_id)["keys"]] == \
        ["ec-1", "rsa-1", "ec-2"]


def _private_ec(kid):
    return {**jwk.JWK.generate(kty="EC", crv="P-256").export_private(as_dict=True), "kid": kid}


@pytest.mark.parametrize("jwks, message", [
    ({"keys": [_private_ec("p-1")]}, "public keys only: a private key was given"),
    ({"keys": [_public("")]}, "every key needs a kid"),
    ({"keys": [{k: v for k, v in _public("x").items() if k != "kid"}]}, "every key needs a kid"),
    ({"keys": [_public("dup"), _public("dup")]}, "every key needs its own kid"),
    ({"keys": [_public("enc-1", use="enc")]}, "only signing keys (use sig)"),
    ({"keys": [_public("weak", "RSA", size=1024)]}, "RSA of at least 2048 bits or EC P-256"),
    ({"keys": [_public("p384", crv="P-384")]}, "RSA of at least 2048 bits or EC P-256"),
    ({"keys": [{"kty": "EC", "kid": "junk", "crv": "P-256", "x": "AA", "y": "AA"}]},
     "key junk is not a valid JWK"),
    ({"keys": [{"kty": "oct", "kid": "sym", "k": "c2VjcmV0"}]}, "a private key was given"),
    ({"keys": [_public("bad-alg", alg="RS256")]}, "alg must be ES256 or PS256"),
    ({"keys": []}, "at least one key"),
    ({"nokeys": 1}, "at least one key"),
])
def test_a_bad_jwks_upload_is_refused_on_the_page(app, database, world, jwks, message):
    client = signed_in(app, world.dana, world.now)
    response = post(client, world.url, world.keys + "/upload", {"jwks": json.dumps(jwks)})
    assert response.status_code == 400
    assert message in text(response)
    assert _jwks(database, world.app.app_id) == {"keys": []}


def test_a_refused_private_key_is_not_echoed_back(app, world):
    client = signed_in(app, world.dana, world.now)
    private = _private_ec("p-1")
    response = post(client, world.url, world.keys + "/upload",
                    {"jwks": json.dumps({"keys": [private]})})
    assert response.status_code == 400 and private["d"] not in text(response)


def test_upload_refuses_text_that_is_not_json_and_an_existing_kid(app, database, world):
    client = signed_in(app, world.dana, world.now)
    response = post(client, world.url, world.keys + "/upload", {"jwks": "<script>x</script>"})
    assert response.status_code == 400 and "not valid JSON" in text(response)
    assert "&lt;script&gt;x&lt;/script&gt;" in text(response)
    assert "<script>x" not in text(response)
    post(client, world.url, world.keys + "/upload", {"jwks": json.dumps(_public("k1"))})
    response = post(client, world.url, world.keys + "/upload",
                    {"jwks": json.dumps(_public("k1"))})
    assert response.status_code == 400
    assert "already has a key with kid k1" in text(response)
    assert len(_jwks(database, world.app.app_id)["keys"]) == 1


def test_rotation_adds_a_key_then_revokes_the_old_one(app, database, world, clock):
    client = signed_in(app, world.dana, world.now)
    post(client, world.url, world.keys + "/upload", {"jwks": json.dumps(_public("old"))})
    post(client, world.url, world.keys + "/upload", {"jwks": json.dumps(_public("new"))})
    assert [k["kid"] for k in _jwks(database, world.app.app_id)["keys"]] == ["old", "new"]
    response = post(client, world.url, world.keys + "/revoke", {"kid": "old"})
    assert response.status_code == 303
    assert [k["kid"] for k in _jwks(database, world.app.app_id)["keys"]] == ["new"]
    page = text(client.get(response.headers["Location"]))
    assert "Key old revoked" in page
    response = post(client, world.url, world.keys + "/revoke", {"kid": "old"})
    assert response.status_code == 400 and "no key with that kid" in text(response)


def test_every_key_change_bumps_updated_at_and_tells_the_sandbox(app, database, world, clock):
    seen = []

    class Recorder:
        def organisation_saved(self, uow, org):
            pass

        def app_saved(self, uow, saved):
            seen.append((saved.app_id, [k["kid"] for k in saved.jwks["keys"]],
                         saved.updated_at))

        def app_links(self, saved):
            return []

    app.extensions["developer_portal.sandbox"] = Recorder()
    client = signed_in(app, world.dana, world.now)
    clock.advance(timedelta(seconds=60))
    post(client, world.url, world.keys + "/upload", {"jwks": json.dumps(_public("a"))})
    post(client, world.url, world.keys + "/generate", {"alg": "ES256", "format": "pem"})
    post(client, world.url, world.keys + "/revoke", {"kid": "a"})
    assert [kids for _, kids, _ in seen][0] == ["a"]
    assert len(seen[1][1]) == 2 and seen[2][1] == seen[1][1][1:]
    assert all(app_id == world.app.app_id for app_id, _, _ in seen)
    with database.uow() as uow:
        saved = uow.session.scalars(select(PortalApp).where(
            PortalApp.app_id == world.app.app_id)).one()
        assert saved.updated_at > world.now


def test_a_non_member_gets_404_on_every_key_url(app, database, world):
    with database.uow() as uow:
        row = uow.session.scalars(select(PortalApp).where(
            PortalApp.app_id == world.app.app_id)).one()
        row.jwks = {"keys": [_public("keep")]}
        uow.commit()
    client = signed_in(app, world.mallory, world.now)
    page = "/developers/apps/"
    for action, data in [("/upload", {"jwks": json.dumps(_public("evil"))}),
                         ("/generate", {"alg": "ES256", "format": "pem"}),
                         ("/revoke", {"kid": "keep"})]:
        response = post(client, page, world.keys + action, data)
        assert response.status_code == 404, action
        assert "PRIVATE KEY" not in text(response)
    assert [k["kid"] for k in _jwks(database, world.app.app_id)["keys"]] == ["keep"]


def test_every_key_form_needs_the_csrf_token(app, database, world):
    client = signed_in(app, world.dana, world.now)
    client.get(world.url)
    for action, data in [("/upload", {"jwks": json.dumps(_public("x"))}),
                         ("/generate", {"alg": "ES256", "format": "pem"}),
                         ("/revoke", {"kid": "x"})]:
        for forged in ({}, {"csrf_token": "forged"}):
            response = client.post(world.keys + action, data={**data, **forged})
            assert response.status_code == 400, action
            assert "did not come from this site" in text(response)
            assert "PRIVATE KEY" not in text(response)
    assert _jwks(database, world.app.app_id) == {"keys": []}
