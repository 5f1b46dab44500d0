"""x-jws-signature on requests (verified against the TPP's registered keys before the view runs)
and on responses (signed with the bank's key from /jwks), through a test blueprint that creates
real consents. Every refusal is a 400 OB error with the code the OBIE profile and the functional
conformance suite expect (OB-301-DOP-100110 missing claim, OB-316-DOP-100310 missing
signature), and creates nothing."""
from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

from aspsp import ob_signing
from aspsp.ob_signing import CRIT, OB_IAT, OB_ISS, OB_TAN
from aspsp.oauth.keys import generate_jwk
from tests import tpp_factories
from tests.integration.obapi.conftest import (CONSENTS, TAN, body_bytes, consent_count,
                                              errors)
from tests.oauth_factories import dpop_proof

MISSING = "UK.OBIE.Signature.Missing"
MALFORMED = "UK.OBIE.Signature.Malformed"
MISSING_CLAIM = "UK.OBIE.Signature.MissingClaim"
INVALID_CLAIM = "UK.OBIE.Signature.InvalidClaim"
INVALID = "UK.OBIE.Signature.Invalid"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def detached(header: dict, body: bytes, key: jwk.JWK) -> str:
    """A detached JWS with exactly `header` (any parameters, for the refusals), really signed."""
    registry = {name: jws.JWSEHeaderParameter(name, False, True, None)
                for name in [*CRIT, *header] if name not in jws.JWSHeaderRegistry}
    token = jws.JWS(body, header_registry=registry)
    token.add_signature(key, alg=header.get("alg", "ES256"), protected=json_encode(header))
    protected, _, signature = token.serialize(compact=True).split(".")
    return f"{protected}..{signature}"


def unsigned(header: dict) -> str:
    """`header..signature` with a signature that verifies nothing: for the header checks that
    come before the signature (and for headers no JWS library will sign)."""
    return f"{b64(json.dumps(header).encode())}..{b64(b'not-a-signature')}"


def good_header(tpp, **changes) -> dict:
    header = {"alg": tpp.alg, "kid": tpp.kid, OB_IAT: int(tpp.clock.now().timestamp()),
              OB_ISS: tpp.iss, OB_TAN: TAN, "crit": list(CRIT)}
    header.update(changes)
    return {k: v for k, v in header.items() if v is not None}


def refused(response, code: str, path: str | None = None):
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/json"
    found = errors(response)
    assert [c for c, _ in found] == [code], found
    if path is not None:
        assert found[0][1] == path
    return found


# --- accepted ------------------------------------------------------------------------------
@pytest.mark.parametrize("alg", ["PS256", "ES256"])
def test_a_good_signature_is_accepted_and_the_consent_made(make_signing_tpp, platform, alg):
    tpp = make_signing_tpp(alg=alg)
    body = body_bytes()
    response = tpp.post(CONSENTS, body)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["Data"]["Status"] == "AwaitingAuthorisation"
    assert consent_count(platform) == 1


def test_typ_and_cty_are_accepted_when_they_have_the_profiles_values(tpp):
    body = body_bytes()
    signature = tpp.sign(body, extra={"typ": "JOSE", "cty": "application/json"})
    assert tpp.post(CONSENTS, body, signature=signature).status_code == 201


def test_an_old_iat_is_accepted_the_profile_only_asks_for_the_past(tpp):
    body = body_bytes()
    signature = tpp.sign(body, now=tpp.clock.now() - timedelta(days=2))
    assert tpp.post(CONSENTS, body, signature=signature).status_code == 201


def test_a_client_registered_with_a_directory_ssa_signs_with_its_software_key(
        app, platform, clock, make_signing_tpp):
    with platform.uow() as uow:
        software = tpp_factories.tpp(uow, now=clock.now(), roles=("AISP",), alg="PS256")
        ssa = tpp_factories.issue_ssa(uow, app, software.software_id, now=clock.now())
        uow.commit()
    tpp = make_signing_tpp(alg="PS256", software_statement=ssa, org_id=software.org_id,
                           software_id=software.software_id, key=software.key,
                           kid=software.kid)
    body = body_bytes()
    assert tpp.iss == f"{software.org_id}/{software.software_id}"
    assert tpp.post(CONSENTS, body).status_code == 201
    refused(tpp.post(CONSENTS, body, signature=tpp.sign(body, tan="openbanking.org.uk")),
            INVALID_CLAIM, OB_TAN)


