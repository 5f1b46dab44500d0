"""Typed errors of the payment initiation resources; the views render them as OB errors."""
from __future__ import annotations

from .domain import Problem


class PisError(Exception):
    code = "Pis.Error"

    def __init__(self, message: str, path: str | None = None):
        super().__init__(message)
        self.message = message
        self.path = path


class InvalidPaymentRequest(PisError):
    """Every problem found in a consent request or a submission (400, one item each)."""
    code = "Pis.InvalidRequest"

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = list(problems)


class PaymentOrderNotFound(PisError):
    """Unknown, or another client's: never told apart (400 UK.OBIE.Resource.NotFound)."""
    code = "Pis.NotFound"


class PaymentOfAnotherClient(PisError):
    """A payment resource another client created (403, as the OBIE Read/Write profile says
    of "GET /domestic-payments/1001 where ... 1001 belongs to another TPP")."""
    code = "Pis.PaymentOfAnotherClient"


class ConsentNotUsable(PisError):
    """The consent is not Authorised (any more): consumed by an earlier submission,
    rejected, expired (400 UK.OBIE.Resource.InvalidConsentStatus, as the gate answers)."""
    code = "Pis.ConsentNotUsable"


class WrongConsent(PisError):
    """The request names another consent than the token's (400 ConsentMismatch: OBIE's
    payment-order and consent mismatch)."""
    code = "Pis.WrongConsent"


class ConsentOfAnotherType(WrongConsent):
    """The token's consent is not of the resource's type (403 ConsentMismatch, as the gate
    answers a token of another type of consent: the token does not open this API)."""
    code = "Pis.ConsentOfAnotherType"


class DebtorNotPermitted(PisError):
    """The debtor account is not one the customer holds and chose (403)."""
    code = "Pis.DebtorNotPermitted"
