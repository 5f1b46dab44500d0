"""The pure part of OBIE message signing: parsing the detached JWS, the header rules, signing and
verifying over raw bytes, and which `tan` values name a trust anchor."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from jwcrypto import jwk

from aspsp import ob_signing
from aspsp.ob_signing import (CRIT, OB_IAT, OB_ISS, OB_TAN, Expected, SignatureError,
                              domains_of_host, sign_detached, verify_detached)

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)
EXPECTED = Expected(iss="org1/soft1", tans=frozenset({"openbanking.org.uk"}))
BODY = b'{"Data":{"Initiation":{"InstructedAmount":{"Amount":"10.00","Currency":"GBP"}}}}'


@pytest.fixture(scope="module")
def keys():
    rsa = jwk.JWK.generate(kty="RSA", size=2048, kid="rsa-1")
    ec = jwk.JWK.generate(kty="EC", crv="P-256", kid="ec-1")
    public = {"keys": [dict(json.loads(rsa.export_public()), use="sig", alg="PS256"),
                       dict(json.loads(ec.export_public()), use="sig")]}
    return {"PS256": rsa, "ES256": ec, "jwks": public}


def sign(keys, alg="PS256", body=BODY, **kw):
    kw.setdefault("iss", EXPECTED.iss)
    kw.setdefault("tan", "openbanking.org.uk")
    kw.setdefault("now", NOW)
    kid = kw.pop("kid", "rsa-1" if alg == "PS256" else "ec-1")
    return sign_detached(body, keys[alg], kid=kid, alg=alg, **kw)


@pytest.mark.parametrize("alg", ["PS256", "ES256"])
def test_sign_then_verify_over_the_raw_bytes(keys, alg):
    value = sign(keys, alg)
    protected, payload, _ = value.split(".")
    assert payload == ""
    header = verify_detached(value, BODY, keys["jwks"], EXPECTED, now=NOW)
    assert header["alg"] == alg and header[OB_ISS] == "org1/soft1"
    assert header["crit"] == list(CRIT) and "b64" not in header


def test_one_changed_byte_is_signature_invalid(keys):
    value = sign(keys)
    with pytest.raises(SignatureError) as caught:
        verify_detached(value, BODY.replace(b"10.00", b"10.01"), keys["jwks"], EXPECTED,
                        now=NOW)
    assert caught.value.code == "UK.OBIE.Signature.Invalid"


def test_the_error_carries_its_code_and_path_to_the_ob_body(keys):
    with pytest.raises(SignatureError) as caught:
        verify_detached(sign(keys, iss="org1/other"), BODY, keys["jwks"], EXPECTED, now=NOW)
    error = caught.value.to_ob_error()
    assert error.status == 400
    assert [(e.code, e.path) for e in error.errors] == [("UK.OBIE.Signature.InvalidClaim",
                                                         OB_ISS)]


def test_a_key_registered_for_another_alg_is_an_invalid_alg_claim(keys):
    with pytest.raises(SignatureError) as caught:   # rsa-1 is registered with alg PS256
        verify_detached(sign(keys, "ES256", kid="rsa-1"), BODY, keys["jwks"], EXPECTED,
                        now=NOW)
    assert (caught.value.code, caught.value.path) == ("UK.OBIE.Signature.InvalidClaim", "alg")


def test_a_ps256_signature_under_an_ec_kid_is_refused_as_the_wrong_key_type(keys):
    with pytest.raises(SignatureError) as caught:   # ec-1 names no alg: its kty decides
        verify_detached(sign(keys, "PS256", kid="ec-1"), BODY, keys["jwks"], EXPECTED,
                        now=NOW)
    assert (caught.value.code, caught.value.path) == ("UK.OBIE.Signature.InvalidClaim", "kid")


def test_a_weak_rsa_key_is_refused(keys):
    weak = jwk.JWK.generate(kty="RSA", size=1024, kid="weak")
    jwks = {"keys": [dict(json.loads(weak.export_public()), use="sig")]}
    value = sign_detached(BODY, weak, kid="weak", alg="PS256", iss=EXPECTED.iss,
                          tan="openbanking.org.uk", now=NOW)
    with pytest.raises(SignatureError) as caught:
        verify_detached(value, BODY, jwks, EXPECTED, now=NOW)
    assert caught.value.path == "kid"


def test_an_encryption_key_is_not_a_signing_key(keys):
    jwks = {"keys": [dict(k, use="enc") for k in keys["jwks"]["keys"]]}
    with pytest.raises(SignatureError) as caught:
        verify_detached(sign(keys), BODY, jwks, EXPECTED, now=NOW)
    assert caught.value.path == "kid"


def test_iat_at_the_skew_limit_passes_beyond_it_fails():
    header = {"alg": "PS256", "kid": "k", "crit": list(CRIT), OB_ISS: EXPECTED.iss,
              OB_TAN: "openbanking.org.uk"}
    ob_signing.check_header(header | {OB_IAT: NOW.timestamp() + 10}, EXPECTED, now=NOW)
    with pytest.raises(SignatureError):
        ob_signing.check_header(header | {OB_IAT: NOW.timestamp() + 11}, EXPECTED, now=NOW)


def test_missing_claims_are_reported_in_the_profiles_order():
    with pytest.raises(SignatureError) as caught:
        ob_signing.check_header({"kid": "k"}, EXPECTED, now=NOW)
    assert (caught.value.code, caught.value.path) == ("UK.OBIE.Signature.MissingClaim", "alg")


@pytest.mark.parametrize("value, code", [
    (None, "UK.OBIE.Signature.Missing"),
    ("not a jws", "UK.OBIE.Signature.Malformed"),
    ("a..b..c", "UK.OBIE.Signature.Malformed"),
    ("..c2ln", "UK.OBIE.Signature.Malformed"),
    ("e30..", "UK.OBIE.Signature.Malformed"),
    ("!!!..c2ln", "UK.OBIE.Signature.Malformed"),
    ("x" * 9000, "UK.OBIE.Signature.Malformed"),
    ('{"protected": "e30", "signature": "c2ln"}', "UK.OBIE.Signature.Malformed"),
    ("", "UK.OBIE.Signature.Malformed"),
    ("eyJhbGciOiJQUzI1NiJ9.e30.c2ln", "UK.OBIE.Signature.Malformed"),
    ("eyJhbGciOiJQUzI1NiJ9..", "UK.OBIE.Signature.Malformed"),
    ("bm90IGpzb24..c2ln", "UK.OBIE.Signature.Malformed"),
    ("W10..c2ln", "UK.OBIE.Signature.Malformed"),              # [] is not an object
    ("W" * 40 + "..c2ln", "UK.OBIE.Signature.Malformed"),       # not base64 of JSON
])
def test_parse_detached_refusals(value, code):
    with pytest.raises(SignatureError) as caught:
        ob_signing.parse_detached(value)
    assert caught.value.code == code


def test_deeply_nested_header_json_is_malformed_not_a_crash():
    import base64
    nested = ("[" * 5000 + "]" * 5000).encode()
    value = base64.urlsafe_b64encode(nested).rstrip(b"=").decode() + "..c2ln"
    with pytest.raises(SignatureError) as caught:
        ob_signing.parse_detached(value)
    assert caught.value.code == "UK.OBIE.Signature.Malformed"


@pytest.mark.parametrize("host, domains", [
    ("keystore.openbanking.org.uk", {"keystore.openbanking.org.uk", "openbanking.org.uk"}),
    ("keys.directory.example.com", {"keys.directory.example.com", "directory.example.com",
                                    "example.com"}),
    ("localhost", {"localhost"}),
    ("Bank.Example.", {"bank.example"}),
    ("", set()),
])
def test_the_domains_that_name_a_directorys_host(host, domains):
    assert domains_of_host(host) == domains


def test_the_bank_identity_defaults_to_its_host():
    assert ob_signing.bank_identity({"ISSUER": "https://api.bank.example:8443"}) == \
        ("api.bank.example", "api.bank.example")
    assert ob_signing.bank_identity({"ISSUER": "https://api.bank.example",
                                     "ASPSP_ORG_ID": "0015800001041RHAAY"}) == \
        ("0015800001041RHAAY", "api.bank.example")


GOOD = {"alg": "PS256", "kid": "k", "crit": list(CRIT), OB_IAT: NOW.timestamp(),
        OB_ISS: EXPECTED.iss, OB_TAN: "openbanking.org.uk"}


@pytest.mark.parametrize("changes, path", [
    ({"alg": "none"}, "alg"), ({"alg": "HS256"}, "alg"), ({"alg": "RS256"}, "alg"),
    ({"alg": "PS512"}, "alg"), ({"alg": "ES384"}, "alg"), ({"alg": None}, "alg"),
    ({"kid": ""}, "kid"), ({"kid": 5}, "kid"),
    ({"crit": "http://openbanking.org.uk/iat"}, "crit"), ({"crit": []}, "crit"),
    ({"crit": [OB_IAT, OB_ISS, "http://openbanking.org.uk/tax"]}, "crit"),
    ({"crit": [OB_IAT, OB_ISS, OB_TAN, OB_TAN]}, "crit"),
    ({"b64": True}, "b64"), ({"x5u": "https://x"}, "x5u"), ({"jwk": {}}, "jwk"),
    ({"typ": "JWT"}, "typ"), ({"cty": "text/plain"}, "cty"),
    ({OB_IAT: None}, OB_IAT), ({OB_IAT: 1e400}, OB_IAT), ({OB_IAT: float("nan")}, OB_IAT),
    ({OB_ISS: ""}, OB_ISS), ({OB_ISS: 42}, OB_ISS), ({OB_ISS: "org1"}, OB_ISS),
    ({OB_TAN: ""}, OB_TAN), ({OB_TAN: "evil.example"}, OB_TAN), ({OB_TAN: ["x"]}, OB_TAN),
])
def test_each_wrong_header_value_is_an_invalid_claim_naming_it(changes, path):
    with pytest.raises(SignatureError) as caught:
        ob_signing.check_header(GOOD | changes, EXPECTED, now=NOW)
    assert (caught.value.code, caught.value.path) == ("UK.OBIE.Signature.InvalidClaim", path)


@pytest.mark.parametrize("extra", [{}, {"typ": "JOSE"}, {"cty": "json"},
                                   {"cty": "application/json"}, {OB_IAT: 1}])
def test_a_header_within_the_profile_passes(extra):
    ob_signing.check_header(GOOD | extra, EXPECTED, now=NOW)


class _Anchor:
    def __init__(self, **attributes):
        self.__dict__.update(attributes)


@pytest.mark.parametrize("anchor, domains", [
    (_Anchor(name="sandbox"), {"bank.example"}),        # served in-process: the bank's host
    (_Anchor(name="u", url="https://keystore.openbanking.org.uk/keystore/openbanking.jwks"),
     {"keystore.openbanking.org.uk", "openbanking.org.uk"}),
    (_Anchor(name="t", tan="Directory.Example", url="https://x.example/jwks"),
     {"directory.example"}),
])
def test_the_tan_values_of_a_trust_anchor(anchor, domains):
    assert ob_signing.anchor_domains(anchor, {"ISSUER": "https://bank.example"}) == domains


def test_a_signature_made_by_jwcryptos_jws_api_verifies_and_ours_verifies_there(keys):
    """Interoperability both ways with the general JWS API (RFC 7515 appendix F)."""
    from jwcrypto import jws
    from jwcrypto.common import JWSEHeaderParameter, json_encode
    registry = {name: JWSEHeaderParameter(name, False, True, None) for name in CRIT}
    header = {"alg": "PS256", "kid": "rsa-1", OB_IAT: int(NOW.timestamp()),
              OB_ISS: EXPECTED.iss, OB_TAN: "openbanking.org.uk", "crit": list(CRIT)}
    theirs = jws.JWS(BODY, header_registry=registry)
    theirs.add_signature(keys["PS256"], protected=json_encode(header))
    protected, _, signature = theirs.serialize(compact=True).split(".")
    verify_detached(f"{protected}..{signature}", BODY, keys["jwks"], EXPECTED, now=NOW)

    ours = sign(keys)
    check = jws.JWS(header_registry=registry)
    check.deserialize(ours)
    check.verify(jwk.JWK(**keys["jwks"]["keys"][0]), detached_payload=BODY)
