"""The fapi2 plan: a first set of the OpenID conformance suite's FAPI 2.0 Security Profile
(Final) test modules, UK Open Banking variant, private_key_jwt client authentication and DPoP
sender constraint, over the real flow: consent, PAR, the customer's approval, code exchange and
an account-information call. Each check is named after the module it mirrors
(fapi2-security-profile-final-...) and cites the clause it tests.

The modules need the customer's approval several times (one authorisation each for the happy
flow, the missing and the wrong PKCE verifier, and the code bound to its client): the suite logs the configured
customer in on the bank's own pages, so the bank's login rate limits apply (a 429 is waited out
once, Retry-After at most 65 s)."""
from __future__ import annotations

import json
import time
import uuid
from urllib.parse import parse_qs, urlsplit

from jwcrypto import jwk, jwt

from ..engine import Check, Context, expect
from ..tpp import ASSERTION_TYPE, TPP, dpop_proof, new_verifier, sign, unverified_header

PLAN = "fapi2"
PREFIX = "fapi2-security-profile-final-"
SP = "FAPI 2.0 Security Profile (Final)"
ACCOUNTS = "/open-banking/v3.1/aisp/accounts"
CHECKS: list[Check] = []
HAPPY = PREFIX + "happy-flow"


def check(name: str, title: str, clause: str, needs: tuple[str, ...] = ()):
    def register(fn):
        CHECKS.append(Check(PREFIX + name, title, clause, PLAN, fn,
                            tuple(n if n.startswith(PREFIX) else PREFIX + n for n in needs)))
        return fn
    return register


def oauth_error(response, status: int, *errors: str) -> None:
    expect(response.status_code == status,
           f"expected {status} {'/'.join(errors)}, the ASPSP answered {response.status_code}")
    try:
        error = response.json().get("error")
    except ValueError:
        error = None
    expect(error in errors, f"error is {error!r}, expected {' or '.join(errors)}")


def verify_id_token(ctx: Context, id_token: str, *, client_id: str) -> dict:
    tpp = TPP(ctx)
    keys = ctx.http.get(tpp.discovery()["jwks_uri"])
    expect(keys.status_code == 200, f"jwks_uri answered {keys.status_code}")
    keyset = jwk.JWKSet.from_json(keys.text)
    try:
        token = jwt.JWT(jwt=id_token, key=keyset, algs=["PS256", "ES256"], check_claims=False)
    except Exception as exc:  # jwcrypto's signature, algorithm and format errors
        expect(False, f"the id token does not verify with the ASPSP's JWKS (PS256/ES256): {exc}")
    return json.loads(token.claims)


@check("happy-flow", "Consent, PAR, approval, code exchange with DPoP, id token, account call",
       f"{SP} 5.3.2.2 (PAR, PKCE S256, iss in the authorization response), 5.3.2.1 "
       "(private_key_jwt), 5.3.3 (DPoP); OpenID Connect Core 3.1.3.7 (id token); OBIE Security "
       "Profile (openbanking_intent_id, acr)")
