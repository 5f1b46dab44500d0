"""The discovery plan: the OpenID Provider metadata a FAPI 2.0 / UK Open Banking ASPSP must
publish, as the OpenID conformance suite's discovery end point verification asserts
(module fapi2-security-profile-final-discovery-end-point-verification; its conditions
CheckDiscEndpoint* and FAPIOBCheckDisc* are the names used here)."""
from __future__ import annotations

from urllib.parse import urlsplit

from ..engine import Check, Context, expect
from ..tpp import TPP

PLAN = "discovery"
GOOD_ALGS = {"PS256", "ES256"}
CHECKS: list[Check] = []


def check(id: str, title: str, clause: str, needs: tuple[str, ...] = ("CheckDiscEndpointFetch",)):
    def register(fn):
        CHECKS.append(Check(id, title, clause, PLAN, fn, needs))
        return fn
    return register


def meta(ctx: Context) -> dict:
    return TPP(ctx).discovery()


@check("CheckDiscEndpointFetch", "The discovery document is served as JSON",
       "OpenID Connect Discovery 1.0, 4 (obtaining the configuration); RFC 8414, 3", needs=())
def fetch(ctx: Context) -> None:
    ctx.state.pop("discovery", None)
    document = meta(ctx)
    expect(isinstance(document, dict), "the discovery document is not a JSON object")


@check("CheckDiscEndpointIssuer", "issuer is exactly the issuer identifier asked for",
       "OpenID Connect Discovery 1.0, 4.3; RFC 8414, 3.3")
def issuer(ctx: Context) -> None:
    expect(meta(ctx).get("issuer") == ctx.issuer.rstrip("/"),
           f"issuer is {meta(ctx).get('issuer')!r}, the document was fetched for "
           f"{ctx.issuer.rstrip('/')!r}")


@check("CheckDiscEndpointGrantTypesSupported",
       "grant_types_supported has authorization_code, client_credentials and refresh_token",
       "RFC 8414, 2; OBIE Security Profile (client credentials for consents)")
def grant_types(ctx: Context) -> None:
    missing = {"authorization_code", "client_credentials", "refresh_token"} - set(
        meta(ctx).get("grant_types_supported") or [])
    expect(not missing, f"grant_types_supported lacks {sorted(missing)}")
    expect("implicit" not in meta(ctx)["grant_types_supported"],
           "grant_types_supported offers implicit (FAPI 2.0 SP 5.3.2.2-2: only code)")


@check("CheckDiscEndpointResponseTypesSupported", "response_types_supported offers code",
       "FAPI 2.0 Security Profile 5.3.2.2-2 (response type code)")
def response_types(ctx: Context) -> None:
    types = meta(ctx).get("response_types_supported") or []
    expect("code" in types, f"response_types_supported is {types}")
    expect(not {"token", "id_token token", "code token"} & set(types),
           f"response_types_supported offers a token from the authorization endpoint: {types}")


@check("FAPIOBCheckDiscEndpointScopesSupported",
       "scopes_supported has openid and the Open Banking scope accounts",
       "OBIE Read/Write API Security Profile (scopes); OpenID Connect Discovery 1.0, 3")
def scopes(ctx: Context) -> None:
    missing = {"openid", "accounts"} - set(meta(ctx).get("scopes_supported") or [])
    expect(not missing, f"scopes_supported lacks {sorted(missing)}")


@check("FAPIOBCheckDiscEndpointClaimsSupported",
       "claims_supported has openbanking_intent_id and acr",
       "OBIE Security Profile (openbanking_intent_id, acr urn:openbanking:psd2:sca)")
def claims(ctx: Context) -> None:
    missing = {"openbanking_intent_id", "acr"} - set(meta(ctx).get("claims_supported") or [])
    expect(not missing, f"claims_supported lacks {sorted(missing)}")


@check("CheckDiscEndpointClaimsParameterSupported", "claims_parameter_supported is true",
       "OpenID Connect Core 1.0, 5.5; OBIE Security Profile (intent id in the claims parameter)")
def claims_parameter(ctx: Context) -> None:
    expect(meta(ctx).get("claims_parameter_supported") is True,
           f"claims_parameter_supported is {meta(ctx).get('claims_parameter_supported')!r}")


@check("FAPIOBCheckDiscEndpointAcrValuesSupported",
       "acr_values_supported has urn:openbanking:psd2:sca",
       "OBIE Security Profile (acr values for SCA)")
def acr_values(ctx: Context) -> None:
    values = meta(ctx).get("acr_values_supported") or []
    expect("urn:openbanking:psd2:sca" in values, f"acr_values_supported is {values}")


def _algs_check(field: str, required: bool = True):
    def run(ctx: Context) -> None:
        values = meta(ctx).get(field)
        if values is None and not required:
            return
        expect(isinstance(values, list) and values, f"{field} is missing or empty")
        bad = sorted(set(values) - GOOD_ALGS)
        expect(not bad, f"{field} offers {bad}: only PS256 and ES256 are allowed")
    return run


