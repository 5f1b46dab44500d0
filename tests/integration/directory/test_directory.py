"""The sandbox directory: organisations, software statements, SSAs and its JWKS endpoints."""
import json
import os
import stat
import uuid

import pytest
from jwcrypto import jwk, jws

from aspsp.oauth.keys import generate_jwk, public_jwk
from bank import create_app
from sandbox import directory
from tests import tpp_factories


def _verify_with(jwks: dict, token: str) -> tuple[dict, dict]:
    parsed = jws.JWS()
    parsed.deserialize(token)
    header = parsed.jose_header
    key = jwk.JWK(**next(k for k in jwks["keys"] if k["kid"] == header["kid"]))
    parsed.verify(key, alg=header["alg"])
    return header, json.loads(parsed.payload)


def test_an_ssa_verifies_with_the_published_directory_jwks(app, client, platform, clock):
    with platform.uow() as uow:
        tpp = tpp_factories.tpp(uow, now=clock.now(), roles=("AISP", "PISP"))
        ssa = tpp_factories.issue_ssa(uow, app, tpp.software_id, now=clock.now())
        uow.commit()

    published = client.get("/sandbox/directory/jwks")
    assert published.status_code == 200
    assert all("d" not in key for key in published.json["keys"])
    header, claims = _verify_with(published.json, ssa)

    assert header["typ"] == "JWT" and header["alg"] == "PS256" and header["kid"]
    issuer = app.config["ISSUER"]
    assert claims["iss"] == directory.ISSUER
    assert claims["iat"] == int(clock.now().timestamp())
    assert claims["jti"]
    assert claims["software_id"] == claims["software_client_id"] == tpp.software_id
    assert claims["software_client_name"] == "Moneywise"
    assert claims["software_client_description"] == "Budgeting app"
    assert claims["software_client_uri"] == "https://tpp.example"
    assert claims["software_environment"] == "sandbox" and claims["software_mode"] == "Test"
    assert claims["software_version"] == "1.0"
    assert claims["software_redirect_uris"] == tpp.redirect_uris
    assert claims["software_roles"] == ["AISP", "PISP"]
    assert claims["software_jwks_endpoint"] == \
        f"{issuer}/sandbox/directory/software/{tpp.software_id}/jwks"
    assert claims["org_id"] == tpp.org_id and claims["org_name"] == "Moneywise Ltd"
    assert claims["org_status"] == "Active"
    assert claims["org_jwks_endpoint"] == f"{issuer}/sandbox/directory/organisations/{tpp.org_id}/jwks"
    assert claims["organisation_competent_authority_claims"] == {
        "authority_id": "FCA", "registration_id": "123456", "status": "Active",
        "authorisations": [{"member_state": "GB", "roles": ["AISP", "PISP"]}]}


def test_ids_are_base62_and_the_software_id_at_most_22_characters(platform, clock):
    with platform.uow() as uow:
        tpp = tpp_factories.tpp(uow, now=clock.now())
    assert directory.SOFTWARE_ID.match(tpp.software_id) and len(tpp.software_id) == 22
    assert directory.ORG_ID.match(tpp.org_id)


def test_software_and_organisation_jwks_endpoints(client, platform, clock):
    org_key = generate_jwk("ES256")
    org_jwks = {"keys": [public_jwk(org_key, "org-1", "ES256")]}
    with platform.uow() as uow:
        tpp = tpp_factories.tpp(uow, now=clock.now())
        org = directory.create_organisation(uow, name="Keyed Ltd", competent_authority="GB:FCA",
                                            authorisation_id="654321", roles=["AISP"],
                                            jwks=org_jwks, now=clock.now())
        uow.commit()

    software = client.get(f"/sandbox/directory/software/{tpp.software_id}/jwks")
    assert software.status_code == 200 and software.json == tpp.public_jwks
    organisation = client.get(f"/sandbox/directory/organisations/{org.org_id}/jwks")
    assert organisation.status_code == 200 and organisation.json == org_jwks
    assert client.get("/sandbox/directory/software/nosuchsoftware/jwks").status_code == 404
    assert client.get("/sandbox/directory/organisations/nosuchorg/jwks").status_code == 404


@pytest.mark.parametrize("change, message", [
    ({"roles": ["AISP", "PISP"]}, "not authorised"),
    ({"redirect_uris": ["http://tpp.example/cb"]}, "https"),
    ({"redirect_uris": []}, "at least one redirect URI"),
    ({"jwks": "private"}, "public keys only"),
    ({"jwks": "small-rsa"}, "2048"),
    ({"client_name": "x" * 41}, "1 to 40"),
])
def test_the_directory_refuses_bad_software(platform, clock, change, message):
    with platform.uow() as uow:
        org = directory.create_organisation(uow, name="Acme Ltd", competent_authority="GB:FCA",
                                            authorisation_id="1", roles=["AISP"],
                                            now=clock.now())
        key = generate_jwk("ES256")
        fields = dict(org_id=org.org_id, client_name="Acme", roles=["AISP"],
                      redirect_uris=["https://acme.example/cb"],
                      jwks={"keys": [public_jwk(key, "k1", "ES256")]})
        fields.update(change)
        if fields["jwks"] == "private":
            fields["jwks"] = {"keys": [dict(json.loads(key.export_private()), kid="k1")]}
        elif fields["jwks"] == "small-rsa":
            small = jwk.JWK.generate(kty="RSA", size=1024)
            fields["jwks"] = {"keys": [public_jwk(small, "k1", "PS256")]}
        with pytest.raises(directory.DirectoryError, match=message):
            directory.create_software(uow, now=clock.now(), **fields)