def happy_flow(ctx: Context) -> None:
    tpp = TPP(ctx)
    client = tpp.client()
    issuer = tpp.discovery()["issuer"]
    auth = tpp.authorise(client)
    expect("error" not in auth, f"the authorization response is an error: {auth.get('error')}")
    expect(auth.get("state") == auth["sent"]["state"], "state does not come back unchanged")
    expect(auth.get("iss") == issuer,
           f"the authorization response's iss is {auth.get('iss')!r}, not the issuer "
           "(RFC 9207, 2)")
    expect(auth.get("code"), "the authorization response has no code")
    response = tpp.exchange(client, auth["code"], auth["verifier"])
    expect(response.status_code == 200, f"the code exchange answered {response.status_code}")
    tokens = response.json()
    expect(tokens.get("token_type") == "DPoP", f"token_type is {tokens.get('token_type')!r}, "
           "the token must be DPoP-bound (RFC 9449, 5)")
    expect(tokens.get("id_token"), "no id_token from an openid request")
    claims = verify_id_token(ctx, tokens["id_token"], client_id=client.client_id)
    ctx.note(f"id token claims: { {k: claims.get(k) for k in ('iss', 'aud', 'acr', 'openbanking_intent_id', 'auth_time', 'exp', 'iat')} }")
    aud = claims.get("aud")
    expect(claims.get("iss") == issuer, f"id token iss is {claims.get('iss')!r}")
    expect(client.client_id in (aud if isinstance(aud, list) else [aud]),
           f"id token aud is {aud!r}")
    expect(claims.get("nonce") == auth["sent"]["nonce"], "id token nonce is not the one sent")
    expect(claims.get("openbanking_intent_id") == auth["consent_id"],
           "id token openbanking_intent_id is not the consent's id")
    expect(claims.get("acr") == "urn:openbanking:psd2:sca", f"id token acr is {claims.get('acr')!r}")
    expect(isinstance(claims.get("auth_time"), int), "id token has no auth_time")
    expect(isinstance(claims.get("exp"), int) and claims["exp"] > time.time(),
           "id token exp is missing or past")
    accounts = tpp.resource(client, "GET", ACCOUNTS, tokens["access_token"])
    expect(accounts.status_code == 200, f"the account call answered {accounts.status_code}")
    ctx.state["happy"] = {"client": client, "auth": auth, "tokens": tokens}


@check("happy-flow-plain-fapi-sign-in",
       "The happy flow as the plain_fapi variant runs it: PAR with scope openid and no intent, "
       "approval, code exchange with DPoP, id token, the userinfo endpoint as the resource",
       f"{SP} 5.3.2.2, 5.3.3; OpenID Connect Core 3.1.3.7 (id token), 5.3 (UserInfo: the same "
       "sub); FAPI 2.0 Implementation Advice 2.1.1 (x-fapi-interaction-id echoed). The OpenID "
       "suite's FAPI 2.0 plans have no UK profile: fapi_profile=plain_fapi sends no "
       "openbanking_intent_id")
def plain_fapi_sign_in(ctx: Context) -> None:
    tpp = TPP(ctx)
    client = tpp.client()
    discovery = tpp.discovery()
    verifier = new_verifier()
    params = tpp.par_params(client, "", verifier, scope="openid", claims=None)
    pushed = tpp.push(client, params)
    expect(pushed.status_code == 201,
           f"PAR with scope openid and no intent answered {pushed.status_code}: "
           f"{pushed.text[:300]}")
    location = tpp.approve(client, pushed.json()["request_uri"], signin=True)
    auth = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    expect("error" not in auth, f"the authorization response is an error: {auth.get('error')}")
    expect(auth.get("state") == params["state"], "state does not come back unchanged")
    expect(auth.get("iss") == discovery["issuer"], f"the authorization response's iss is "
           f"{auth.get('iss')!r}, not the issuer (RFC 9207, 2)")
    response = tpp.exchange(client, auth.get("code", ""), verifier)
    expect(response.status_code == 200, f"the code exchange answered {response.status_code}")
    tokens = response.json()
    expect(tokens.get("token_type") == "DPoP", f"token_type is {tokens.get('token_type')!r}")
    expect(tokens.get("id_token"), "no id_token from an openid request")
    claims = verify_id_token(ctx, tokens["id_token"], client_id=client.client_id)
    ctx.note("id token claims: "
             f"{ {k: claims.get(k) for k in ('iss', 'aud', 'sub', 'acr', 'auth_time')} }")
    expect(unverified_header(tokens["id_token"]).get("kid"),   # verified just above
           "the id token's header has no kid (the suite's EnsureIdTokenContainsKid)")
    aud = claims.get("aud")
    expect(claims.get("iss") == discovery["issuer"], f"id token iss is {claims.get('iss')!r}")
    expect(client.client_id in (aud if isinstance(aud, list) else [aud]),
           f"id token aud is {aud!r}")
    expect(claims.get("nonce") == params["nonce"], "id token nonce is not the one sent")
    expect(isinstance(claims.get("sub"), str) and claims["sub"], "id token has no sub")
    userinfo = tpp.resource(client, "GET", discovery["userinfo_endpoint"],
                            tokens["access_token"])
    expect(userinfo.status_code == 200, f"the userinfo endpoint answered {userinfo.status_code}")
    expect(userinfo.headers.get("Date"), "the userinfo response has no Date header (the "
           "suite's CheckForDateHeaderInResourceResponse)")
    expect(userinfo.json().get("sub") == claims["sub"],
           "userinfo's sub is not the id token's (OpenID Connect Core 5.3.2)")
    sent = userinfo.request.headers["x-fapi-interaction-id"]
    expect(userinfo.headers.get("x-fapi-interaction-id") == sent,
           "the userinfo response does not echo x-fapi-interaction-id")


