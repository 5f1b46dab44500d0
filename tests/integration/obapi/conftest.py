"""An app with a test-only OB blueprint that uses the two shared conventions the way the payment
APIs do: POSTs behind the consent gate, `@signed_request`, `@idempotent`, creating a real
account-access consent (consent.services) in the same unit of work as the idempotency key, and
every response signed (`sign_responses`). TPPs sign with their registered keys."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import pytest
from flask import request
from jwcrypto import jwk
from sqlalchemy import func, select

from aspsp import idempotency, ob_signing, obapi, platform
from aspsp.ids import new_id
from aspsp.obapi import ErrorCode
from aspsp.oauth.keys import generate_jwk, public_jwk
from aspsp.oauth.models import OAuthClient
from bank import create_app
from consent import gate, services
from consent.models import Consent
from tests.conftest import TEST_ISSUER, UNLIMITED_RATES
from tests.oauth_factories import TestClient, dpop_proof, dpop_token, make_client

PREFIX = "/open-banking/v3.1/conventions-test"
CONSENTS = f"{PREFIX}/consents"             # resource type "test-consent"
OTHER = f"{PREFIX}/other-consents"          # resource type "test-other-consent"
READ = f"{PREFIX}/consents/<ConsentId>"
TAN = "localhost"                           # the host of TEST_ISSUER: the sandbox directory's


def conventions_blueprint() -> obapi.Blueprint:
    blp = obapi.Blueprint("Conventions test", __name__, url_prefix=PREFIX)
    ob_signing.sign_responses(blp)

    def create(resource_type: str):
        @gate.requires_client("accounts")
        @ob_signing.signed_request
        @idempotency.idempotent(resource_type)
        def view():
            body = request.get_json()
            if not isinstance(body.get("Data"), dict):
                raise obapi.bad_request(ErrorCode.FIELD_MISSING, "Data is required", "Data")
            p = platform.current()
            now = p.clock.now()
            with p.uow() as uow:
                key = idempotency.claim(uow)
                record = services.create_account_access_consent(
                    uow, gate.current_client().client, services.AccountAccessRequest(
                        permissions=body["Data"]["Permissions"], expiration=None,
                        transaction_from=None, transaction_to=None, raw=body), now)
                response = key.respond(201, {"Data": {"ConsentId": record.consent_id,
                                                      "Status": str(record.status)},
                                             "Risk": {}})
                uow.commit()
            return response
        view.__name__ = f"create_{resource_type.replace('-', '_')}"
        return view

    blp.add_url_rule("/consents", view_func=create("test-consent"), methods=["POST"])
    blp.add_url_rule("/other-consents", view_func=create("test-other-consent"),
                     methods=["POST"])

    # Views that break the protocol: each must fail loudly (500), never answer as if kept.
    @blp.route("/misuse/no-claim", methods=["POST"])
    @gate.requires_client("accounts")
    @idempotency.idempotent("test-misuse")
    def no_claim():
        return {"Data": {}}, 201

    @blp.route("/misuse/returns-another-response", methods=["POST"])
    @gate.requires_client("accounts")
    @idempotency.idempotent("test-misuse")
    def another_response():
        with platform.current().uow() as uow:
            idempotency.claim(uow).respond(201, {"Data": {}})
            uow.commit()
        return {"Data": {"Other": True}}, 201

    @blp.route("/misuse/commit-before-respond", methods=["POST"])
    @gate.requires_client("accounts")
    @idempotency.idempotent("test-misuse")
    def commit_first():
        with platform.current().uow() as uow:
            key = idempotency.claim(uow)
            uow.commit()
            return key.respond(201, {"Data": {}})

    @blp.route("/misuse/claim-without-decorator", methods=["POST"])
    @gate.requires_client("accounts")
    def undecorated():
        with platform.current().uow() as uow:
            idempotency.claim(uow)
        return {"Data": {}}, 201

    @blp.route("/consents/<ConsentId>", methods=["GET"])
    @gate.requires_client("accounts")
    def read(ConsentId):
        return {"Data": {"ConsentId": ConsentId}}
    return blp


def build_app(database_config: dict, clock, tmp_path):
    app = create_app({**database_config, "CLOCK": clock, "CELERY_ALWAYS_EAGER": True,
                      "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "test-secret",
                      "TESTING": True, "ISSUER": TEST_ISSUER, **UNLIMITED_RATES})
    obapi.register_blueprint(app, conventions_blueprint())
    return app


@pytest.fixture
def app(database, clock, tmp_path):
    return build_app({"DATABASE_URL": database.url, "DATABASE": database}, clock, tmp_path)


def body_bytes(permissions=("ReadAccountsBasic",), **extra) -> bytes:
    return json.dumps({"Data": {"Permissions": list(permissions)}, "Risk": {}, **extra}).encode()


@dataclass
class SigningTpp:
    """A registered client, its signing key and the HTTP calls it makes (DPoP-bound
    client-credentials tokens, signed bodies)."""
    http: object
    platform: object
    clock: object
    client: TestClient
    key: jwk.JWK
    kid: str
    alg: str

    @property
    def iss(self) -> str:
        return f"{self.client.row.org_id}/{self.client.row.software_id}"

    def token(self) -> str:
        with self.platform.uow() as uow:
            issued = dpop_token(uow, self.client, now=self.clock.now(), scope="accounts")
            uow.commit()
        return issued.access_token

    def sign(self, body: bytes, *, key=None, kid=None, alg=None, iss=None, tan=TAN,
             extra=None, now=None) -> str:
        return ob_signing.sign_detached(body, key or self.key, kid=kid or self.kid,
                                        alg=alg or self.alg, iss=self.iss if iss is None else iss,
                                        tan=tan, now=now or self.clock.now(), extra=extra)

    def post(self, path: str, body: bytes, *, signature=..., key: str | None = ...,
             token: str | None = None, headers: dict | None = None):
        headers = dict(headers or {})
        token = token or self.token()
        headers["Authorization"] = f"DPoP {token}"
        headers["DPoP"] = dpop_proof(self.client.dpop_key, "POST", "http://localhost" + path,
                                     access_token=token, iat=int(self.clock.now().timestamp()))
        if signature is ...:
            signature = self.sign(body)
        if signature is not None:
            headers[ob_signing.HEADER] = signature
        if key is ...:
            key = str(uuid.uuid4())
        if key is not None:
            headers[idempotency.HEADER] = key
        return self.http.post(path, data=body, content_type="application/json",
                              headers=headers)


def with_key(uow, test_client: TestClient, alg: str) -> tuple[jwk.JWK, str]:
    """Register one more signing key of `alg` in the client's inline JWKS."""
    generated = generate_jwk(alg)
    kid = f"{alg.lower()}-{uuid.uuid4().hex[:8]}"
    key = jwk.JWK(**dict(json.loads(generated.export_private()), kid=kid))
    row = uow.session.get(OAuthClient, test_client.row.id)
    metadata = dict(row.client_metadata)
    metadata["jwks"] = {"keys": [*metadata["jwks"]["keys"], public_jwk(key, kid, alg)]}
    row.client_metadata = metadata
    uow.session.flush()
    return key, kid


