"""The sandbox directory: the trust anchor of the sandbox, standing in for the Open Banking
Directory. It records TPP organisations (competent authority, PSD2 roles) and their software
statements (client name, redirect URIs, roles, the software's public keys), and issues software
statement assertions (SSAs): JWTs signed with the directory's own key (key store owner
'directory', PS256) carrying the Open Banking Directory SSA claims.

The ASPSP trusts it as the `sandbox` entry of TRUST_ANCHORS (aspsp/oauth/trust.py).
"""
from __future__ import annotations

import random
import re
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from jwcrypto import jwk, jwt
from jwcrypto.common import JWException
from sqlalchemy import select

from aspsp.db import UnitOfWork
from aspsp.ids import new_id
from aspsp.oauth import keys
from aspsp.oauth.trust import strong_enough

from .models import DirectoryOrganisation, SoftwareStatement

ISSUER = "Invisible Bank Sandbox Directory"     # the SSA `iss`, as "OpenBanking Ltd" is the OB's
ROLES = ("AISP", "PISP", "CBPII")
ACTIVE, REVOKED = "Active", "Revoked"
SSA_ALG = "PS256"
PREFIX = "/sandbox/directory"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SOFTWARE_ID = re.compile(r"^[0-9A-Za-z]{1,22}$")          # DCR: Base62, at most 22 characters
ORG_ID = re.compile(r"^[0-9A-Za-z]{1,35}$")               # Directory: Max35Text
COMPETENT_AUTHORITY = re.compile(r"^([A-Z]{2}):([A-Z0-9]{2,16})$")   # member state : authority


class DirectoryError(ValueError):
    """Input the directory refuses; the message says what to change."""


class NotFound(LookupError):
    pass


def base62_id(length: int, rng: random.Random | None = None) -> str:
    """`length` random Base62 characters (22 carry more than 128 bits)."""
    choice = rng.choice if rng is not None else secrets.choice
    return "".join(choice(BASE62) for _ in range(length))


# --- organisations and software statements ---------------------------------------------------

def create_organisation(uow: UnitOfWork, *, name: str, competent_authority: str,
                        authorisation_id: str, roles, now: datetime, jwks: dict | None = None,
                        org_id: str | None = None, rng: random.Random | None = None
                        ) -> DirectoryOrganisation:
    """A TPP organisation authorised by a competent authority (e.g. GB:FCA) for PSD2 roles."""
    name, authority, authorisation_id = _organisation_fields(name, competent_authority,
                                                             authorisation_id)
    org_id = org_id or base62_id(18, rng)
    if not ORG_ID.match(org_id):
        raise DirectoryError("org_id must be 1 to 35 letters and digits")
    if _organisation(uow, org_id) is not None:
        raise DirectoryError(f"organisation {org_id} already exists")
    org = DirectoryOrganisation(org_id=org_id, name=name, competent_authority=authority,
                                authorisation_id=authorisation_id, roles=_roles(roles),
                                jwks=_public_jwks(jwks) if jwks else {"keys": []},
                                status=ACTIVE, created_at=now)
    uow.session.add(org)
    uow.session.flush()
    return org


def create_software(uow: UnitOfWork, *, org_id: str, client_name: str, redirect_uris,
                    roles, jwks: dict, now: datetime, client_description: str | None = None,
                    client_uri: str | None = None, software_id: str | None = None,
                    rng: random.Random | None = None) -> SoftwareStatement:
    """A software statement of an active organisation: its roles must be among the
    organisation's, its redirect URIs https, its JWKS public signing keys only."""
    org = organisation(uow, org_id)
    client_name, uris, roles = _software_fields(org, client_name, client_description,
                                                client_uri, redirect_uris, roles)
    software_id = software_id or base62_id(22, rng)
    if not SOFTWARE_ID.match(software_id):
        raise DirectoryError("software_id must be 1 to 22 Base62 characters")
    if _software(uow, software_id) is not None:
        raise DirectoryError(f"software {software_id} already exists")
    software = SoftwareStatement(software_id=software_id, org_pk=org.id,
                                 client_name=client_name, client_description=client_description,
                                 client_uri=client_uri, redirect_uris=uris, roles=roles,
                                 jwks=_public_jwks(jwks), status=ACTIVE, created_at=now)
    uow.session.add(software)
    uow.session.flush()
    return software


def _organisation_fields(name: str, competent_authority: str, authorisation_id: str
                         ) -> tuple[str, str, str]:
    name = (name or "").strip()
    if not 1 <= len(name) <= 140:
        raise DirectoryError("the organisation name must be 1 to 140 characters")
    authority = (competent_authority or "").strip().upper()
    if not COMPETENT_AUTHORITY.match(authority):
        raise DirectoryError("the competent authority must look like GB:FCA "
                             "(member state, colon, authority)")
    authorisation_id = (authorisation_id or "").strip()
    if not 1 <= len(authorisation_id) <= 64:
        raise DirectoryError("the authorisation id (e.g. the FCA reference number) is required")
    return name, authority, authorisation_id


