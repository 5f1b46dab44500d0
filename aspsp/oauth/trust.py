"""Trust anchors: the directories whose software statement assertions (SSAs) the ASPSP believes.

TRUST_ANCHORS is a comma-separated list. An entry is either the name of a directory registered
with `register_anchor` (the sandbox registers `sandbox`, its built-in directory, only while
SANDBOX_ENABLED: its keys are read in-process, never over HTTP to ourselves), or the JWKS URL of
a real directory (e.g. the Open Banking keystore), fetched through `aspsp.outbound` and cached.
An SSA is trusted when an anchor publishes the key (`kid`) that signed it and the signature
verifies with that key. This module imports no directory: the sandbox is one implementation
chosen by configuration.

The same module resolves the JWKS URIs that SSAs point at (software and organisation keys):
those a registered anchor serves in-process, any other over HTTPS with the same cache.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Mapping, Protocol
from urllib.parse import urlsplit

from jwcrypto import jwk, jws
from flask import Flask, current_app, has_app_context
from jwcrypto.common import JWException

from .. import jsonsafe, outbound
from ..db import UnitOfWork

log = logging.getLogger(__name__)

ALGORITHMS = ("PS256", "ES256")
REGISTRY = "trust_anchors"      # app.extensions key: anchor name -> factory
JWKS_CACHE_SECONDS = 300        # a fetched JWKS is reused this long
JWKS_REFETCH_SECONDS = 30       # an unknown kid refetches a JWKS at most this often
JWKS_MAX_BYTES = 256 * 1024
HTTP_DEADLINE_SECONDS = 5       # for the whole fetch, however slowly the server answers


class UntrustedSignature(Exception):
    """No trust anchor publishes the key that signed the statement."""


class InvalidSignature(Exception):
    """Not a JWS we accept, or the signature does not verify."""


class JwksUnavailable(Exception):
    """A JWKS could not be fetched or is not a JWKS."""


@dataclass(frozen=True)
class VerifiedJWS:
    header: dict
    claims: dict
    key: jwk.JWK


def parse_jws(token: str) -> tuple[jws.JWS, dict]:
    """The compact JWS and its protected header, before any verification."""
    if not isinstance(token, str) or token.count(".") != 2:
        raise InvalidSignature("not a compact JWS")
    try:
        parsed = jws.JWS()
        parsed.deserialize(token)
        header = parsed.jose_header
    except (JWException, ValueError, TypeError) as exc:
        raise InvalidSignature(f"not a compact JWS ({type(exc).__name__})") from None
    if not isinstance(header, dict):
        raise InvalidSignature("the JWS header is not a JSON object")
    return parsed, header


def unverified_claims(token: str) -> dict:
    """The payload of a JWS without checking its signature (only for tokens verified before)."""
    parsed, _ = parse_jws(token)
    try:
        claims = jsonsafe.loads(parsed.objects["payload"])
    except (KeyError, ValueError, TypeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def strong_enough(key: jwk.JWK) -> bool:
    """RSA of at least 2048 bits or EC P-256 (FAPI key sizes for PS256/ES256)."""
    if key.get("kty") == "RSA":
        return key.get_op_key("verify").key_size >= 2048
    return key.get("kty") == "EC" and key.get("crv") == "P-256"


def signing_keys(jwks: dict, kid: str | None) -> list[jwk.JWK]:
    """The public signing keys of a JWKS, narrowed to `kid` when one is named."""
    found = []
    for data in (jwks or {}).get("keys", []) if isinstance(jwks, dict) else []:
        if not isinstance(data, dict) or data.get("use", "sig") != "sig":
            continue
        if kid is not None and data.get("kid") != kid:
            continue
        try:
            key = jwk.JWK(**data)
        except (JWException, ValueError, TypeError):
            continue
        if not key.has_private:
            found.append(key)
    return found


def verify_jws(token: str, jwks: dict, *, algorithms=ALGORITHMS) -> VerifiedJWS:
    """Verify a compact JWS with a key of `jwks` (by `kid` when the header names one)."""
    parsed, header = parse_jws(token)
    return verify_parsed(parsed, header, lambda kid: [
        (key, strong_enough(key)) for key in signing_keys(jwks, kid)], algorithms=algorithms)


def verify_parsed(parsed, header: dict, keys_for_kid, *, algorithms=ALGORITHMS) -> VerifiedJWS:
    """The checks of every JWS the bank verifies, on one already parsed: alg allowed, a key
    named by the kid (`keys_for_kid(kid)` gives (key, strong enough) pairs, asked only once
    the alg passes), strong enough, the signature, a JSON object payload."""
    if header.get("alg") not in algorithms:
        raise InvalidSignature(f"alg must be one of {', '.join(algorithms)}")
    candidates = keys_for_kid(header.get("kid"))
    if not candidates:
        raise InvalidSignature("no key of the JWKS matches the JWS kid")
    for key, strong in candidates:
        if not strong:
            continue
        try:
            parsed.verify(key, alg=header["alg"])
        except (JWException, ValueError, TypeError):
            continue
        try:
            claims = jsonsafe.loads(parsed.payload)
        except ValueError:
            raise InvalidSignature("the JWS payload is not JSON") from None
        if not isinstance(claims, dict):
            raise InvalidSignature("the JWS payload is not a JSON object")
        return VerifiedJWS(header=header, claims=claims, key=key)
    raise InvalidSignature("the signature does not verify")


class JwksFetcher:
    """JWKS documents fetched over HTTP and kept for JWKS_CACHE_SECONDS."""

    def __init__(self, ttl: int = JWKS_CACHE_SECONDS, refetch_after: int = JWKS_REFETCH_SECONDS):
        self.ttl, self.refetch_after = ttl, refetch_after
        self._cache: dict[str, tuple[float, dict]] = {}   # url -> (fetched at, jwks)
        self._failures: dict[str, float] = {}             # url -> when a fetch last failed
        self._lock = threading.Lock()

    def get(self, url: str, *, policy: outbound.Policy, refresh: bool = False,
            refetch_after: float | None = None) -> dict:
        """The cached JWKS; `refresh` (an unknown kid) refetches unless fetched less than
        `refetch_after` seconds ago (default: the fetcher's; a caller that rate-limits its
        own refreshes passes less). Fetched through aspsp.outbound under `policy` (which
        addresses may be called)."""
        with self._lock:
            cached = self._cache.get(url)
        age = time.monotonic() - cached[0] if cached else None
        fresh = self.refetch_after if refetch_after is None else refetch_after
        if cached and (age < fresh or (age < self.ttl and not refresh)):
            return cached[1]
        with self._lock:
            failed_at = self._failures.get(url)
        if failed_at is not None and time.monotonic() - failed_at < self.refetch_after:
            raise JwksUnavailable(f"{url} failed moments ago; not asking again yet")
        try:
            jwks = self._fetch(url, policy)
        except JwksUnavailable:
            with self._lock:
                self._failures[url] = time.monotonic()
            raise
        with self._lock:
            self._cache[url] = (time.monotonic(), jwks)
            self._failures.pop(url, None)
        return jwks

    @staticmethod
    def _fetch(url: str, policy: outbound.Policy) -> dict:
        try:
            response = outbound.get(url, policy=policy, headers={"Accept": "application/json"})
        except outbound.OutboundError as exc:
            raise JwksUnavailable(f"{url} could not be fetched ({type(exc).__name__}: "
                                  f"{exc})") from None
        if response.status != 200:
            raise JwksUnavailable(f"{url} answered {response.status}")
        try:
            jwks = jsonsafe.loads(response.body)
        except (ValueError, UnicodeDecodeError):
            raise JwksUnavailable(f"{url} did not return JSON") from None
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise JwksUnavailable(f"{url} did not return a JWKS")
        return jwks


def fetch_policy(config) -> outbound.Policy:
    """What a JWKS fetch may call under `config` (aspsp.outbound.policy_from_config)."""
    return outbound.policy_from_config(config, deadline=HTTP_DEADLINE_SECONDS,
                                       max_bytes=JWKS_MAX_BYTES)


_fetcher = JwksFetcher()


class TrustAnchor(Protocol):
    """A directory that signs software statements. A real directory replaces the sandbox one
    by configuration; both answer the same two questions."""
    name: str

    def jwks(self, uow: UnitOfWork, *, now: datetime, refresh: bool = False) -> dict:
        """The anchor's published signing keys."""

    def resolve_jwks_uri(self, uow: UnitOfWork, uri: str, *, now: datetime) -> dict | None:
        """The JWKS behind `uri` when this anchor serves it in-process, else None."""