@check("dpop-negative-tests-replay-at-resource",
       "A DPoP proof used once is refused when replayed at the resource",
       "RFC 9449, 11.1 (replay), 7.1 (resource server checks); "
       f"{SP} 5.3.3 (DPoP proofs)", needs=(HAPPY,))
def dpop_replay(ctx: Context) -> None:
    tpp, happy = TPP(ctx), ctx.state["happy"]
    client, token = happy["client"], happy["tokens"]["access_token"]
    url = ctx.issuer.rstrip("/") + ACCOUNTS
    headers = {**tpp.auth_headers(client, "GET", url, token),
               "x-fapi-customer-ip-address": "198.51.100.7"}
    first = ctx.http.get(url, headers=headers)
    expect(first.status_code == 200, f"the first use of the proof answered {first.status_code}")
    replay = ctx.http.get(url, headers=headers)
    expect(replay.status_code == 401, f"the replayed proof answered {replay.status_code}")
    expect("DPoP" in replay.headers.get("WWW-Authenticate", ""),
           "the 401 has no DPoP WWW-Authenticate challenge (RFC 9449, 7.1)")


@check("dpop-negative-tests-wrong-key-at-resource",
       "A DPoP proof signed by another key than the token's is refused at the resource",
       "RFC 9449, 7.1 and 4.3 (the proof's key must match the token's cnf.jkt); "
       f"{SP} 5.3.3", needs=(HAPPY,))
def dpop_wrong_key(ctx: Context) -> None:
    tpp, happy = TPP(ctx), ctx.state["happy"]
    other = jwk.JWK.generate(kty="EC", crv="P-256")
    response = tpp.resource(happy["client"], "GET", ACCOUNTS, happy["tokens"]["access_token"],
                            dpop_key=other)
    expect(response.status_code == 401, f"a proof by another key answered {response.status_code}")
    bearer = ctx.http.get(ctx.issuer.rstrip("/") + ACCOUNTS, headers={
        "Authorization": f"Bearer {happy['tokens']['access_token']}",
        "x-fapi-interaction-id": str(uuid.uuid4())})
    expect(bearer.status_code == 401, f"the DPoP-bound token used as a Bearer token answered "
           f"{bearer.status_code} (RFC 9449, 7.2)")


@check("refresh-token", "A refresh with DPoP gives a working access token; the refresh token "
       "is not rotated", f"{SP} 5.3.2.1 (refresh tokens: no rotation); RFC 6749, 6; RFC 9449, 5",
       needs=(HAPPY,))
def refresh(ctx: Context) -> None:
    tpp, happy = TPP(ctx), ctx.state["happy"]
    client, tokens = happy["client"], happy["tokens"]
    expect(tokens.get("refresh_token"), "the code exchange gave no refresh token")
    response = tpp.token_request(client, {"grant_type": "refresh_token",
                                          "refresh_token": tokens["refresh_token"]})
    expect(response.status_code == 200, f"the refresh answered {response.status_code}")
    fresh = response.json()
    expect(fresh.get("refresh_token") in (None, tokens["refresh_token"]),
           "the refresh token was rotated")
    call = tpp.resource(client, "GET", ACCOUNTS, fresh["access_token"])
    expect(call.status_code == 200, f"the refreshed access token answered {call.status_code}")


@check("par-attempt-reuse-request_uri",
       "A request_uri used for a completed authorisation cannot start another",
       f"{SP} 5.3.2.2 (request_uri one-time use); RFC 9126, 7.3", needs=(HAPPY,))