def test_a_client_whose_ssa_no_trusted_directory_signed_has_no_acceptable_tan(
        make_signing_tpp, platform):
    stranger = generate_jwk("PS256")
    ssa = tpp_factories.sign({"software_id": "abc", "org_id": "def"}, stranger, alg="PS256",
                             kid=stranger.thumbprint())
    tpp = make_signing_tpp(software_statement=ssa)
    refused(tpp.post(CONSENTS, body_bytes()), INVALID_CLAIM, OB_TAN)
    assert consent_count(platform) == 0


# --- the header is missing or not a JWS ----------------------------------------------------
def test_no_signature_is_signature_missing(tpp, platform):
    refused(tpp.post(CONSENTS, body_bytes(), signature=None), MISSING, "x-jws-signature")
    assert consent_count(platform) == 0


@pytest.mark.parametrize("value", [   # every other shape: tests/unit/obapi
    "", "a.b", b64(b"not json") + "..c2ln", '{"protected": "e30", "signature": "c2ln"}',
])
def test_a_value_that_is_not_a_compact_detached_jws_is_malformed(tpp, platform, value):
    refused(tpp.post(CONSENTS, body_bytes(), signature=value), MALFORMED, "x-jws-signature")
    assert consent_count(platform) == 0


def test_an_attached_payload_is_malformed(tpp):
    body = body_bytes()
    protected, _, signature = tpp.sign(body).split(".")
    refused(tpp.post(CONSENTS, body, signature=f"{protected}.{b64(body)}.{signature}"),
            MALFORMED)


# --- claims --------------------------------------------------------------------------------
@pytest.mark.parametrize("claim", ["alg", "kid", OB_IAT, OB_ISS, OB_TAN, "crit"])
def test_each_missing_claim_is_named(tpp, platform, claim):
    """As OB-301-DOP-100110 removes a claim (crit still names it)."""
    body = body_bytes()
    header = {k: v for k, v in good_header(tpp).items() if k != claim}
    refused(tpp.post(CONSENTS, body, signature=unsigned(header)), MISSING_CLAIM, claim)
    assert consent_count(platform) == 0


@pytest.mark.parametrize("crit", [
    [OB_IAT, OB_ISS], [OB_IAT, OB_ISS, OB_TAN, "b64"], [OB_IAT, OB_ISS, OB_ISS],
])
def test_crit_must_name_exactly_the_three_claims(tpp, crit):
    body = body_bytes()
    refused(tpp.post(CONSENTS, body, signature=unsigned(good_header(tpp, crit=crit))),
            INVALID_CLAIM, "crit")


@pytest.mark.parametrize("alg", ["none", "HS256", "RS256"])
def test_an_algorithm_other_than_ps256_or_es256_is_refused(tpp, alg):
    body = body_bytes()
    refused(tpp.post(CONSENTS, body, signature=unsigned(good_header(tpp, alg=alg))),
            INVALID_CLAIM, "alg")


def test_an_alg_other_than_the_registered_keys_is_refused(make_signing_tpp):
    tpp = make_signing_tpp(alg="ES256")        # its registered key says alg ES256
    body = body_bytes()
    rsa = generate_jwk("PS256")
    signature = tpp.sign(body, key=rsa, alg="PS256")
    refused(tpp.post(CONSENTS, body, signature=signature), INVALID_CLAIM, "alg")


def test_an_unknown_kid_is_an_invalid_claim(tpp, platform):
    body = body_bytes()
    refused(tpp.post(CONSENTS, body, signature=tpp.sign(body, kid="no-such-key")),
            INVALID_CLAIM, "kid")
    assert consent_count(platform) == 0


