"""Event notifications as pure rules: the event types, the SET claims (RFC 8417, shaped as the
OBIE Event Notification API v3.1.11 shows them), subscription checks, the retry schedule and
the aggregated-polling request. No Flask, no SQLAlchemy."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

RESOURCE_UPDATE = "urn:uk:org:openbanking:events:resource-update"
CONSENT_AUTHORIZATION_REVOKED = "urn:uk:org:openbanking:events:consent-authorization-revoked"
LINKED_ACCOUNT_UPDATE = \
    "urn:uk:org:openbanking:events:account-access-consent-linked-account-update"
EVENT_TYPES = (RESOURCE_UPDATE, CONSENT_AUTHORIZATION_REVOKED, LINKED_ACCOUNT_UPDATE)
# OBExternalEventAccountAccessConsentLinkedAccountUpdateReason1Code (namespaced enumerations).
ACCOUNT_CLOSURE, CASS = "UK.OBIE.AccountClosure", "UK.OBIE.CASS"
# OBExternalEventConsentAuthorizationRevokedReason1Code defines no UK.OBIE code: the bank's own,
# namespaced as the enumerations allow, for the revocations it makes (README: Event
# notifications). The customer's revocation and an expiry carry no reason.
BANK_REVOCATION_REASONS = {
    "fraud": "UK.InvisibleBank.SuspectedFraud",             # the bank suspects misuse
    "tpp-unauthorised": "UK.InvisibleBank.TppNotAuthorised",  # registration deleted/suspended
    "bank-decision": "UK.InvisibleBank.RevokedByBank",        # any other decision of the bank
}
SUBJECT_TYPE = "http://openbanking.org.uk/rid_http://openbanking.org.uk/rty"
RID, RTY, RLK = ("http://openbanking.org.uk/rid", "http://openbanking.org.uk/rty",
                 "http://openbanking.org.uk/rlk")
# Versions of the Event Notification API a subscription may name. A subscription of Version
# 3.1.1 receives resource-update only (profile §Event-Notification Backwards Compatibility);
# "3.1" names the resources of v3.1 (event-subscription §Notes), so every event type.
VERSIONS = ("3.1", "3.1.1", "3.1.2", "3.1.3", "3.1.4", "3.1.5", "3.1.6", "3.1.7", "3.1.8",
            "3.1.9", "3.1.10", "3.1.11")
RESOURCE_UPDATE_ONLY = frozenset({"3.1.1"})
CALLBACK_SUFFIX = "/event-notifications"
MAX_URL = 500
SET_ERRORS = ("invalid_request", "invalid_key", "invalid_issuer", "invalid_audience",
              "authentication_failed", "access_denied", "jwtParse", "jwtHdr", "jwtCrypto",
              "jws", "jwe", "jwtAud", "jwtIss", "setType", "setParse", "setData", "dup")


class EventStatus(StrEnum):
    PENDING = "Pending"              # not yet with the TPP: pushed (with a callback), polled
    DELIVERED = "Delivered"          # the callback answered 202
    ACKNOWLEDGED = "Acknowledged"    # polled and acked
    REFUSED = "Refused"              # polled and rejected in setErrs
    DEAD_LETTERED = "DeadLettered"   # the push retry window ran out (still pollable)


# A dead-lettered event is no longer pushed, but the TPP may still poll it.
POLLABLE = (EventStatus.PENDING, EventStatus.DEAD_LETTERED)


@dataclass(frozen=True)
class Subject:
    """The resource an event is about: its id, OBIE type (e.g. domestic-payment) and links to
    each version it is served in, as {version: URL}."""
    rid: str
    rty: str
    links: tuple[tuple[str, str], ...]

    @property
    def url(self) -> str:
        return self.links[-1][1]

    def claim(self) -> dict:
        return {"subject_type": SUBJECT_TYPE, RID: self.rid, RTY: self.rty,
                RLK: [{"version": v, "link": link} for v, link in self.links]}


def set_claims(*, issuer: str, audience: str, jti: str, txn: str, subject: Subject,
               event_type: str, toe: datetime, iat: datetime,
               reason: str | None = None) -> dict:
    """The SET's claims. A consent-authorization-revoked event also carries the
    resource-update of its consent (the profile's examples), so its own subject is left out."""
    events: dict = {}
    if event_type == RESOURCE_UPDATE:
        events[RESOURCE_UPDATE] = {"subject": subject.claim()}
    elif event_type == CONSENT_AUTHORIZATION_REVOKED:
        events[RESOURCE_UPDATE] = {"subject": subject.claim()}
        events[CONSENT_AUTHORIZATION_REVOKED] = {"reason": reason} if reason else {}
    elif event_type == LINKED_ACCOUNT_UPDATE:
        events[LINKED_ACCOUNT_UPDATE] = {"subject": subject.claim(),
                                         **({"reason": reason} if reason else {})}
    else:
        raise ValueError(f"unsupported event type {event_type}")
    return {"iss": issuer, "iat": int(iat.timestamp()), "jti": jti, "aud": audience,
            "sub": subject.url, "txn": txn, "toe": int(toe.timestamp()), "events": events}


def wanted(event_type: str, version: str, event_types: list[str] | None) -> bool:
    """Whether a subscription of `version` and `event_types` (None: all) receives the type."""
    if version in RESOURCE_UPDATE_ONLY and event_type != RESOURCE_UPDATE:
        return False
    return event_types is None or event_type in event_types


# --- subscription checks ------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    code: str         # "invalid" | "unsupported_type"
    path: str
    message: str


def subscription_problems(callback_url: str | None, version: str,
                          event_types: list[str] | None, *, schemes: tuple[str, ...]
                          ) -> list[Problem]:
    problems = []
    if version not in VERSIONS:
        problems.append(Problem("invalid", "Data.Version",
                                f"Version must be one of {', '.join(VERSIONS)}"))
    for i, event_type in enumerate(event_types or ()):
        if event_type not in EVENT_TYPES:
            problems.append(Problem("unsupported_type", f"Data.EventTypes[{i}]",
                                    f"{event_type[:128]} is not an event type of this bank"))
    if event_types is not None and len(set(event_types)) != len(event_types):
        problems.append(Problem("invalid", "Data.EventTypes", "an event type is repeated"))
    if callback_url is not None:
        message = callback_problem(callback_url, schemes)
        if message:
            problems.append(Problem("invalid", "Data.CallbackUrl", message))
    return problems


def callback_problem(url: str, schemes: tuple[str, ...]) -> str | None:
    """Why `url` cannot be a callback URL, or None. The address it resolves to is checked at
    each delivery (aspsp.outbound), since DNS may answer differently later."""
    if len(url) > MAX_URL:
        return f"CallbackUrl is longer than {MAX_URL} characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "CallbackUrl is not a URL"
    if parts.scheme not in schemes:
        return f"CallbackUrl must be an {' or '.join(schemes)} URL"
    if not parts.hostname:
        return "CallbackUrl has no host"
    if parts.username is not None or parts.password is not None:
        return "CallbackUrl must not carry credentials"
    if parts.query or parts.fragment:
        return "CallbackUrl must not have a query or fragment"
    if not parts.path.endswith(CALLBACK_SUFFIX):
        return f"CallbackUrl must end with the version and {CALLBACK_SUFFIX} (e.g. " \
               f"https://tpp.example/open-banking/v3.1{CALLBACK_SUFFIX})"
    return None


# --- the retry schedule ---------------------------------------------------------------------
@dataclass(frozen=True)
class RetryPolicy:
    first_delay: float = 5.0             # seconds before the first retry
    max_delay: float = 3600.0            # the backoff stops doubling here
    window: timedelta = timedelta(hours=24)

    def next_attempt(self, created_at: datetime, attempts: int, now: datetime,
                     rng: random.Random | None = None) -> datetime | None:
        """When to try again after `attempts` failed ones (exponential backoff with full
        jitter over the upper half), or None when the window has run out."""
        base = min(self.max_delay, self.first_delay * 2 ** max(attempts - 1, 0))
        delay = base / 2 + (rng or random).random() * base / 2
        at = now + timedelta(seconds=delay)
        return at if at <= created_at + self.window else None


# --- aggregated polling ----------------------------------------------------------------------
@dataclass(frozen=True)
class PollRequest:
    max_events: int | None
    return_immediately: bool
    ack: tuple[str, ...]
    set_errs: tuple[tuple[str, str, str], ...]     # (jti, err, description)


def poll_problems(body: dict, *, max_events_cap: int) -> list[Problem]:
    problems = []
    max_events = body.get("maxEvents")
    if max_events is not None and not 0 <= max_events <= max_events_cap:
        problems.append(Problem("invalid", "maxEvents",
                                f"maxEvents must be between 0 and {max_events_cap}"))
    acked = list(body.get("ack") or ())
    errs = body.get("setErrs") or {}
    for jti in errs:
        if not 1 <= len(jti) <= 128:
            problems.append(Problem("invalid", "setErrs", "a jti is 1 to 128 characters"))
        if jti in acked:
            problems.append(Problem("invalid", f"setErrs.{jti[:128]}",
                                    "a jti cannot be both acknowledged and in error"))
    return problems


# --- the resources events are about ------------------------------------------------------------
def consent_resource(consent_type: str, consent_id: str) -> tuple[str, str]:
    """(rty, path under /open-banking/v3.1) of a consent: account-access-consent at
    /aisp/account-access-consents/{id}, funds-confirmation-consent under /cbpii, the payment
    consents under /pisp."""
    group = {"account-access": "aisp", "funds-confirmation": "cbpii"}.get(consent_type, "pisp")
    return f"{consent_type}-consent", f"/{group}/{consent_type}-consents/{consent_id}"


def payment_resource(order_type: str, payment_id: str) -> tuple[str, str]:
    """(rty, path) of a payment resource: domestic-payment at /pisp/domestic-payments/{id}."""
    return order_type, f"/pisp/{order_type}s/{payment_id}"