class JwksUrlAnchor:
    """A real directory, trusted through the JWKS it publishes at `url`."""

    def __init__(self, url: str, policy: outbound.Policy, fetcher: JwksFetcher = _fetcher):
        self.name, self.url, self.policy, self._fetcher = url, url, policy, fetcher

    def jwks(self, uow: UnitOfWork, *, now: datetime, refresh: bool = False) -> dict:
        return self._fetcher.get(self.url, policy=self.policy, refresh=refresh)

    def resolve_jwks_uri(self, uow: UnitOfWork, uri: str, *, now: datetime) -> dict | None:
        return None


AnchorFactory = Callable[[Mapping], "TrustAnchor | None"]


def register_anchor(app: Flask, name: str, factory: AnchorFactory) -> None:
    """Make `name` usable in TRUST_ANCHORS for `app`: `factory(config)` builds the anchor, or
    returns None when it must not be trusted under that configuration. The sandbox registers
    its directory this way when SANDBOX_ENABLED is on; the authorization server never imports
    a directory."""
    app.extensions.setdefault(REGISTRY, {})[name] = factory


def registered_anchors() -> Mapping[str, AnchorFactory]:
    return current_app.extensions.get(REGISTRY, {}) if has_app_context() else {}


def trust_anchors(config, registry: Mapping[str, AnchorFactory] | None = None
                  ) -> list[TrustAnchor]:
    """The anchors TRUST_ANCHORS names: registered directories by name, others by JWKS URL."""
    registry = registered_anchors() if registry is None else registry
    anchors: list[TrustAnchor] = []
    for entry in (e.strip() for e in str(config.get("TRUST_ANCHORS") or "").split(",")):
        if not entry:
            continue
        if entry in registry:
            anchor = registry[entry](config)
            if anchor is not None:
                anchors.append(anchor)
            else:
                log.warning("trust anchor ignored: not trusted under this configuration",
                            extra={"fields": {"anchor": entry}})
        elif _is_http_url(entry):
            anchors.append(JwksUrlAnchor(entry, fetch_policy(config)))
        else:
            log.warning("trust anchor ignored: no directory of that name is registered (the "
                        "sandbox registers 'sandbox' only while SANDBOX_ENABLED) and it is not "
                        "a JWKS URL", extra={"fields": {"anchor": entry}})
    return anchors