def _software_fields(org: DirectoryOrganisation, client_name: str, client_description,
                     client_uri, redirect_uris, roles) -> tuple[str, list[str], list[str]]:
    if org.status != ACTIVE:
        raise DirectoryError(f"organisation {org.org_id} is {org.status}")
    client_name = (client_name or "").strip()
    if not 1 <= len(client_name) <= 40:
        raise DirectoryError("the client name must be 1 to 40 characters")
    if client_description is not None and len(client_description) > 256:
        raise DirectoryError("the client description must be at most 256 characters")
    if client_uri is not None:
        _check_https(client_uri, "client_uri")
    uris = list(redirect_uris or [])
    if not uris:
        raise DirectoryError("at least one redirect URI is required")
    for uri in uris:
        _check_https(uri, "redirect URI")
        if urlsplit(uri).fragment:
            raise DirectoryError(f"redirect URI {uri} must not have a fragment")
    roles = _roles(roles)
    if not set(roles) <= set(org.roles):
        raise DirectoryError(f"roles {', '.join(sorted(set(roles) - set(org.roles)))} are not "
                             f"authorised for organisation {org.org_id}")
    return client_name, uris, roles


def save_organisation(uow: UnitOfWork, *, org_id: str, name: str, competent_authority: str,
                      authorisation_id: str, roles, now: datetime) -> DirectoryOrganisation:
    """Create organisation `org_id`, or update its name, authority and roles (the developer
    portal's organisations are mirrored this way; its keys and status are left as they are)."""
    org = _organisation(uow, org_id)
    if org is None:
        return create_organisation(uow, name=name, competent_authority=competent_authority,
                                   authorisation_id=authorisation_id, roles=roles, now=now,
                                   org_id=org_id)
    org.name, org.competent_authority, org.authorisation_id = _organisation_fields(
        name, competent_authority, authorisation_id)
    org.roles = _roles(roles)
    uow.session.flush()
    return org


def save_software(uow: UnitOfWork, *, org_id: str, software_id: str, client_name: str,
                  redirect_uris, roles, jwks: dict, now: datetime,
                  client_uri: str | None = None) -> SoftwareStatement:
    """Create software statement `software_id` of organisation `org_id`, or update what it
    says (name, redirect URIs, roles, keys) under the same rules as `create_software`; its
    JWKS may be empty until the software has keys (an SSA is useless until then)."""
    sw = _software(uow, software_id)
    if sw is None:
        if not SOFTWARE_ID.match(software_id or ""):
            raise DirectoryError("software_id must be 1 to 22 Base62 characters")
        org = organisation(uow, org_id)
        client_name, uris, roles = _software_fields(org, client_name, None, client_uri,
                                                    redirect_uris, roles)
        sw = SoftwareStatement(software_id=software_id, org_pk=org.id, client_name=client_name,
                               client_description=None, client_uri=client_uri,
                               redirect_uris=uris, roles=roles, jwks=_public_jwks(jwks, True),
                               status=ACTIVE, created_at=now)
        uow.session.add(sw)
        uow.session.flush()
        return sw
    if sw.organisation.org_id != org_id:
        raise DirectoryError(f"software {software_id} belongs to another organisation")
    sw.client_name, sw.redirect_uris, sw.roles = _software_fields(
        sw.organisation, client_name, sw.client_description, client_uri, redirect_uris, roles)
    sw.client_uri, sw.jwks = client_uri, _public_jwks(jwks, True)
    uow.session.flush()
    return sw


def organisation(uow: UnitOfWork, org_id: str) -> DirectoryOrganisation:
    org = _organisation(uow, org_id)
    if org is None:
        raise NotFound(f"no organisation {org_id}")
    return org


def software(uow: UnitOfWork, software_id: str) -> SoftwareStatement:
    found = _software(uow, software_id)
    if found is None:
        raise NotFound(f"no software statement {software_id}")
    return found


def _organisation(uow: UnitOfWork, org_id: str) -> DirectoryOrganisation | None:
    return uow.session.scalars(select(DirectoryOrganisation).where(
        DirectoryOrganisation.org_id == org_id)).one_or_none()


def _software(uow: UnitOfWork, software_id: str) -> SoftwareStatement | None:
    return uow.session.scalars(select(SoftwareStatement).where(
        SoftwareStatement.software_id == software_id)).one_or_none()


def _roles(roles) -> list[str]:
    chosen = [str(r).strip().upper() for r in (roles or [])]
    if not chosen:
        raise DirectoryError(f"at least one role is required ({', '.join(ROLES)})")
    unknown = sorted(set(chosen) - set(ROLES))
    if unknown:
        raise DirectoryError(f"unknown role {', '.join(unknown)}: use {', '.join(ROLES)}")
    return [r for r in ROLES if r in chosen]


