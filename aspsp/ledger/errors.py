"""Typed ledger errors. Each has a stable code; API layers map codes to their own error format."""
from __future__ import annotations


class LedgerError(Exception):
    code = "Ledger.Error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidAmount(LedgerError):
    code = "Ledger.InvalidAmount"


class UnknownCurrency(LedgerError):
    code = "Ledger.UnknownCurrency"


class CurrencyMismatch(LedgerError):
    code = "Ledger.CurrencyMismatch"


class UnbalancedEntry(LedgerError):
    code = "Ledger.UnbalancedEntry"


class AccountNotFound(LedgerError):
    code = "Ledger.AccountNotFound"


class AccountNotActive(LedgerError):
    code = "Ledger.AccountNotActive"


class InsufficientFunds(LedgerError):
    code = "Ledger.InsufficientFunds"


class SameAccount(LedgerError):
    code = "Ledger.SameAccount"


class AlreadyReversed(LedgerError):
    code = "Ledger.AlreadyReversed"


class EntryNotFound(LedgerError):
    code = "Ledger.EntryNotFound"


class InvalidCounterparty(LedgerError):
    code = "Ledger.InvalidCounterparty"


class IllegalPaymentTransition(LedgerError):
    code = "Ledger.IllegalPaymentTransition"