for _field, _id, _required in (
        ("token_endpoint_auth_signing_alg_values_supported",
         "FAPI2CheckDiscEndpointTokenEndpointAuthSigningAlgValuesSupported", True),
        ("id_token_signing_alg_values_supported",
         "FAPI2CheckDiscEndpointIdTokenSigningAlgValuesSupported", True),
        ("request_object_signing_alg_values_supported",
         "FAPI2CheckDiscEndpointRequestObjectSigningAlgValuesSupported", False),
        ("dpop_signing_alg_values_supported",
         "FAPI2CheckDiscEndpointDpopSigningAlgValuesSupported", True)):
    CHECKS.append(Check(_id, f"{_field} offers only PS256 and ES256",
                        "FAPI 2.0 Security Profile 5.4.1 (PS256, ES256 or EdDSA; never none, "
                        "RS256 or HS*); UK OB: PS256/ES256", PLAN,
                        _algs_check(_field, _required), ("CheckDiscEndpointFetch",)))


@check("CheckDiscEndpointCodeChallengeMethodsSupported",
       "code_challenge_methods_supported is S256 only",
       "FAPI 2.0 Security Profile 5.3.2.2-5 (PKCE with S256); RFC 7636, 4.2")
def pkce_methods(ctx: Context) -> None:
    methods = meta(ctx).get("code_challenge_methods_supported") or []
    expect("S256" in methods, f"code_challenge_methods_supported is {methods}")
    expect("plain" not in methods, "code_challenge_methods_supported offers plain")


@check("CheckDiscEndpointAuthorizationResponseIssParameterSupported",
       "authorization_response_iss_parameter_supported is true",
       "FAPI 2.0 Security Profile 5.3.2.2-7; RFC 9207, 3")
def iss_parameter(ctx: Context) -> None:
    expect(meta(ctx).get("authorization_response_iss_parameter_supported") is True,
           "authorization_response_iss_parameter_supported is not true")


@check("CheckDiscEndpointPushedAuthorizationRequestEndpoint",
       "pushed_authorization_request_endpoint is published",
       "FAPI 2.0 Security Profile 5.3.2.2-1 (PAR); RFC 9126, 5")
def par_endpoint(ctx: Context) -> None:
    expect(meta(ctx).get("pushed_authorization_request_endpoint"),
           "no pushed_authorization_request_endpoint")


@check("FAPI2CheckDiscEndpointTokenEndpointAuthMethodsSupported",
       "token_endpoint_auth_methods_supported offers only private_key_jwt and MTLS",
       "FAPI 2.0 Security Profile 5.3.2.1-2 (MTLS or private_key_jwt only)")
def auth_methods(ctx: Context) -> None:
    methods = set(meta(ctx).get("token_endpoint_auth_methods_supported") or [])
    expect(methods, "token_endpoint_auth_methods_supported is missing")
    bad = methods - {"private_key_jwt", "tls_client_auth", "self_signed_tls_client_auth"}
    expect(not bad, f"token_endpoint_auth_methods_supported offers {sorted(bad)}")


ENDPOINTS = ("authorization_endpoint", "token_endpoint", "pushed_authorization_request_endpoint",
             "registration_endpoint", "jwks_uri", "introspection_endpoint", "revocation_endpoint",
             "userinfo_endpoint")


@check("CheckDiscEndpointAllEndpointsAreHttps",
       "every endpoint is https (a sandbox on plain http: every endpoint on the issuer's origin)",
       "FAPI 2.0 Security Profile 5.2.1 (TLS); RFC 8414, 2")
def https(ctx: Context) -> None:
    issuer = urlsplit(meta(ctx)["issuer"])
    plain_allowed = bool(ctx.config.get("allow_http"))
    for name in ENDPOINTS:
        url = meta(ctx).get(name)
        if not url:
            continue
        parts = urlsplit(url)
        if parts.scheme == "https":
            continue
        expect(plain_allowed, f"{name} is not https: {url}")
        expect((parts.scheme, parts.netloc) == (issuer.scheme, issuer.netloc),
               f"{name} is plain http on another origin than the issuer: {url}")
    if plain_allowed and issuer.scheme != "https":
        ctx.note("allow_http is set: plain http accepted on the issuer's own origin (sandbox)")


@check("CheckServerJwksPublicOnly",
       "jwks_uri serves public PS256/ES256 signing keys only",
       "FAPI 2.0 Security Profile 5.4.1; RFC 7517, 5 (a JWKS of public keys)")
def server_jwks(ctx: Context) -> None:
    response = ctx.http.get(meta(ctx)["jwks_uri"])
    expect(response.status_code == 200, f"jwks_uri answered {response.status_code}")
    keys = response.json().get("keys") or []
    expect(keys, "the JWKS has no keys")
    for key in keys:
        private = {"d", "p", "q", "dp", "dq", "qi", "k"} & set(key)
        expect(not private, f"key {key.get('kid')} publishes private members {sorted(private)}")
        expect(key.get("alg") in (None, *GOOD_ALGS), f"key {key.get('kid')} is for {key.get('alg')}")