def _check_https(uri: str, what: str) -> None:
    try:
        parts = urlsplit(uri or "")
    except ValueError:
        raise DirectoryError(f"{what} {uri!r} is not a URL") from None
    if parts.scheme != "https" or not parts.hostname:
        raise DirectoryError(f"{what} {uri!r} must be an absolute https URL")
    if len(uri) > 256:
        raise DirectoryError(f"{what} must be at most 256 characters")


def _public_jwks(jwks: dict, empty_allowed: bool = False) -> dict:
    """The keys as given, refused when one is private, unnamed, weak or not for signing."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or (
            not jwks["keys"] and not empty_allowed):
        raise DirectoryError('the JWKS must be {"keys": [...]} with at least one key')
    kids = set()
    for data in jwks["keys"]:
        try:
            key = jwk.JWK(**data)
        except (JWException, ValueError, TypeError):
            raise DirectoryError("the JWKS holds a key that is not a JWK") from None
        if key.has_private:
            raise DirectoryError("the JWKS must hold public keys only: a private key was given")
        if not data.get("kid") or data["kid"] in kids:
            raise DirectoryError("every key needs its own kid")
        kids.add(data["kid"])
        if data.get("use", "sig") != "sig":
            raise DirectoryError("only signing keys (use sig) are accepted")
        if not strong_enough(key):
            raise DirectoryError("keys must be RSA of at least 2048 bits or EC P-256")
    return {"keys": [dict(k) for k in jwks["keys"]]}


# --- software statement assertions ------------------------------------------------------------

def base_url(issuer: str) -> str:
    """Where the directory's endpoints live (the platform's public URL + /sandbox/directory)."""
    return issuer.rstrip("/") + PREFIX


def ssa_claims(org: DirectoryOrganisation, sw: SoftwareStatement, *, now: datetime,
               issuer: str, jti: str, software_version: str = "1.0") -> dict:
    """The Open Banking Directory SSA claims for a software statement."""
    base = base_url(issuer)
    member_state, authority = org.competent_authority.split(":", 1)
    claims = {
        "iss": ISSUER,
        "iat": int(now.timestamp()),
        "jti": jti,
        "software_environment": "sandbox",
        "software_mode": "Test",
        "software_id": sw.software_id,
        "software_client_id": sw.software_id,
        "software_client_name": sw.client_name,
        "software_client_description": sw.client_description,
        "software_client_uri": sw.client_uri,
        "software_version": software_version,
        "software_redirect_uris": list(sw.redirect_uris),
        "software_roles": list(sw.roles),
        "software_jwks_endpoint": f"{base}/software/{sw.software_id}/jwks",
        "organisation_competent_authority_claims": {
            "authority_id": authority,
            "registration_id": org.authorisation_id,
            "status": org.status,
            "authorisations": [{"member_state": member_state, "roles": list(org.roles)}],
        },
        "org_status": org.status,
        "org_id": org.org_id,
        "org_name": org.name,
        "org_jwks_endpoint": f"{base}/organisations/{org.org_id}/jwks",
    }
    return {k: v for k, v in claims.items() if v is not None}


def issue_ssa(uow: UnitOfWork, software_id: str, *, now: datetime, issuer: str, keyring,
              rng: random.Random | None = None, software_version: str = "1.0") -> str:
    """A signed SSA for an active software statement of an active organisation.
    Signed by the directory's current key (made ahead by `flask db upgrade`)."""
    sw = software(uow, software_id)
    org = sw.organisation
    if org.status != ACTIVE:
        raise DirectoryError(f"organisation {org.org_id} is {org.status}")
    if sw.status != ACTIVE:
        raise DirectoryError(f"software {software_id} is {sw.status}")
    kid, key = keys.signing_key(uow, "directory", keyring=keyring, now=now, alg=SSA_ALG)
    claims = ssa_claims(org, sw, now=now, issuer=issuer, jti=new_id(rng),
                        software_version=software_version)
    token = jwt.JWT(header={"typ": "JWT", "alg": SSA_ALG, "kid": kid}, claims=claims)
    token.make_signed_token(key)
    return token.serialize()