def reuse_request_uri(ctx: Context) -> None:
    tpp, happy = TPP(ctx), ctx.state["happy"]
    browser = tpp.new_browser()
    response = browser.get(tpp.discovery()["authorization_endpoint"], params={
        "client_id": happy["client"].client_id, "request_uri": happy["auth"]["request_uri"]},
        allow_redirects=False)
    location = response.headers.get("Location", "")
    query = parse_qs(urlsplit(location).query)
    expect("code" not in query, "the reused request_uri gave an authorization code")
    refused_page = response.status_code == 400
    error_redirect = response.status_code in (302, 303) and "error" in query
    expect(refused_page or error_redirect, f"the reused request_uri was not refused: "
           f"{response.status_code} to {location[:120]!r}")


def _refused_authorisation(ctx: Context, params: dict, what: str,
                           errors: tuple[str, ...] = ("invalid_request",)) -> None:
    """PAR must refuse the request (400 with one of `errors`), or /authorize must not start
    it."""
    tpp = TPP(ctx)
    client = tpp.client()
    pushed = tpp.push(client, params)
    if pushed.status_code == 400:
        oauth_error(pushed, 400, *errors)
        return
    expect(pushed.status_code == 201, f"PAR answered {pushed.status_code}")
    browser = tpp.new_browser()
    response = browser.get(tpp.discovery()["authorization_endpoint"], params={
        "client_id": client.client_id, "request_uri": pushed.json()["request_uri"]},
        allow_redirects=False)
    location = response.headers.get("Location", "")
    started = response.status_code in (302, 303) and "error=" not in location
    expect(not started, f"a request {what} was accepted and the authorisation began")


@check("par-ensure-pkce-required", "A pushed request without a PKCE code_challenge is refused",
       f"{SP} 5.3.2.2-5 (PKCE required); RFC 9126, 2.3")
def pkce_required(ctx: Context) -> None:
    tpp = TPP(ctx)
    client = tpp.client()
    _refused_authorisation(ctx, tpp.par_params(client, tpp.create_consent(client), None),
                           "without PKCE")


@check("par-plain-pkce-rejected", "A pushed request with code_challenge_method plain is refused",
       f"{SP} 5.3.2.2-5 (S256 only); RFC 7636, 4.2")
def plain_pkce(ctx: Context) -> None:
    tpp = TPP(ctx)
    client = tpp.client()
    verifier = new_verifier()
    _refused_authorisation(ctx, tpp.par_params(
        client, tpp.create_consent(client), None, code_challenge=verifier,
        code_challenge_method="plain"), "with plain PKCE")


@check("ensure-client-assertion-with-wrong-aud-fails",
       "A client assertion whose aud is another server is refused at the token endpoint",
       f"{SP} 5.3.2.1-8 (aud the issuer identifier); RFC 7523, 3 (aud)")
def wrong_aud(ctx: Context) -> None:
    tpp = TPP(ctx)
    response = tpp.token_request(tpp.client(), {"grant_type": "client_credentials",
                                                "scope": "accounts"},
                                 aud="https://wrong-audience.example/")
    oauth_error(response, 401, "invalid_client")


@check("ensure-client-assertion-with-wrong-aud-fails-token-endpoint-url",
       "A FAPI 2.0 client assertion with the token endpoint URL as aud is refused",
       f"{SP} 5.3.2.1-8 (aud shall be the issuer identifier, as a single string)")
def token_endpoint_aud(ctx: Context) -> None:
    tpp = TPP(ctx)
    response = tpp.token_request(tpp.client(), {"grant_type": "client_credentials",
                                                "scope": "accounts"},
                                 aud=tpp.discovery()["token_endpoint"])
    oauth_error(response, 401, "invalid_client")


