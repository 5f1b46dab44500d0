"""Typed errors of the account information resources; the views render them as OB errors."""
from __future__ import annotations


class AisError(Exception):
    code = "Ais.Error"

    def __init__(self, message: str, path: str | None = None):
        super().__init__(message)
        self.message = message
        self.path = path


class ResourceNotFound(AisError):
    """An id that names nothing the TPP may know of (400 UK.OBIE.Resource.NotFound)."""
    code = "Ais.NotFound"


class OutsideTransactionPeriod(AisError):
    """A statement that is not completely inside the consent's transaction period (403)."""
    code = "Ais.OutsideTransactionPeriod"


class InvalidPageCursor(AisError):
    code = "Ais.InvalidPageCursor"
