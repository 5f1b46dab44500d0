"""The DCR plan: OBIE Dynamic Client Registration v3.3, mirroring the scenarios of the OBIE DCR
conformance tool (OpenBankingUK/conformance-dcr, DCR-001 to DCR-011). Needs a directory to
register with (the configuration's "directory"); the refusals of an expired SSA and of unknown
software need the SSAs in the configuration's "dcr" (`expired_ssa`, `unknown_software_ssa`:
a directory issues neither on request; the sandbox's run configuration carries both).
Expected errors as the OpenID conformance suite's DCR modules (RFC 7591, 3.2.2)."""
from __future__ import annotations

import time
import uuid

from jwcrypto import jwk

from ..engine import Check, Context, expect, skip
from ..tpp import TPP, Client, sign, unverified_claims

PLAN = "dcr"
CHECKS: list[Check] = []
DCR = "OBIE Dynamic Client Registration v3.3"


def check(id: str, title: str, clause: str, needs: tuple[str, ...] = ()):
    def register(fn):
        CHECKS.append(Check(id, title, clause, PLAN, fn, needs))
        return fn
    return register


def refused(response, status: int = 400, errors: tuple[str, ...] = ()) -> None:
    expect(response.status_code == status,
           f"expected {status}, the ASPSP answered {response.status_code}")
    if errors:
        error = response.json().get("error") if "json" in response.headers.get(
            "Content-Type", "") else None
        expect(error in errors, f"error is {error!r}, expected one of {list(errors)}")


def signed_request(tpp: TPP, **overrides) -> str:
    d = tpp.directory()
    return sign(tpp.software_key(), tpp.registration_claims(tpp.get_ssa(), **overrides),
                alg=d.get("alg", "ES256"))


def registered(ctx: Context) -> Client:
    return ctx.state["dcr_client"]


@check("DCR-001", "Validate OIDC Config Registration URL",
       f"{DCR}, discovery (registration_endpoint); RFC 8414, 2")
def registration_url(ctx: Context) -> None:
    url = TPP(ctx).discovery().get("registration_endpoint")
    expect(url and url.startswith(("https://", ctx.issuer.rstrip("/"))),
           f"registration_endpoint is {url!r}")


@check("DCR-002", "Dynamically create a new software client",
       f"{DCR}, POST /register (201 and the client information); RFC 7591, 3.2.1")
def create(ctx: Context) -> None:
    tpp = TPP(ctx)
    response = tpp.post_registration(signed_request(tpp))
    expect(response.status_code == 201, f"registration answered {response.status_code}")
    body = response.json()
    expect(body.get("client_id"), "the client information has no client_id")
    expect(body.get("redirect_uris") == [ctx.config["redirect_uri"]],
           f"redirect_uris is {body.get('redirect_uris')}")
    expect(body.get("token_endpoint_auth_method") == "private_key_jwt",
           "token_endpoint_auth_method is not the one registered")
    ctx.state["dcr_client"] = Client(body["client_id"], tpp.software_key(),
                                     tpp.directory().get("alg", "ES256"))


@check("DCR-005", "Dynamically retrieve a new software client",
       f"{DCR}, GET /register/{{ClientId}} with a client-credentials token; RFC 7592, 2.1",
       needs=("DCR-002",))
def retrieve(ctx: Context) -> None:
    tpp, client = TPP(ctx), registered(ctx)
    token = tpp.client_credentials(client)
    url = f"{tpp.discovery()['registration_endpoint']}/{client.client_id}"
    response = tpp.resource(client, "GET", url, token)
    expect(response.status_code == 200, f"retrieve answered {response.status_code}")
    expect(response.json().get("client_id") == client.client_id, "another client_id came back")


@check("DCR-008", "I should be able update a registered software",
       f"{DCR}, PUT /register/{{ClientId}}; RFC 7592, 2.2", needs=("DCR-002",))
def update(ctx: Context) -> None:
    tpp, client = TPP(ctx), registered(ctx)
    token = tpp.client_credentials(client)
    url = f"{tpp.discovery()['registration_endpoint']}/{client.client_id}"
    response = tpp.post_registration(signed_request(tpp, client_id=client.client_id,
                                                    id_token_signed_response_alg="ES256"),
                                     url=url, method="PUT", token=client, access_token=token)
    expect(response.status_code == 200, f"update answered {response.status_code}")
    expect(response.json().get("id_token_signed_response_alg") == "ES256",
           "the update is not in the client information")


