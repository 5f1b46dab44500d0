"""Typed errors of the confirmation of funds resources; the views render them as OB errors."""
from __future__ import annotations

from .domain import Problem


class CofError(Exception):
    code = "Cof.Error"

    def __init__(self, message: str, path: str | None = None):
        super().__init__(message)
        self.message = message
        self.path = path


class InvalidRequest(CofError):
    """Every problem of a request (400, each with the OB code of its kind)."""
    code = "Cof.InvalidRequest"

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = list(problems)


class WrongConsent(CofError):
    """The ConsentId of the request is not the consent of the access token (400
    UK.OBIE.Resource.ConsentMismatch)."""
    code = "Cof.WrongConsent"


class AccountNotPermitted(CofError):
    """The consent's account is no longer held by the customer who approved it (403)."""
    code = "Cof.AccountNotPermitted"


class AccountNotEnabled(CofError):
    """The consent's account is disabled or closed: nothing can be confirmed on it (403)."""
    code = "Cof.AccountNotEnabled"


class DuplicateReference(CofError):
    """The CBPII used this Reference before under the same consent (400
    UK.OBIE.Rules.DuplicateReference)."""
    code = "Cof.DuplicateReference"
