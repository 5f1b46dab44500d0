"""UK.OBIE.Signature.Unexpected: "the API request was not expecting to receive an
x-jws-signature in the header". The profile signs request payloads; a GET or DELETE has
none, and the PIS resources call those "Signed Response" only. Such a request is a 400 with
that code, Path x-jws-signature, before anything is read; the bank still signs the error
and echoes the interaction id."""
from __future__ import annotations

import uuid

import pytest

from aspsp import ob_signing
from tests.integration.pis.conftest import CONSENTS, PAYMENTS, codes, domestic_consent_body

# Not database-specific: run once, on PostgreSQL (production's engine).
pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


def test_a_signature_on_a_get_is_unexpected(pisp, create_consent, client, platform):
    created = create_consent(pisp, domestic_consent_body())
    consent_id = created.get_json()["Data"]["ConsentId"]
    path = f"{CONSENTS}/{consent_id}"
    interaction = str(uuid.uuid4())
    signed = pisp.call("GET", path, token=pisp.token(scope="payments"), headers={
        "x-jws-signature": pisp.signature(b""), "x-fapi-interaction-id": interaction})
    assert signed.status_code == 400
    assert codes(signed) == ["UK.OBIE.Signature.Unexpected"]
    assert signed.get_json()["Errors"][0]["Path"] == "x-jws-signature"
    assert signed.headers["x-fapi-interaction-id"] == interaction
    iss, tan = ob_signing.bank_identity(platform.config)
    ob_signing.verify_detached(signed.headers["x-jws-signature"], signed.get_data(),
                               client.get("/jwks").get_json(),
                               ob_signing.Expected(iss=iss, tans=frozenset({tan})),
                               now=platform.clock.now())
    plain = pisp.call("GET", path, token=pisp.token(scope="payments"))
    assert plain.status_code == 200


def test_any_value_on_a_payment_read_is_unexpected_and_a_signed_post_still_works(pisp):
    token = pisp.token(scope="payments")
    read = pisp.call("GET", f"{PAYMENTS}/unknown", token=token,
                     headers={"x-jws-signature": "whatever"})
    assert read.status_code == 400
    assert codes(read) == ["UK.OBIE.Signature.Unexpected"]
    created = pisp.call("POST", CONSENTS, token=token, json=domestic_consent_body(),
                        headers={"x-idempotency-key": uuid.uuid4().hex})
    assert created.status_code == 201