def test_another_clients_kid_is_an_unknown_kid(tpp, make_signing_tpp):
    other = make_signing_tpp()
    body = body_bytes()
    refused(tpp.post(CONSENTS, body, signature=other.sign(body, iss=tpp.iss)),
            INVALID_CLAIM, "kid")


def test_a_signature_by_another_key_under_the_registered_kid_is_invalid(tpp, platform):
    body = body_bytes()
    impostor = jwk.JWK.generate(kty="EC", crv="P-256")
    refused(tpp.post(CONSENTS, body, signature=tpp.sign(body, key=impostor)), INVALID)
    assert consent_count(platform) == 0


@pytest.mark.parametrize("iss", ["someone/else", "ORG", None])
def test_an_iss_that_is_not_the_callers_org_and_software_is_an_invalid_claim(tpp, iss):
    body = body_bytes()
    iss = f"{tpp.client.row.org_id}" if iss == "ORG" else iss
    signature = detached(good_header(tpp) | {OB_ISS: iss}, body, tpp.key)
    refused(tpp.post(CONSENTS, body, signature=signature), INVALID_CLAIM, OB_ISS)


def test_another_tpps_iss_is_refused(tpp, make_signing_tpp):
    other = make_signing_tpp()
    body = body_bytes()
    refused(tpp.post(CONSENTS, body, signature=tpp.sign(body, iss=other.iss)),
            INVALID_CLAIM, OB_ISS)


@pytest.mark.parametrize("tan", ["openbanking.org.uk", "LOCALHOST.", 7])
def test_a_tan_that_is_not_the_directorys_is_an_invalid_claim(tpp, tan):
    body = body_bytes()
    signature = detached(good_header(tpp) | {OB_TAN: tan}, body, tpp.key)
    refused(tpp.post(CONSENTS, body, signature=signature), INVALID_CLAIM, OB_TAN)


@pytest.mark.parametrize("iat", ["1700000000", True])
def test_an_iat_that_is_not_a_number_is_an_invalid_claim(tpp, iat):
    body = body_bytes()
    refused(tpp.post(CONSENTS, body, signature=unsigned(good_header(tpp) | {OB_IAT: iat})),
            INVALID_CLAIM, OB_IAT)


def test_an_iat_in_the_future_is_an_invalid_claim(tpp):
    body = body_bytes()
    signature = tpp.sign(body, now=tpp.clock.now() + timedelta(minutes=5))
    refused(tpp.post(CONSENTS, body, signature=signature), INVALID_CLAIM, OB_IAT)


@pytest.mark.parametrize("extra", [{"b64": False}, {"jku": "https://x"},
                                   {"http://openbanking.org.uk/x": 1}])
def test_a_header_parameter_outside_the_profile_is_an_invalid_claim(tpp, extra):
    body = body_bytes()
    refused(tpp.post(CONSENTS, body, signature=unsigned(good_header(tpp) | extra)),
            INVALID_CLAIM, next(iter(extra)))


@pytest.mark.parametrize("typ, cty", [("JWT", None), (None, "text/plain")])
def test_typ_and_cty_with_other_values_are_invalid_claims(tpp, typ, cty):
    body = body_bytes()
    header = good_header(tpp, typ=typ, cty=cty)
    refused(tpp.post(CONSENTS, body, signature=detached(header, body, tpp.key)),
            INVALID_CLAIM, "typ" if typ else "cty")


# --- the body ------------------------------------------------------------------------------
def test_a_body_changed_by_one_byte_does_not_verify(tpp, platform):
    body = body_bytes()
    signature = tpp.sign(body)
    changed = body.replace(b"ReadAccountsBasic", b"ReadAccountsBasiC")
    assert len(changed) == len(body) and changed != body
    refused(tpp.post(CONSENTS, changed, signature=signature), INVALID, "x-jws-signature")
    assert consent_count(platform) == 0


def test_the_raw_bytes_are_signed_not_the_parsed_json(tpp):
    body = body_bytes()
    respaced = json.dumps(json.loads(body), indent=2).encode()
    refused(tpp.post(CONSENTS, respaced, signature=tpp.sign(body)), INVALID)
    assert tpp.post(CONSENTS, respaced, signature=tpp.sign(respaced)).status_code == 201


