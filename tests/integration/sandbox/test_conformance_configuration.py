"""The sandbox's run configuration for the conformance suite (sandbox/conformance.py) carries
the SSAs the dcr plan's refusals need: the bank refuses each one for what is wrong with it,
while a fresh SSA of the same test app, in the same request, is registered."""
import json
import os

from jwcrypto import jwk

from sandbox import conformance, directory
from tests import tpp_factories


def _configuration(app) -> dict:
    with app.app_context():
        path = conformance.sandbox_configuration(app)
    assert os.stat(path).st_mode & 0o777 == 0o600
    return json.loads(path.read_text())


def _tpp(config: dict) -> tpp_factories.Tpp:
    key = jwk.JWK(**config["directory"]["software_key"])
    return tpp_factories.Tpp(org_id="", software_id=config["directory"]["software_id"], key=key,
                             kid=key.get("kid"), alg="ES256",
                             redirect_uris=[config["redirect_uri"]])


def _claims(token: str) -> dict:
    return json.loads(jwk.base64url_decode(token.split(".")[1]))


def _register(app, client, clock, tpp, ssa, **overrides):
    token = tpp_factories.registration_jwt(tpp, ssa, issuer=app.config["ISSUER"],
                                           now=clock.now(), **overrides)
    return tpp_factories.post_registration(client, token)


def test_the_configuration_carries_ssas_the_bank_refuses(app, client, platform, clock):
    config = _configuration(app)
    tpp = _tpp(config)

    expired = _register(app, client, clock, tpp, config["dcr"]["expired_ssa"])
    assert expired.status_code == 400
    assert expired.json["error"] == "invalid_software_statement"
    assert "older than" in expired.json["error_description"]

    unknown_ssa = config["dcr"]["unknown_software_ssa"]
    unknown_id = _claims(unknown_ssa)["software_id"]
    assert unknown_id != tpp.software_id
    unknown = _register(app, client, clock, tpp, unknown_ssa, iss=unknown_id,
                        software_id=unknown_id)
    assert unknown.status_code == 400
    assert unknown.json["error"] == "invalid_software_statement"
    assert "publishes no keys" in unknown.json["error_description"]

    # The control: the same test app with an SSA the directory issues now is registered.
    with platform.uow() as uow:
        fresh = tpp_factories.issue_ssa(uow, app, tpp.software_id, now=clock.now())
        uow.commit()
    assert _register(app, client, clock, tpp, fresh).status_code == 201


def test_a_later_run_keeps_the_test_app_and_gets_fresh_ssas(app, platform, clock):
    first = _configuration(app)
    second = _configuration(app)
    assert second["directory"] == first["directory"]
    assert second["dcr"]["unknown_software_ssa"] != first["dcr"]["unknown_software_ssa"]
    with platform.uow() as uow:                  # the unknown software stays unknown
        claims = _claims(second["dcr"]["unknown_software_ssa"])
        assert directory.jwks_for_uri(uow, claims["software_jwks_endpoint"],
                                      issuer=app.config["ISSUER"], now=clock.now()) == {"keys": []}