def _is_http_url(value: str, schemes=("https", "http")) -> bool:
    try:
        parts = urlsplit(value)
        return parts.scheme in schemes and bool(parts.hostname)
    except ValueError:
        return False


@dataclass(frozen=True)
class TrustedStatement:
    claims: dict
    header: dict
    anchor: str           # which anchor vouched for it


def verify_software_statement(uow: UnitOfWork, ssa: str, *, config,
                              now: datetime) -> TrustedStatement:
    """The SSA's claims when a configured anchor signed it. Raises UntrustedSignature when no
    anchor publishes its key, InvalidSignature when it is malformed or does not verify."""
    _, header = parse_jws(ssa)
    if header.get("alg") not in ALGORITHMS:
        raise InvalidSignature(f"the software statement alg must be one of {', '.join(ALGORITHMS)}")
    if header.get("typ") not in (None, "JWT"):
        raise InvalidSignature("the software statement typ must be JWT")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidSignature("the software statement header has no kid")
    for anchor in trust_anchors(config):
        try:
            published = anchor.jwks(uow, now=now)
            if not signing_keys(published, kid):
                published = anchor.jwks(uow, now=now, refresh=True)
        except JwksUnavailable as exc:
            log.warning("trust anchor unavailable", extra={"fields": {"anchor": anchor.name,
                                                                      "reason": str(exc)}})
            continue
        if signing_keys(published, kid):
            verified = verify_jws(ssa, published)
            return TrustedStatement(claims=verified.claims, header=header, anchor=anchor.name)
    raise UntrustedSignature("the software statement is not signed by a trusted directory")


def resolve_jwks_uri(uow: UnitOfWork, uri: str) -> dict | None:
    """The JWKS behind `uri` when a configured anchor serves it in-process (the sandbox
    directory's own URIs), else None: the caller fetches it over HTTP."""
    from .. import platform
    current = platform.current()
    for anchor in trust_anchors(current.config):
        resolved = anchor.resolve_jwks_uri(uow, uri, now=current.clock.now())
        if resolved is not None:
            return resolved
    return None


def software_jwks(uow: UnitOfWork, uri: str, *, config, now: datetime,
                  refresh: bool = False, refetch_after: float | None = None) -> dict:
    """The JWKS a software statement points at: in-process when a registered anchor serves it,
    else fetched through aspsp.outbound (HTTPS to public addresses only, unless the sandbox
    is enabled: then http and loopback too). `refresh`, `refetch_after`: JwksFetcher.get."""
    for anchor in trust_anchors(config):
        resolved = anchor.resolve_jwks_uri(uow, uri, now=now)
        if resolved is not None:
            return resolved
    return _fetcher.get(uri, policy=fetch_policy(config), refresh=refresh,
                        refetch_after=refetch_after)
