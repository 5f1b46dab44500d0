"""The conformance suite's configuration for this sandbox (`flask conformance run` without
--config, aspsp/conformance_cli.py): a test app of the sandbox directory (an organisation and
a software statement with the AISP, PISP and CBPII roles, its private key kept, mode 0600, in
conformance-tpp.json under the instance path and reused while the directory still knows it)
and the demo customer alice, who approves with her password and TOTP secret. Each call also
writes, afresh, the SSAs the dcr plan's refusals need (`dcr`: an expired SSA of the test app
and one of software the directory does not know, directory.issue_refused_ssas): they exist
only in this file, never behind an endpoint."""
from __future__ import annotations

import json
import os
from pathlib import Path

from flask import Flask
from jwcrypto import jwk

from aspsp.platform import current

from . import directory
from .seed import DEMO_USERS

TPP_FILE = "conformance-tpp.json"
REDIRECT_URI = "https://conformance-tpp.example/callback"
DEMO_CUSTOMER = "alice"


def sandbox_configuration(app: Flask) -> Path:
    """The suite's configuration for this sandbox: a test app of the sandbox directory (made
    once, reused while the directory still knows it), the demo customer alice, and, made
    afresh each time, the SSAs the dcr plan's refusals need (`dcr`, refused_ssas)."""
    path = Path(app.config["INSTANCE_PATH"]) / TPP_FILE
    config = _reusable(path) or _new_test_app()
    config["dcr"] = refused_ssas(config["directory"]["software_id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(config, handle, indent=2)
    os.chmod(path, 0o600)                # it holds the test app's private key
    return path


def refused_ssas(software_id: str) -> dict:
    """The dcr plan's `dcr` configuration: an expired SSA of the test app and a fresh one of
    software the directory does not know, both signed by the directory (directory.
    issue_refused_ssas). They exist only in this file: no endpoint of the sandbox issues them."""
    p = current()
    with p.uow() as uow:
        ssas = directory.issue_refused_ssas(uow, software_id, now=p.clock.now(),
                                            issuer=p.config["ISSUER"], keyring=p.keyring)
        uow.commit()                     # the directory's signing key, if it was made now
    return {"expired_ssa": ssas["expired"], "unknown_software_ssa": ssas["unknown_software"]}


def _reusable(path: Path) -> dict | None:
    """The configuration written before, while the directory still knows its test app."""
    p = current()
    try:
        config = json.loads(path.read_text())
        software_id = config["directory"]["software_id"]
        with p.uow() as uow:
            if directory.software(uow, software_id).status != directory.ACTIVE:
                raise LookupError(software_id)
        return config
    except (OSError, ValueError, KeyError, TypeError, LookupError):
        return None                      # none yet, or the database was reset: a new one


def _new_test_app() -> dict:
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    key = jwk.JWK(**{**json.loads(key.export_private()), "kid": key.thumbprint()})
    public = {**json.loads(key.export_public()), "use": "sig", "alg": "ES256"}
    roles = ["AISP", "PISP", "CBPII"]
    p = current()
    with p.uow() as uow:
        now = p.clock.now()
        org = directory.create_organisation(
            uow, name="Conformance Suite TPP", competent_authority="GB:FCA",
            authorisation_id="CONFORMANCE", roles=roles, now=now)
        software = directory.create_software(
            uow, org_id=org.org_id, client_name="Conformance Suite", redirect_uris=[REDIRECT_URI],
            roles=roles, jwks={"keys": [public]}, now=now,
            client_description="The regulator page's runs of the conformance suite")
        software_id = software.software_id
        uow.commit()
    customer = next(u for u in DEMO_USERS if u.username == DEMO_CUSTOMER)
    return {"directory": {"software_id": software_id, "alg": "ES256",
                          "software_key": json.loads(key.export_private())},
            "redirect_uri": REDIRECT_URI, "allow_http": True,
            "psu": {"username": customer.username, "password": customer.password,
                    "totp_secret": customer.totp_secret}}
