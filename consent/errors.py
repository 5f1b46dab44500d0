"""Typed consent errors. Each has a stable code; the API layers map codes to their own format
(OB error bodies, RFC 6749 errors, web pages)."""
from __future__ import annotations

from dataclasses import dataclass


class ConsentError(Exception):
    code = "Consent.Error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ConsentNotFound(ConsentError):
    """Unknown, of another client or another customer, or deleted: never told apart."""
    code = "Consent.NotFound"


class ConsentOfAnotherClient(ConsentError):
    """A consent another client created (OBIE Read/Write profile: 403, "an attempt to access
    GET /domestic-payments/1001 where a payment resource with Id 1001 belongs to another TPP")."""
    code = "Consent.OfAnotherClient"


class IllegalConsentTransition(ConsentError):
    code = "Consent.IllegalTransition"


class AccountNotSelectable(ConsentError):
    """An account the customer may not share: not theirs, closed, or an internal account."""
    code = "Consent.AccountNotSelectable"


class NoAccountSelected(ConsentError):
    code = "Consent.NoAccountSelected"


class AuthorisationClosed(ConsentError):
    """The PISP's Authorisation.CompletionDateTime has passed: too late to authorise."""
    code = "Consent.AuthorisationClosed"


class WrongCustomer(ConsentError):
    """A re-authentication by another customer than the one who authorised the consent."""
    code = "Consent.WrongCustomer"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a consent request. `kind`: invalid, missing, expected, date."""
    kind: str
    path: str
    message: str


class InvalidConsentRequest(ConsentError):
    """Every problem found in a consent request, not only the first."""
    code = "Consent.InvalidRequest"

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = list(problems)
