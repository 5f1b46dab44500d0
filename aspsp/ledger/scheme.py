"""The outbound payment scheme (Faster Payments) behind a small interface.

Production plugs a real gateway in here; the sandbox's simulated scheme accepts every
payment except the documented magic values, so TPP developers can test rejections.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Protocol


@dataclass(frozen=True)
class SchemeSubmission:
    payment_id: str
    amount: str           # decimal string
    currency: str
    creditor: Mapping[str, Any]
    reference: str | None
    end_to_end_identification: str | None


@dataclass(frozen=True)
class SchemeResult:
    accepted: bool
    scheme_reference: str | None = None
    reason: str | None = None


class PaymentScheme(Protocol):
    name: str

    def submit(self, submission: SchemeSubmission) -> SchemeResult: ...


class SimulatedFasterPayments:
    """Settles at once. Creditor account number 99999999 is rejected by the 'receiving bank';
    the magic values are listed in README.md for sandbox users."""

    name = "simulated-faster-payments"
    REJECTED_ACCOUNT_NUMBER = "99999999"

    def submit(self, submission: SchemeSubmission) -> SchemeResult:
        identification = str(submission.creditor.get("identification", ""))
        if identification.endswith(self.REJECTED_ACCOUNT_NUMBER):
            return SchemeResult(False, reason="Beneficiary account closed (simulated rejection)")
        return SchemeResult(True, scheme_reference=f"FPS{submission.payment_id[:8].upper()}")


def scheme_from_config(config: Mapping[str, Any]) -> PaymentScheme:
    name = config.get("PAYMENT_SCHEME", "simulated")
    if name == "simulated":
        return SimulatedFasterPayments()
    raise ValueError(f"unknown PAYMENT_SCHEME {name!r}")