@pytest.fixture
def make_signing_tpp(app, platform, clock):
    def build(*, alg: str = "ES256", roles=("AISP",), software_statement: str | None = None,
              org_id: str | None = None, software_id: str | None = None,
              key: jwk.JWK | None = None, kid: str | None = None) -> SigningTpp:
        with platform.uow() as uow:
            test_client = make_client(uow, now=clock.now(), roles=roles)
            row = uow.session.get(OAuthClient, test_client.row.id)
            if software_statement is not None:
                row.software_statement = software_statement
            row.org_id = org_id or row.org_id
            row.software_id = software_id or row.software_id
            if key is not None:
                row.client_metadata = dict(row.client_metadata,
                                           jwks={"keys": [public_jwk(key, kid, alg)]})
            elif alg == "ES256":
                key = test_client.signing_key
                kid = key.get("kid")
            else:
                key, kid = with_key(uow, test_client, alg)
            uow.session.flush()
            uow.commit()
        return SigningTpp(app.test_client(), platform, clock, test_client, key, kid, alg)
    return build


@pytest.fixture
def tpp(make_signing_tpp) -> SigningTpp:
    return make_signing_tpp()


def consent_count(platform) -> int:
    with platform.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(Consent))


def errors(response) -> list[tuple[str, str | None]]:
    return [(e["ErrorCode"], e.get("Path")) for e in response.get_json()["Errors"]]


__all__ = ["CONSENTS", "OTHER", "SigningTpp", "body_bytes", "build_app", "consent_count",
           "errors", "new_id"]
