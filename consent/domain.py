"""The consent domain, pure: statuses, one lifecycle per consent type, expiry.

No Flask, no SQLAlchemy, no standard or version: the API layers name these statuses as their
standard does (v3.1 names, v4.0 ISO codes, Berlin Group later). A lifecycle says which moves
each consent type allows and who may make them; terminal statuses allow none. Every accepted
move comes back as a `Transition`, the record of what happened (the service stores it).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Mapping

from .errors import IllegalConsentTransition


class ConsentStatus(StrEnum):
    AWAITING_AUTHORISATION = "AwaitingAuthorisation"
    AWAITING_UPLOAD = "AwaitingUpload"          # file payments, before the file arrives
    AUTHORISED = "Authorised"
    REJECTED = "Rejected"
    REVOKED = "Revoked"
    EXPIRED = "Expired"
    CONSUMED = "Consumed"                       # single payments, once the payment is made


TERMINAL = frozenset({ConsentStatus.REJECTED, ConsentStatus.REVOKED, ConsentStatus.EXPIRED,
                      ConsentStatus.CONSUMED})
# Statuses of a consent still waiting for its customer's approval (and a file payment consent
# for its file): the authorisation window (authorisation_overdue) runs over these.
AWAITING = frozenset({ConsentStatus.AWAITING_AUTHORISATION, ConsentStatus.AWAITING_UPLOAD})
# Statuses that an ExpirationDateTime in the past turns into Expired.
EXPIRABLE = frozenset({ConsentStatus.AWAITING_AUTHORISATION, ConsentStatus.AWAITING_UPLOAD,
                       ConsentStatus.AUTHORISED})


class ConsentType(StrEnum):
    ACCOUNT_ACCESS = "account-access"
    DOMESTIC_PAYMENT = "domestic-payment"
    DOMESTIC_SCHEDULED_PAYMENT = "domestic-scheduled-payment"
    DOMESTIC_STANDING_ORDER = "domestic-standing-order"
    INTERNATIONAL_PAYMENT = "international-payment"
    INTERNATIONAL_SCHEDULED_PAYMENT = "international-scheduled-payment"
    INTERNATIONAL_STANDING_ORDER = "international-standing-order"
    FILE_PAYMENT = "file-payment"
    FUNDS_CONFIRMATION = "funds-confirmation"
    DOMESTIC_VRP = "domestic-vrp"


class Actor(StrEnum):
    TPP = "tpp"
    PSU = "psu"
    SYSTEM = "system"


@dataclass(frozen=True)
class Transition:
    """One status change (or, when from_status == to_status, one recorded act on an unchanged
    status: a re-authentication, a deletion of a consent already final)."""
    from_status: ConsentStatus | None
    to_status: ConsentStatus
    actor: Actor
    actor_id: str | None
    reason: str | None
    at: datetime


# Reasons the services record; the API layer reads DELETED_BY_TPP to answer a deleted
# consent's GET with 400 (the resource is gone for the TPP, kept for the PSU's history).
CREATED = "created by the TPP"
DELETED_BY_TPP = "deleted by the TPP"
REVOKED_BY_PSU = "revoked by the customer"
REAUTHENTICATED = "re-authenticated by the customer"
EXPIRY_PASSED = "its ExpirationDateTime passed"
CONSUMED_BY_PAYMENT = "consumed by the payment order it allowed"
REVOKED_BY_BANK = "revoked by the bank"
FILE_UPLOADED = "its payment file was uploaded"
NOT_AUTHORISED_IN_TIME = "not authorised within the bank's authorisation window"

S = ConsentStatus
TPP, PSU, SYSTEM = Actor.TPP, Actor.PSU, Actor.SYSTEM
Moves = Mapping[ConsentStatus, Mapping[ConsentStatus, frozenset[Actor]]]


@dataclass(frozen=True)
class Lifecycle:
    """The moves one consent type allows: {from: {to: actors allowed to make the move}}."""
    consent_type: ConsentType
    initial: ConsentStatus
    moves: Moves

    def can(self, current: ConsentStatus, target: ConsentStatus, actor: Actor) -> bool:
        return actor in self.moves.get(ConsentStatus(current), {}).get(ConsentStatus(target), ())

    def targets(self, current: ConsentStatus) -> frozenset[ConsentStatus]:
        return frozenset(self.moves.get(ConsentStatus(current), {}))

    def created(self, actor_id: str | None, at: datetime) -> Transition:
        return Transition(None, self.initial, TPP, actor_id, CREATED, at)

    def move(self, current: ConsentStatus, target: ConsentStatus, *, actor: Actor,
             actor_id: str | None, at: datetime, reason: str | None = None) -> Transition:
        current, target = ConsentStatus(current), ConsentStatus(target)
        if current in TERMINAL:
            raise IllegalConsentTransition(
                f"the consent is {current}, a final status: it cannot become {target}")
        if not self.can(current, target, actor):
            raise IllegalConsentTransition(
                f"a {self.consent_type} consent cannot go from {current} to {target} "
                f"by the {actor}")
        return Transition(current, target, actor, actor_id, reason, at)

    def delete_by_tpp(self, current: ConsentStatus, *, actor_id: str | None,
                      at: datetime) -> Transition:
        """The TPP's DELETE: a consent still in force is revoked; a final one stays as it is,
        and the deletion is recorded all the same."""
        current = ConsentStatus(current)
        if self.can(current, S.REVOKED, TPP):
            return Transition(current, S.REVOKED, TPP, actor_id, DELETED_BY_TPP, at)
        if current in TERMINAL:
            return Transition(current, current, TPP, actor_id, DELETED_BY_TPP, at)
        raise IllegalConsentTransition(f"a {self.consent_type} consent cannot be deleted")


def _moves(**table: dict[ConsentStatus, frozenset[Actor]]) -> Moves:
    return {ConsentStatus(k): v for k, v in table.items()}


_PSU, _SYSTEM, _TPP = frozenset({PSU}), frozenset({SYSTEM}), frozenset({TPP})
_PSU_OR_SYSTEM = frozenset({PSU, SYSTEM})

# Long-lived consents the TPP may DELETE and the customer (or the bank) may revoke at the
# bank, and that a customer may re-authenticate while Authorised (OBIE: "at any point of time").
_LONG_LIVED = _moves(
    AwaitingAuthorisation={S.AUTHORISED: _PSU, S.REJECTED: _PSU_OR_SYSTEM, S.REVOKED: _TPP,
                           S.EXPIRED: _SYSTEM},
    Authorised={S.AUTHORISED: _PSU, S.REVOKED: frozenset({TPP, PSU, SYSTEM}),
                S.EXPIRED: _SYSTEM},
)

# VRP consents (OBIE VRP profile v3.1.11, "Consent Revocation" and "Consent Re-authentication"):
# long-lived too, but access the bank revokes leaves the status unchanged (Authorised, its
# tokens revoked: a record by the system on an unchanged status), and the PISP may send the
# customer back to re-authenticate the same consent while it is Authorised and not expired.
_VRP = _moves(
    AwaitingAuthorisation=_LONG_LIVED[S.AWAITING_AUTHORISATION],
    Authorised={**_LONG_LIVED[S.AUTHORISED], S.AUTHORISED: _PSU_OR_SYSTEM},
)

# Payment-order consents: authorised once, consumed by the payment they allow.
_SINGLE_PAYMENT = _moves(
    AwaitingAuthorisation={S.AUTHORISED: _PSU, S.REJECTED: _PSU_OR_SYSTEM, S.EXPIRED: _SYSTEM},
    Authorised={S.CONSUMED: _SYSTEM, S.REJECTED: _SYSTEM, S.EXPIRED: _SYSTEM},
)

_FILE_PAYMENT = {
    S.AWAITING_UPLOAD: {S.AWAITING_AUTHORISATION: _TPP, S.REJECTED: _SYSTEM, S.EXPIRED: _SYSTEM},
    **_SINGLE_PAYMENT,
}

# Standing orders are consumed too: by the payment order that sets them up.
LIFECYCLES: dict[ConsentType, Lifecycle] = {
    ConsentType.ACCOUNT_ACCESS: Lifecycle(ConsentType.ACCOUNT_ACCESS,
                                          S.AWAITING_AUTHORISATION, _LONG_LIVED),
    ConsentType.FUNDS_CONFIRMATION: Lifecycle(ConsentType.FUNDS_CONFIRMATION,
                                              S.AWAITING_AUTHORISATION, _LONG_LIVED),
    ConsentType.DOMESTIC_VRP: Lifecycle(ConsentType.DOMESTIC_VRP,
                                        S.AWAITING_AUTHORISATION, _VRP),
    ConsentType.FILE_PAYMENT: Lifecycle(ConsentType.FILE_PAYMENT, S.AWAITING_UPLOAD,
                                        _FILE_PAYMENT),
    **{t: Lifecycle(t, S.AWAITING_AUTHORISATION, _SINGLE_PAYMENT) for t in (
        ConsentType.DOMESTIC_PAYMENT, ConsentType.DOMESTIC_SCHEDULED_PAYMENT,
        ConsentType.DOMESTIC_STANDING_ORDER, ConsentType.INTERNATIONAL_PAYMENT,
        ConsentType.INTERNATIONAL_SCHEDULED_PAYMENT,
        ConsentType.INTERNATIONAL_STANDING_ORDER)},
}


def lifecycle(consent_type: str) -> Lifecycle:
    return LIFECYCLES[ConsentType(consent_type)]


def is_expired(expiration: datetime | None, now: datetime) -> bool:
    return expiration is not None and expiration <= now


def effective_status(status: str, expiration: datetime | None, now: datetime) -> ConsentStatus:
    """The status as of `now`: a consent whose ExpirationDateTime has passed is Expired even
    before anyone records it (a final status is never overridden)."""
    status = ConsentStatus(status)
    if status in EXPIRABLE and is_expired(expiration, now):
        return ConsentStatus.EXPIRED
    return status


def authorisation_closed(data: Mapping | None, now: datetime) -> bool:
    """Whether the PISP's `Authorisation.CompletionDateTime` ("date and time by which all
    authorisation steps must be completed", OBIE PIS v3.1.11) has passed: after it the
    customer can no longer authorise the consent."""
    completion = ((data or {}).get("Authorisation") or {}).get("CompletionDateTime")
    if not isinstance(completion, str):
        return False
    try:
        return datetime.fromisoformat(completion) <= now
    except ValueError:          # refused when the consent was made; never blocks on a typo
        return False


def authorisation_overdue(status: str, created_at: datetime, now: datetime,
                          window_seconds: int) -> bool:
    """Whether a consent still awaiting its authorisation (or its file) has waited the bank's
    whole authorisation window since it was made. OBIE (knowledge base KSB32): "The ASPSP must
    mark the consent as 'Rejected' when the PSU does not complete the consent-authorisation
    flow"; the window is how long the bank waits before it concludes that."""
    return ConsentStatus(status) in AWAITING and \
        created_at + timedelta(seconds=window_seconds) <= now


def keeps_status_when_revoked(consent_type: str) -> bool:
    """Whether a revocation at the bank leaves the consent's status as it is (VRP profile:
    "the status of the domestic-vrp-consents resource must remain unchanged and the PISP must
    be allowed to request PSU to re-authenticate the same domestic-vrp-consents resource")."""
    return consent_type == ConsentType.DOMESTIC_VRP


def may_reauthenticate(consent_type: str, status: str, expiration: datetime | None,
                       now: datetime) -> bool:
    """Whether the TPP may send the customer through authorisation again for this consent:
    a VRP consent that is Authorised and not past its ValidToDateTime (VRP profile, "Consent
    Re-authentication"). Other consents are authorised once, from AwaitingAuthorisation."""
    return consent_type == ConsentType.DOMESTIC_VRP and \
        effective_status(status, expiration, now) == ConsentStatus.AUTHORISED