def test_a_b64_false_signature_of_older_versions_is_refused(tpp):
    """v3.1.3 and before signed the unencoded body (b64 false); v3.1.11 does not."""
    body = body_bytes()
    header = good_header(tpp) | {"b64": False, "crit": [*CRIT, "b64"]}
    token = jws.JWS(body, header_registry={
        n: jws.JWSEHeaderParameter(n, False, True, None) for n in CRIT})
    token.add_signature(tpp.key, alg=tpp.alg, protected=json_encode(header))
    protected, _, signature = token.serialize(compact=True).split(".")
    refused(tpp.post(CONSENTS, body, signature=f"{protected}..{signature}"), INVALID_CLAIM)


# --- order with the gate -------------------------------------------------------------------
def test_an_unauthenticated_call_is_401_before_the_signature_is_looked_at(tpp):
    response = tpp.http.post(CONSENTS, data=body_bytes(), content_type="application/json")
    assert response.status_code == 401


# --- responses -----------------------------------------------------------------------------
def bank_keys(http) -> dict:
    return http.get("/jwks").get_json()


def verify_response(http, response) -> dict:
    value = response.headers[ob_signing.HEADER]
    protected, payload, signature = value.split(".")
    assert payload == ""
    header = json.loads(base64.urlsafe_b64decode(protected + "=" * (-len(protected) % 4)))
    key = jwk.JWK(**next(k for k in bank_keys(http)["keys"] if k["kid"] == header["kid"]))
    token = jws.JWS(header_registry={n: jws.JWSEHeaderParameter(n, False, True, None)
                                     for n in CRIT})
    token.deserialize(value)
    token.verify(key, alg=header["alg"], detached_payload=response.get_data())
    return header


def test_a_created_resource_is_signed_with_the_key_published_at_jwks(tpp, clock):
    response = tpp.post(CONSENTS, body_bytes())
    assert response.status_code == 201
    header = verify_response(tpp.http, response)
    assert header["alg"] == "PS256"
    assert sorted(header["crit"]) == sorted(CRIT)
    assert header[OB_IAT] == int(clock.now().timestamp())
    assert header[OB_ISS] == "localhost" and header[OB_TAN] == "localhost"
    assert set(header) == {"alg", "kid", "crit", OB_IAT, OB_ISS, OB_TAN}


def test_error_responses_with_a_body_are_signed_too(tpp):
    response = tpp.post(CONSENTS, body_bytes(), signature=None)
    assert response.status_code == 400
    verify_response(tpp.http, response)


def test_a_get_is_signed(tpp):
    token = tpp.token()
    path = f"{CONSENTS}/abc"
    response = tpp.http.get(path, headers={
        "Authorization": f"DPoP {token}",
        "DPoP": dpop_proof(tpp.client.dpop_key, "GET", "http://localhost" + path,
                           access_token=token, iat=int(tpp.clock.now().timestamp()))})
    assert response.status_code == 200
    verify_response(tpp.http, response)


def test_a_401_without_a_body_carries_no_signature(tpp):
    response = tpp.http.post(CONSENTS, data=body_bytes(), content_type="application/json")
    assert response.status_code == 401 and ob_signing.HEADER not in response.headers


def test_the_response_signature_names_the_configured_organisation(app, tpp):
    app.config["ASPSP_ORG_ID"] = "0015800001041RHAAY"
    app.extensions["aspsp"].config["ASPSP_ORG_ID"] = "0015800001041RHAAY"
    header = verify_response(tpp.http, tpp.post(CONSENTS, body_bytes()))
    assert header[OB_ISS] == "0015800001041RHAAY" and header[OB_TAN] == "localhost"


def test_a_changed_response_body_fails_verification_with_jwks(tpp):
    response = tpp.post(CONSENTS, body_bytes())
    response.set_data(response.get_data().replace(b"Awaiting", b"Xwaiting"))
    with pytest.raises(jws.InvalidJWSSignature):
        verify_response(tpp.http, response)
