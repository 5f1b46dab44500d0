"""Typed errors of the VRP resources beyond those of payment initiation (aspsp.pis.errors:
InvalidPaymentRequest, PaymentOrderNotFound, WrongConsent, DebtorNotPermitted, which the VRP
views render the same way)."""
from __future__ import annotations

from aspsp.pis.errors import PisError


class LimitExceeded(PisError):
    """The VRP breaks a control parameter of its consent (400
    UK.OBIE.Rules.FailsControlParameters, Path the control parameter)."""
    code = "Vrp.FailsControlParameters"
