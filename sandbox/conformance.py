"""The conformance suite's configuration for this sandbox (`flask conformance run` without
--config, aspsp/conformance_cli.py): a test app of the sandbox directory (an organisation and
a software statement with the AISP, PISP and CBPII roles, its private key kept, mode 0600, in
conformance-tpp.json under the instance path and reused while the directory still knows it)
and the demo customer alice, who approves with her password and TOTP secret. Each call also
writes, afresh, the SSAs the dcr plan's refusals need (`dcr`: an expired SSA of the test app
and one of software the directory does not know, directory.issue_refused_ssas): they exist
only in this file, never behind an endpoint."""
from __future__ import annotations

import ipaddress
import json
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask
from jwcrypto import jwk

from aspsp.platform import current

from . import certificates, directory
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
    config.pop("mtls", None)
    config.pop("mtls_unavailable", None)
    mtls, why_not = transport(app, config["directory"]["software_id"])
    if mtls:
        config["mtls"] = mtls
    else:
        config["mtls_unavailable"] = why_not
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


def transport(app: Flask, software_id: str) -> tuple[dict | None, str | None]:
    """How the suite presents the test app's MTLS client certificate (the fapi1 plan), or why
    it cannot: (the configuration's `mtls`, None) or (None, the reason).

    The certificate is issued afresh by the sandbox transport CA (sandbox/certificates.py:
    C=GB, O, OU=<org_id>, CN=<software_id>). How it reaches the platform follows what the
    platform is configured to believe, never more (aspsp/proxy.py, aspsp/oauth/mtls.py):
    - ISSUER https: in the TLS handshake, to the deployment's TLS proxy (nginx,
      deploy/nginx/aspsp.conf), which must verify client certificates against the sandbox
      transport CA (/developers/sandbox/transport-ca.pem) and forward them as it does anyone's;
    - ISSUER http on a loopback address that TRUSTED_PROXIES names (a local sandbox started
      with `TRUSTED_PROXIES=127.0.0.1 make run`): in CLIENT_CERT_HEADER, the suite standing in
      for the proxy as any local process already may there;
    - otherwise not at all: plain http from an address the platform does not trust as its
      proxy has no way to carry a certificate, and the fapi1 checks are skipped with the
      reason. Nothing here changes what the platform trusts."""
    p = current()
    config = p.config                    # the settings aspsp/proxy.py reads per request
    issuer = urlsplit(str(app.config["ISSUER"]))     # where `flask conformance run` points
    header = config.get("CLIENT_CERT_HEADER") or "X-SSL-Client-Cert"
    loopback = _loopback_addresses(issuer.hostname)
    if issuer.scheme == "https":
        mtls = {}
    elif issuer.scheme == "http" and loopback and loopback <= _trusted(config):
        mtls = {"header": header}
    else:
        return None, (f"the platform serves plain http at {issuer.hostname} and trusts no "
                      f"proxy there (TRUSTED_PROXIES): nothing can carry a client "
                      f"certificate to it. A local sandbox: start it with TRUSTED_PROXIES="
                      f"127.0.0.1 (make run) and ISSUER on 127.0.0.1; a deployment: behind "
                      f"its TLS proxy, ISSUER https")
    with p.uow() as uow:
        sw = directory.software(uow, software_id)
        key_pem, cert_pem = certificates.issue_for_software(
            uow, org_name=sw.organisation.name, org_id=sw.organisation.org_id,
            software_id=software_id, keyring=p.keyring, now=p.clock.now())
        uow.commit()                     # the sandbox CA, if it was made now
    return {**mtls, "certificate": cert_pem, "key": key_pem}, None


def _trusted(config) -> set[str]:
    return {a.strip() for a in str(config.get("TRUSTED_PROXIES") or "").split(",") if a.strip()}


def _loopback_addresses(host: str | None) -> set[str]:
    """The addresses `host` resolves to when every one is loopback (the suite, on this
    machine, connects from the same one), else the empty set."""
    try:
        found = {info[4][0] for info in socket.getaddrinfo(host, None)} if host else set()
    except (OSError, UnicodeError):
        return set()
    try:
        if found and all(ipaddress.ip_address(a).is_loopback for a in found):
            return found
    except ValueError:
        pass
    return set()


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
