"""Small builders for test data, through the same services the product uses."""
from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

from aspsp.ids import new_id
from aspsp.ledger import models, services
from aspsp.ledger.domain import AccountStatus
from aspsp.ledger.money import Money

_numbers = itertools.count(10_000_000)


def party(uow, name: str = "Test Customer", *, now) -> models.Party:
    p = models.Party(party_id=new_id(), party_number=str(next(_numbers)), party_type="Sole",
                     kind="person", name=name, full_legal_name=name,
                     legal_structure="UK.OBIE.Individual", addresses=[], created_at=now)
    uow.session.add(p)
    return p


def account(uow, *, now, owner: models.Party | None = None, currency: str = "GBP",
            credit_limit: str = "0", funded: str | None = None,
            status: str = AccountStatus.ENABLED, sub_type: str = "CurrentAccount",
            name: str | None = None) -> models.Account:
    """A customer account; `funded` credits it from the bank's capital account."""
    owner = owner or party(uow, now=now)
    services.ensure_internal_accounts(uow, currency, now=now)
    number = str(next(_numbers)).zfill(8)
    acct = services.open_account(uow, services.NewAccount(
        currency=currency, name=name or owner.name, account_type="Personal",
        account_sub_type=sub_type, sort_code="401234", account_number=number,
        opening_date=date(2020, 1, 1), credit_limit=Decimal(credit_limit),
        credit_line_type="Pre-Agreed" if Decimal(credit_limit) else None),
        [(owner, "UK.OBIE.Principal")], now=now)
    if funded:
        fund(uow, acct.account_id, funded, now=now)
    if status != AccountStatus.ENABLED:
        services.set_account_status(uow, acct.account_id, status, now=now)
    return acct


def fund(uow, account_id: str, amount: str, *, now, currency: str = "GBP"):
    capital = services.internal_account_id(uow, services.BANK_CAPITAL, currency)
    return services.post_entry(uow, services.transfer_lines(
        capital, account_id, Money.of(amount, currency)), kind="funding", now=now)
