"""The bank's foreign exchange as the PIS API reads it: the rates, quotes and FX contracts
live with the ledger (aspsp.ledger.fx), whose schedule engine converts international
scheduled payments and standing orders when it pays them."""
from __future__ import annotations

from ..ledger.fx import (ACTUAL, AGREED, BASE, CONTRACTS, INDICATIVE, QUOTE_TTL, RATES,
                         Quote, contract_rate, convert_at_execution, describe, quote,
                         quote_of, rate, supported, terms)

__all__ = ["ACTUAL", "AGREED", "BASE", "CONTRACTS", "INDICATIVE", "QUOTE_TTL", "RATES", "Quote",
           "contract_rate", "convert_at_execution", "describe", "quote", "quote_of", "rate",
           "supported", "terms"]
