"""Registration does not tell the TPP what the bank's outbound fetch met: an SSA whose
software_jwks_endpoint is a refused private address and one whose endpoint is a closed
loopback port are refused with the same generic error; the detail goes to the log."""
from __future__ import annotations

import logging
import uuid

import pytest
from jwcrypto import jwt

from aspsp.oauth import keys
from sandbox import directory
from tests import tpp_factories


def _ssa_with_jwks_endpoint(uow, app, tpp, endpoint: str, *, now) -> str:
    """A directory-signed SSA like issue_ssa's, naming `endpoint` for the software keys."""
    sw = directory.software(uow, tpp.software_id)
    claims = directory.ssa_claims(sw.organisation, sw, now=now, issuer=app.config["ISSUER"],
                                  jti=f"jti-{tpp.software_id}")
    claims["software_jwks_endpoint"] = endpoint
    kid, key = keys.signing_key(uow, "directory", keyring=app.extensions["aspsp"].keyring,
                                now=now, alg=directory.SSA_ALG)
    token = jwt.JWT(header={"typ": "JWT", "alg": directory.SSA_ALG, "kid": kid}, claims=claims)
    token.make_signed_token(key)
    return token.serialize()


@pytest.mark.parametrize("endpoint, detail", [
    ("https://10.0.0.1/jwks", "non-public"),         # refused before any connection
    ("https://127.0.0.1:1/jwks", "ConnectionFailed"),  # the sandbox's loopback, port closed
])
def test_an_unfetchable_software_jwks_endpoint_is_a_generic_error_with_the_detail_logged(
        app, client, platform, clock, caplog, endpoint, detail):
    with platform.uow() as uow:
        tpp = tpp_factories.tpp(uow, now=clock.now())
        # a path of its own: the fetcher remembers a failed URL for a while
        ssa = _ssa_with_jwks_endpoint(uow, app, tpp, f"{endpoint}/{uuid.uuid4().hex}",
                                      now=clock.now())
        uow.commit()
    token = tpp_factories.registration_jwt(tpp, ssa, issuer=app.config["ISSUER"],
                                           now=clock.now())
    with caplog.at_level(logging.WARNING, logger="aspsp.oauth.registration"):
        response = tpp_factories.post_registration(client, token)
    assert response.status_code == 400
    assert response.json == {
        "error": "invalid_software_statement",
        "error_description": "the software statement's software_jwks_endpoint could not be "
                             "fetched"}
    logged = [r.__dict__.get("fields", {}).get("reason", "") for r in caplog.records
              if r.name == "aspsp.oauth.registration"]
    assert any(detail in reason for reason in logged), logged