@check("DCR-007", "I should not be able to retrieve a software client with invalid credentials",
       f"{DCR}, GET /register/{{ClientId}}; RFC 7592, 2.1 and RFC 6750, 3.1 (401 invalid_token)",
       needs=("DCR-002",))
def retrieve_invalid_credentials(ctx: Context) -> None:
    tpp, client = TPP(ctx), registered(ctx)
    url = f"{tpp.discovery()['registration_endpoint']}/{client.client_id}"
    refused(tpp.resource(client, "GET", url, "not-a-token-" + uuid.uuid4().hex), 401)


@check("DCR-010", "When I try to retrieve a non existing software client I should be unauthorized",
       f"{DCR}, GET /register/{{ClientId}}; RFC 7592, 2.1 (401 for an unknown client)",
       needs=("DCR-002",))
def retrieve_wrong_id(ctx: Context) -> None:
    tpp, client = TPP(ctx), registered(ctx)
    token = tpp.client_credentials(client)
    url = f"{tpp.discovery()['registration_endpoint']}/{uuid.uuid4()}"
    refused(tpp.resource(client, "GET", url, token), 401)


@check("DCR-009", "When I try to update a non existing software client I should be unauthorized",
       f"{DCR}, PUT /register/{{ClientId}}; RFC 7592, 2.2 (401 for an unknown client)",
       needs=("DCR-002",))
def update_wrong_id(ctx: Context) -> None:
    tpp, client = TPP(ctx), registered(ctx)
    token = tpp.client_credentials(client)
    url = f"{tpp.discovery()['registration_endpoint']}/{uuid.uuid4()}"
    refused(tpp.post_registration(signed_request(tpp), url=url, method="PUT", token=client,
                                  access_token=token), 401)


@check("DCR-004-bad-ssa-signature",
       "Registration fails on invalid registration request: SSA signature does not verify",
       f"{DCR}, SSA validation; RFC 7591, 3.2.2 (invalid_software_statement)")
def bad_ssa_signature(ctx: Context) -> None:
    tpp = TPP(ctx)
    ssa = tpp.get_ssa()
    head, body, signature = ssa.split(".")
    forged = f"{head}.{body}.{signature[:-6]}{'AAAAAA' if signature[-6:] != 'AAAAAA' else 'BBBBBB'}"
    request = sign(tpp.software_key(), tpp.registration_claims(forged),
                   alg=tpp.directory().get("alg", "ES256"))
    refused(tpp.post_registration(request), 400,
            ("invalid_software_statement", "unapproved_software_statement"))


def configured_ssa(ctx: Context, name: str) -> str:
    ssa = (ctx.config.get("dcr") or {}).get(name)
    if not isinstance(ssa, str) or ssa.count(".") != 2:
        skip(f'the configuration gives no "dcr": {{"{name}": ...}} (an SSA the directory '
             "issued for this check: a directory issues none on request)")
    ctx.note(f"{name} claims: {unverified_claims(ssa)}")
    return ssa


def nothing_registered(response) -> None:
    body = response.json() if "json" in response.headers.get("Content-Type", "") else {}
    expect(not (isinstance(body, dict) and body.get("client_id")),
           "the refusal carries a client_id: a client was registered")


@check("DCR-004-expired-ssa",
       "Registration fails on invalid registration request: the SSA has expired",
       f"{DCR}, SSA validation (iat, exp: the ASPSP's SSA lifetime); RFC 7591, 3.2.2 "
       "(invalid_software_statement); OpenID conformance suite: "
       "CheckErrorFromDynamicRegistrationEndpointIsInvalidSoftwareStatement")
def expired_ssa(ctx: Context) -> None:
    tpp = TPP(ctx)
    ssa = configured_ssa(ctx, "expired_ssa")
    request = sign(tpp.software_key(), tpp.registration_claims(ssa),
                   alg=tpp.directory().get("alg", "ES256"))
    response = tpp.post_registration(request)
    refused(response, 400, ("invalid_software_statement",))
    nothing_registered(response)


@check("DCR-004-unknown-software",
       "Registration fails on invalid registration request: an SSA of software the directory "
       "does not know",
       f"{DCR}, SSA validation (software_id, software_jwks_endpoint); RFC 7591, 3.2.2 "
       "(invalid_software_statement or unapproved_software_statement)")