def _assertion_refused(ctx: Context, claims_change: dict, *, alg: str | None = None,
                       key=None) -> None:
    """A client-credentials request whose client assertion is changed as given: 401
    invalid_client (RFC 6749 5.2)."""
    tpp = TPP(ctx)
    client = tpp.client()
    now = int(time.time())
    claims = {"iss": client.client_id, "sub": client.client_id,
              "aud": tpp.discovery()["issuer"], "jti": uuid.uuid4().hex, "iat": now,
              "exp": now + 60, **claims_change}
    claims = {k: v for k, v in claims.items() if v is not None}
    url = tpp.discovery()["token_endpoint"]
    response = ctx.http.post(url, data={
        "grant_type": "client_credentials", "scope": "accounts", "client_id": client.client_id,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": sign(key or client.key, claims, alg=alg or client.alg)},
        headers={"DPoP": dpop_proof(client.dpop_key, "POST", url)})
    ctx.note(f"client assertion claims sent: {claims}")
    oauth_error(response, 401, "invalid_client")


@check("ensure-signed-client-assertion-with-RS256-fails",
       "A client assertion signed with RS256 is refused",
       f"{SP} 5.4.1 (PS256, ES256 or EdDSA only); RFC 7523, 3")
def assertion_rs256(ctx: Context) -> None:
    _assertion_refused(ctx, {}, alg="RS256",
                       key=jwk.JWK.generate(kty="RSA", size=2048, kid=uuid.uuid4().hex))


@check("ensure-client-assertion-with-exp-is-5-minutes-in-past-fails",
       "A client assertion that expired five minutes ago is refused",
       "RFC 7523, 3 (exp); RFC 7521, 5.2")
def assertion_expired(ctx: Context) -> None:
    now = int(time.time())
    _assertion_refused(ctx, {"iat": now - 360, "exp": now - 300})


@check("ensure-client-assertion-with-no-sub-fails", "A client assertion without sub is refused",
       "RFC 7523, 3 (sub is the client_id)")
def assertion_no_sub(ctx: Context) -> None:
    _assertion_refused(ctx, {"sub": None})


@check("ensure-holder-of-key-required",
       "A token request with neither a DPoP proof nor a TLS client certificate gets no token",
       f"{SP} 5.3.2.1 (only sender-constrained access tokens); RFC 9449, 5")
def holder_of_key(ctx: Context) -> None:
    tpp = TPP(ctx)
    client = tpp.client()
    response = ctx.http.post(tpp.discovery()["token_endpoint"], data={
        "grant_type": "client_credentials", "scope": "accounts", **tpp.assertion(client)})
    expect(response.status_code in (400, 401), f"the token request without a proof of "
           f"possession answered {response.status_code}")
    expect("access_token" not in response.text, "an access token was issued without a proof "
           "of possession")


@check("par-attempt-invalid-http-method", "GET on the PAR endpoint is refused",
       "RFC 9126, 2.1 (the PAR endpoint takes POST)")
def par_get(ctx: Context) -> None:
    tpp = TPP(ctx)
    response = ctx.http.get(tpp.discovery()["pushed_authorization_request_endpoint"])
    expect(response.status_code in (400, 405), f"GET /par answered {response.status_code}")


@check("ensure-response-type-token-fails", "A pushed request for response_type token is refused",
       f"{SP} 5.3.2.2-2 (response type code only); RFC 6749, 4.1.2.1")
def response_type_token(ctx: Context) -> None:
    tpp = TPP(ctx)
    client = tpp.client()
    _refused_authorisation(ctx, tpp.par_params(client, tpp.create_consent(client), new_verifier(),
                                               response_type="token"), "for a token",
                           ("invalid_request", "unsupported_response_type"))


@check("ensure-unsigned-authorization-request-without-using-par-fails",
       "An authorization request sent to /authorize without PAR does not start",
       f"{SP} 5.3.2.2-1 (PAR required)")
def without_par(ctx: Context) -> None:
    tpp = TPP(ctx)
    client = tpp.client()
    params = tpp.par_params(client, tpp.create_consent(client), new_verifier())
    response = tpp.new_browser().get(tpp.discovery()["authorization_endpoint"], params=params,
                                     allow_redirects=False)
    location = response.headers.get("Location", "")
    expect(not (response.status_code in (302, 303) and "error=" not in location),
           f"a request without PAR began the authorisation ({response.status_code})")


@check("par-attempt-to-use-request_uri-for-different-client",
       "A request_uri pushed by one client cannot be used with another client_id",
       "RFC 9126, 4 (the request_uri is bound to its client)")
def request_uri_other_client(ctx: Context) -> None:
    tpp = TPP(ctx)
    client, other = tpp.client(), tpp.client("second_client")
    pushed = tpp.push(client, tpp.par_params(client, tpp.create_consent(client), new_verifier()))
    expect(pushed.status_code == 201, f"PAR answered {pushed.status_code}")
    response = tpp.new_browser().get(tpp.discovery()["authorization_endpoint"], params={
        "client_id": other.client_id, "request_uri": pushed.json()["request_uri"]},
        allow_redirects=False)
    location = response.headers.get("Location", "")
    expect(not (response.status_code in (302, 303) and "error=" not in location),
           f"another client's request_uri began the authorisation ({response.status_code})")


@check("par-ensure-reused-request-uri-prior-to-auth-completion-succeeds",
       "The same browser may open a pushed request_uri again before the customer decides",
       "RFC 9126, 7.3 (one-time use is the authorisation, not the page load); OpenID "
       "conformance suite's expectation for reloads")
def request_uri_reload(ctx: Context) -> None:
    tpp = TPP(ctx)
    client = tpp.client()
    pushed = tpp.push(client, tpp.par_params(client, tpp.create_consent(client), new_verifier()))
    expect(pushed.status_code == 201, f"PAR answered {pushed.status_code}")
    browser = tpp.new_browser()
    params = {"client_id": client.client_id, "request_uri": pushed.json()["request_uri"]}
    for attempt in ("first", "second"):
        response = browser.get(tpp.discovery()["authorization_endpoint"], params=params,
                               allow_redirects=False)
        location = response.headers.get("Location", "")
        expect(response.status_code in (302, 303) and "error=" not in location,
               f"the {attempt} load of the request_uri did not begin the authorisation "
               f"({response.status_code})")


@check("incorrect-pkce-code-verifier-rejected",
       "A code exchanged with another code_verifier than the challenge's is refused",
       f"{SP} 5.3.2.2-5; RFC 7636, 4.6 (invalid_grant)")
def wrong_verifier(ctx: Context) -> None:
    tpp = TPP(ctx)
    client = tpp.client()
    auth = tpp.authorise(client)
    expect(auth.get("code"), "the authorisation gave no code")
    oauth_error(tpp.exchange(client, auth["code"], new_verifier()), 400, "invalid_grant")


@check("ensure-pkce-code-verifier-required",
       "A code exchanged without a code_verifier is refused",
       f"{SP} 5.3.2.2-5; RFC 7636, 4.6 (invalid_grant)")
def verifier_required(ctx: Context) -> None:
    tpp = TPP(ctx)
    client = tpp.client()
    auth = tpp.authorise(client)
    expect(auth.get("code"), "the authorisation gave no code")
    oauth_error(tpp.exchange(client, auth["code"], None), 400, "invalid_grant")


@check("ensure-authorization-code-is-bound-to-client",
       "A code issued to one client cannot be exchanged by another",
       "RFC 6749, 4.1.3 (the code was issued to the authenticated client); "
       f"{SP} 5.3.2.1")
def code_bound_to_client(ctx: Context) -> None:
    tpp = TPP(ctx)
    client, other = tpp.client(), tpp.client("second_client")
    auth = tpp.authorise(client)
    expect(auth.get("code"), "the authorisation gave no code")
    oauth_error(tpp.exchange(other, auth["code"], auth["verifier"]), 400, "invalid_grant")


@check("attempt-reuse-authorization-code-after-one-second",
       "A code exchanged once is refused the second time; the tokens issued from it are revoked",
       f"{SP} 5.3.2.1 (one-time codes); RFC 6749, 4.1.2 (MUST deny, SHOULD revoke)",
       needs=(HAPPY,))
def reuse_code(ctx: Context) -> None:
    tpp, happy = TPP(ctx), ctx.state["happy"]
    time.sleep(1)
    again = tpp.exchange(happy["client"], happy["auth"]["code"], happy["auth"]["verifier"])
    oauth_error(again, 400, "invalid_grant")
    call = tpp.resource(happy["client"], "GET", ACCOUNTS, happy["tokens"]["access_token"])
    if call.status_code == 200:
        ctx.note("the access token issued from the reused code still works (RFC 6749 4.1.2: "
                 "SHOULD revoke; the OpenID suite warns, does not fail)")