def issue_refused_ssas(uow: UnitOfWork, software_id: str, *, now: datetime, issuer: str,
                       keyring, age: timedelta = timedelta(days=1),
                       rng: random.Random | None = None) -> dict[str, str]:
    """SSAs a bank must refuse, signed by the directory's real key, for the conformance suite's
    DCR refusals (handed to it in the sandbox's run configuration, sandbox/conformance.py;
    no endpoint issues them):
    - `expired`: software `software_id`'s SSA issued `age` ago (iat), with an exp an hour
      after that: past any SSA lifetime a bank allows (ours: registration.SSA_MAX_AGE);
    - `unknown_software`: fresh, but for a software_id this directory has never issued (its
      software_jwks_endpoint then publishes no keys)."""
    sw = software(uow, software_id)
    kid, key = keys.signing_key(uow, "directory", keyring=keyring, now=now, alg=SSA_ALG)

    def signed(claims: dict) -> str:
        token = jwt.JWT(header={"typ": "JWT", "alg": SSA_ALG, "kid": kid}, claims=claims)
        token.make_signed_token(key)
        return token.serialize()

    issued = now - age
    expired = ssa_claims(sw.organisation, sw, now=issued, issuer=issuer, jti=new_id(rng))
    expired["exp"] = int((issued + timedelta(hours=1)).timestamp())
    unknown_id = base62_id(22, rng)
    while _software(uow, unknown_id) is not None:
        unknown_id = base62_id(22, rng)
    unknown = ssa_claims(sw.organisation, sw, now=now, issuer=issuer, jti=new_id(rng))
    unknown.update(software_id=unknown_id, software_client_id=unknown_id,
                   software_jwks_endpoint=f"{base_url(issuer)}/software/{unknown_id}/jwks")
    return {"expired": signed(expired), "unknown_software": signed(unknown)}


# --- published keys ---------------------------------------------------------------------------

def directory_jwks(uow: UnitOfWork, *, now: datetime) -> dict:
    """The directory's own signing keys: the trust anchor's JWKS."""
    return keys.published_jwks(uow, "directory", now=now)


def organisation_jwks(uow: UnitOfWork, org_id: str) -> dict:
    return organisation(uow, org_id).jwks or {"keys": []}


def software_jwks(uow: UnitOfWork, software_id: str) -> dict:
    return software(uow, software_id).jwks or {"keys": []}


_JWKS_PATH = re.compile(r"^/(organisations|software)/([0-9A-Za-z]{1,35})/jwks$")


def jwks_for_uri(uow: UnitOfWork, uri: str, *, issuer: str, now: datetime) -> dict | None:
    """In-process answer for one of this directory's JWKS URIs; None for any other URI.
    An unknown organisation or software has no keys."""
    base = base_url(issuer)
    if not isinstance(uri, str) or not uri.startswith(base + "/"):
        return None
    if uri == base + "/jwks":
        return directory_jwks(uow, now=now)
    match = _JWKS_PATH.match(uri[len(base):])
    if match is None:
        return {"keys": []}
    kind, ident = match.groups()
    try:
        return organisation_jwks(uow, ident) if kind == "organisations" \
            else software_jwks(uow, ident)
    except NotFound:
        return {"keys": []}


# --- who may ask for an SSA over HTTP ---------------------------------------------------------

ASSERTION_MAX_LIFETIME = 300   # seconds between iat and exp of a software assertion
CLOCK_SKEW = 60


class NotAuthenticated(Exception):
    """The caller did not prove it holds a key of the software statement."""


def authenticate_software(uow: UnitOfWork, software_id: str, assertion: str, *, audience: str,
                          now: datetime, replay) -> SoftwareStatement:
    """The SSA endpoint answers only the holder of a software key: the request body is a JWT
    signed by a key of the software's JWKS (PS256/ES256) with iss and sub the software_id, aud
    the endpoint URL, iat, exp (at most five minutes later) and a single-use jti."""
    from aspsp.oauth.trust import InvalidSignature, verify_jws
    sw = software(uow, software_id)
    try:
        claims = verify_jws(assertion, sw.jwks).claims
    except InvalidSignature as exc:
        raise NotAuthenticated(f"the software assertion is refused: {exc}") from None
    if claims.get("iss") != software_id or claims.get("sub") != software_id:
        raise NotAuthenticated("the software assertion iss and sub must be the software_id")
    aud = claims.get("aud")
    if audience not in (aud if isinstance(aud, list) else [aud]):
        raise NotAuthenticated(f"the software assertion aud must be {audience}")
    iat, exp, ts = claims.get("iat"), claims.get("exp"), now.timestamp()
    if not all(isinstance(v, (int, float)) for v in (iat, exp)):
        raise NotAuthenticated("the software assertion needs numeric iat and exp")
    if exp <= ts or iat > ts + CLOCK_SKEW or exp - iat > ASSERTION_MAX_LIFETIME:
        raise NotAuthenticated("the software assertion is expired, from the future or "
                               f"lives longer than {ASSERTION_MAX_LIFETIME} seconds")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise NotAuthenticated("the software assertion needs a jti")
    if not replay.first_use("directory_assertion", f"{software_id}:{jti}",
                            int(exp - ts) + CLOCK_SKEW):
        raise NotAuthenticated("the software assertion jti has been used before")
    return sw