def test_the_directory_refuses_a_bad_organisation(platform, clock):
    with platform.uow() as uow:
        with pytest.raises(directory.DirectoryError, match="GB:FCA"):
            directory.create_organisation(uow, name="Acme", competent_authority="FCA",
                                          authorisation_id="1", roles=["AISP"], now=clock.now())
        with pytest.raises(directory.DirectoryError, match="unknown role"):
            directory.create_organisation(uow, name="Acme", competent_authority="GB:FCA",
                                          authorisation_id="1", roles=["ASPSP"], now=clock.now())


def test_no_ssa_for_revoked_software(app, platform, clock):
    with platform.uow() as uow:
        tpp = tpp_factories.tpp(uow, now=clock.now())
        directory.software(uow, tpp.software_id).status = directory.REVOKED
        with pytest.raises(directory.DirectoryError, match="Revoked"):
            tpp_factories.issue_ssa(uow, app, tpp.software_id, now=clock.now())


# --- SSA over HTTP, for the holder of a software key -------------------------------------------

def _assertion(tpp, url, now, *, key=None, jti=None, **overrides):
    iat = int(now.timestamp())
    claims = {"iss": tpp.software_id, "sub": tpp.software_id, "aud": url, "iat": iat,
              "exp": iat + 60, "jti": jti or str(uuid.uuid4())}
    claims.update(overrides)
    return tpp_factories.sign(claims, key or tpp.key, alg=tpp.alg, kid=tpp.kid)


def test_the_ssa_endpoint_answers_the_holder_of_a_software_key(client, platform, clock):
    with platform.uow() as uow:
        tpp = tpp_factories.tpp(uow, now=clock.now())
        uow.commit()
    path = f"/sandbox/directory/software/{tpp.software_id}/ssa"
    url = "http://localhost" + path
    jti = str(uuid.uuid4())

    response = client.post(path, data=_assertion(tpp, url, clock.now(), jti=jti),
                           content_type="application/jwt")
    assert response.status_code == 200 and response.mimetype == "application/jwt"
    _, claims = _verify_with(client.get("/sandbox/directory/jwks").json, response.get_data(True))
    assert claims["software_id"] == tpp.software_id

    replayed = client.post(path, data=_assertion(tpp, url, clock.now(), jti=jti),
                           content_type="application/jwt")
    assert replayed.status_code == 401 and "used before" in replayed.json["error_description"]


@pytest.mark.parametrize("case", ["other key", "wrong aud", "expired", "not a jwt"])
def test_the_ssa_endpoint_refuses_anyone_else(client, platform, clock, case):
    with platform.uow() as uow:
        tpp = tpp_factories.tpp(uow, now=clock.now())
        uow.commit()
    path = f"/sandbox/directory/software/{tpp.software_id}/ssa"
    url = "http://localhost" + path
    body = {
        "other key": lambda: _assertion(tpp, url, clock.now(), key=generate_jwk("PS256")),
        "wrong aud": lambda: _assertion(tpp, url, clock.now(), aud="http://localhost/elsewhere"),
        "expired": lambda: _assertion(tpp, url, clock.now(),
                                      exp=int(clock.now().timestamp()) - 1),
        "not a jwt": lambda: "hello",
    }[case]()
    response = client.post(path, data=body, content_type="application/jwt")
    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"


def test_the_ssa_endpoint_wants_a_jwt_body(client, platform, clock):
    with platform.uow() as uow:
        tpp = tpp_factories.tpp(uow, now=clock.now())
        uow.commit()
    response = client.post(f"/sandbox/directory/software/{tpp.software_id}/ssa", json={})
    assert response.status_code == 400


def test_without_the_sandbox_there_is_no_directory(database, clock, tmp_path, redis_url):
    app = create_app({"DATABASE_URL": database.url, "DATABASE": database, "CLOCK": clock,
                      "CELERY_ALWAYS_EAGER": True, "INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "test-secret", "TESTING": True, "SANDBOX_ENABLED": False,
                      "REDIS_URL": redis_url})
    http = app.test_client()
    assert http.get("/sandbox/directory/jwks").status_code == 404


# --- the command line -------------------------------------------------------------------------

def test_the_cli_creates_an_organisation_software_and_an_ssa(app, client, tmp_path):
    runner = app.test_cli_runner()
    created = runner.invoke(args=["sandbox", "directory", "create-org", "--name", "Moneywise Ltd",
                                  "--authorisation-id", "123456", "--role", "AISP",
                                  "--role", "pisp"])
    assert created.exit_code == 0, created.output
    org_id = created.output.strip()

    key_file = tmp_path / "software.jwk"
    software = runner.invoke(args=["sandbox", "directory", "create-software", org_id,
                                   "--name", "Moneywise", "--role", "AISP",
                                   "--redirect-uri", "https://moneywise.example/cb",
                                   "--new-key", str(key_file), "--alg", "ES256"])
    assert software.exit_code == 0, software.output
    software_id = software.output.strip()
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    private = jwk.JWK(**json.loads(key_file.read_text()))
    assert private.has_private
    assert client.get(f"/sandbox/directory/software/{software_id}/jwks").json["keys"][0]["kid"] \
        == private.thumbprint()

    issued = runner.invoke(args=["sandbox", "directory", "issue-ssa", software_id])
    assert issued.exit_code == 0, issued.output
    _, claims = _verify_with(client.get("/sandbox/directory/jwks").json, issued.output.strip())
    assert claims["software_id"] == software_id and claims["org_id"] == org_id
    assert claims["software_roles"] == ["AISP"]


def test_the_cli_explains_refusals(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["sandbox", "directory", "issue-ssa", "nosuchsoftware"])
    assert result.exit_code != 0 and "no software statement nosuchsoftware" in result.output