def unknown_software(ctx: Context) -> None:
    tpp = TPP(ctx)
    ssa = configured_ssa(ctx, "unknown_software_ssa")
    software_id = unverified_claims(ssa).get("software_id")
    expect(software_id and software_id != tpp.directory()["software_id"],
           "the configured unknown_software_ssa names the test app's own software_id")
    # The request speaks for that software (iss, software_id), signed with the only software
    # key the suite holds: the directory publishes none for unknown software.
    request = sign(tpp.software_key(), tpp.registration_claims(
        ssa, iss=software_id, software_id=software_id), alg=tpp.directory().get("alg", "ES256"))
    response = tpp.post_registration(request)
    refused(response, 400, ("invalid_software_statement", "unapproved_software_statement"))
    nothing_registered(response)


@check("DCR-004-untrusted-ssa-issuer",
       "Registration fails on invalid registration request: the SSA is signed by a key that "
       "is not the directory's",
       f"{DCR}, SSA validation (signed by a trusted directory); RFC 7591, 3.2.2 "
       "(unapproved_software_statement or invalid_software_statement)")
def untrusted_ssa_issuer(ctx: Context) -> None:
    tpp = TPP(ctx)
    rogue = jwk.JWK.generate(kty="RSA", size=2048, kid=uuid.uuid4().hex)
    ssa = sign(rogue, unverified_claims(tpp.get_ssa()), alg="PS256")
    request = sign(tpp.software_key(), tpp.registration_claims(ssa),
                   alg=tpp.directory().get("alg", "ES256"))
    response = tpp.post_registration(request)
    refused(response, 400, ("unapproved_software_statement", "invalid_software_statement"))
    nothing_registered(response)


@check("DCR-004-expired-request",
       "Registration fails on invalid registration request: the request JWT has expired",
       f"{DCR}, registration request claims (exp); RFC 7591, 3.2.2 (invalid_client_metadata)")
def expired_request(ctx: Context) -> None:
    tpp = TPP(ctx)
    now = int(time.time())
    refused(tpp.post_registration(signed_request(tpp, iat=now - 600, exp=now - 300)), 400,
            ("invalid_client_metadata", "invalid_software_statement"))


@check("DCR-004-rs256-request",
       "Registration fails on invalid registration request: signed with RS256",
       f"{DCR} (PS256/ES256 only); FAPI 2.0 Security Profile 5.4.1")
def rs256_request(ctx: Context) -> None:
    tpp = TPP(ctx)
    rsa = jwk.JWK.generate(kty="RSA", size=2048, kid=uuid.uuid4().hex)
    request = sign(rsa, tpp.registration_claims(tpp.get_ssa()), alg="RS256")
    refused(tpp.post_registration(request), 400,
            ("invalid_client_metadata", "invalid_software_statement"))


@check("DCR-004-wrong-redirect-uri",
       "Registration fails on invalid registration request: a redirect URI not in the SSA",
       f"{DCR} (redirect_uris among software_redirect_uris); RFC 7591, 3.2.2 "
       "(invalid_redirect_uri)")
def wrong_redirect(ctx: Context) -> None:
    tpp = TPP(ctx)
    refused(tpp.post_registration(signed_request(
        tpp, redirect_uris=["https://attacker.example/callback"])), 400,
        ("invalid_redirect_uri", "invalid_client_metadata"))


@check("DCR-011", "When I try to register a software with invalid response_types it should fail",
       f"{DCR}, response_types; RFC 7591, 3.2.2 (invalid_client_metadata)")
def wrong_response_types(ctx: Context) -> None:
    tpp = TPP(ctx)
    refused(tpp.post_registration(signed_request(tpp, response_types=["token"])), 400,
            ("invalid_client_metadata",))


@check("DCR-003", "Delete software is supported",
       f"{DCR}, DELETE /register/{{ClientId}} (204, the client's tokens stop working); "
       "RFC 7592, 2.3", needs=("DCR-002",))
def delete(ctx: Context) -> None:
    tpp, client = TPP(ctx), registered(ctx)
    token = tpp.client_credentials(client)
    url = f"{tpp.discovery()['registration_endpoint']}/{client.client_id}"
    response = tpp.resource(client, "DELETE", url, token)
    expect(response.status_code == 204, f"delete answered {response.status_code}")
    after = tpp.resource(client, "GET", url, token)
    expect(after.status_code == 401, f"the deleted client's token still answers "
           f"{after.status_code}")
    again = tpp.token_request(client, {"grant_type": "client_credentials", "scope": "accounts"})
    expect(again.status_code in (400, 401) and again.json().get("error") == "invalid_client",
           f"the deleted client still gets tokens: {again.status_code}")
