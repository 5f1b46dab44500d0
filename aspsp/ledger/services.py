"""Ledger use cases. Each takes a unit of work, does one thing, and leaves the commit to the
caller's `uow.commit()` (so a use case composes into a bigger one). Money moves in one
transaction or not at all."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from decimal import Decimal
from typing import Any

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from .. import audit
from ..db import UnitOfWork
from ..ids import new_id
from . import dispatch, models
from .domain import (AccountKind, AccountRules, AccountStatus, BalanceSnapshot, PaymentStatus,
                     PostingLine, PostingStatus, next_payment_status, reversal_lines,
                     transfer_lines, validate_entry)
from .errors import AlreadyReversed, InvalidAmount, InvalidCounterparty, LedgerError
from .money import Money, minor_units
from .repository import LedgerRepository
from .scheme import SchemeResult, SchemeSubmission

BANK_CODE = "INVB"          # the first four letters of our BIC, used in our IBANs
BANK_BIC = "INVBGB2LXXX"

# The bank's own accounts, one of each per currency, named by internal code.
FPS_CLEARING = "FPS-CLEARING"          # outbound/inbound Faster Payments in flight
SETTLEMENT = "SETTLEMENT"              # the bank's reserve account at the central bank
CARD_SETTLEMENT = "CARD-SETTLEMENT"    # card scheme settlement
BACS_CLEARING = "BACS-CLEARING"        # direct debits
BANK_CAPITAL = "BANK-CAPITAL"          # equity, the other side of opening balances
INTERNAL_CODES = (FPS_CLEARING, SETTLEMENT, CARD_SETTLEMENT, BACS_CLEARING, BANK_CAPITAL)


def to_minor(money: Money) -> int:
    return int(money.amount.scaleb(minor_units(money.currency)))


def from_minor(value: int, currency: str) -> Money:
    return Money.of(Decimal(value).scaleb(-minor_units(currency)), currency)


def rules_of(account: models.Account) -> AccountRules:
    return AccountRules(account_id=account.account_id, currency=account.currency,
                        status=AccountStatus(account.status), kind=AccountKind(account.kind),
                        credit_limit=from_minor(account.credit_limit_minor, account.currency).amount)


def snapshot_of(account: models.Account) -> BalanceSnapshot:
    scale = minor_units(account.currency)
    return BalanceSnapshot(account.currency,
                           Decimal(account.booked_minor).scaleb(-scale),
                           Decimal(account.pending_debits_minor).scaleb(-scale),
                           Decimal(account.pending_credits_minor).scaleb(-scale))


def _store_snapshot(account: models.Account, snapshot: BalanceSnapshot) -> None:
    scale = minor_units(account.currency)
    account.booked_minor = int(snapshot.booked.scaleb(scale))
    account.pending_debits_minor = int(snapshot.pending_debits.scaleb(scale))
    account.pending_credits_minor = int(snapshot.pending_credits.scaleb(scale))


def gb_iban(sort_code: str, account_number: str) -> str:
    return str(IBAN.generate("GB", bank_code=BANK_CODE + sort_code, account_code=account_number))


# accounts -------------------------------------------------------------------------------
@dataclass(frozen=True)
class NewAccount:
    currency: str
    name: str
    account_type: str
    account_sub_type: str
    sort_code: str
    account_number: str
    opening_date: date
    nickname: str | None = None
    description: str | None = None
    credit_limit: Decimal = Decimal(0)
    credit_line_type: str | None = None
    status: str = AccountStatus.ENABLED
    pan: str | None = None


def open_account(uow: UnitOfWork, spec: NewAccount, holders: list[tuple[models.Party, str]],
                 *, now: datetime, product: models.Product | None = None,
                 rng: random.Random | None = None) -> models.Account:
    if not (spec.sort_code.isdigit() and len(spec.sort_code) == 6
            and spec.account_number.isdigit() and len(spec.account_number) == 8):
        raise InvalidCounterparty("a UK account needs a 6-digit sort code and 8-digit number")
    limit = Money.of(spec.credit_limit, spec.currency)
    if limit.amount < 0:
        raise InvalidAmount("a credit limit cannot be negative")
    account = models.Account(
        account_id=new_id(rng), kind=AccountKind.CUSTOMER, status=AccountStatus(spec.status),
        status_updated_at=now, currency=spec.currency, account_type=spec.account_type,
        account_sub_type=spec.account_sub_type, name=spec.name, nickname=spec.nickname,
        description=spec.description, opening_date=spec.opening_date,
        sort_code=spec.sort_code, account_number=spec.account_number,
        iban=gb_iban(spec.sort_code, spec.account_number), servicer_bic=BANK_BIC, pan=spec.pan,
        credit_limit_minor=to_minor(limit), credit_line_type=spec.credit_line_type,
        product=product, created_at=now)
    for position, (party, role) in enumerate(holders):
        account.holders.append(models.AccountParty(party=party, account_role=role,
                                                   position=position))
    uow.session.add(account)
    uow.session.flush()
    return account


def ensure_internal_accounts(uow: UnitOfWork, currency: str, *, now: datetime,
                             rng: random.Random | None = None) -> None:
    repo = LedgerRepository(uow.session)
    for code in INTERNAL_CODES:
        internal_code = f"{code}-{currency}"
        if repo.internal_account(internal_code) is None:
            repo.add(models.Account(
                account_id=new_id(rng), kind=AccountKind.INTERNAL, internal_code=internal_code,
                status=AccountStatus.ENABLED, status_updated_at=now, currency=currency,
                name=internal_code.replace("-", " ").title(), opening_date=now.date(),
                created_at=now))
    repo.flush()


def internal_account_id(uow: UnitOfWork, code: str, currency: str) -> str:
    account = LedgerRepository(uow.session).internal_account(f"{code}-{currency}")
    if account is None:
        raise LedgerError(f"internal account {code}-{currency} is not set up")
    return account.account_id


OUT_OF_SERVICE = frozenset({AccountStatus.DISABLED, AccountStatus.DELETED})


def set_account_status(uow: UnitOfWork, account_id: str, status: str, *, now: datetime,
                       reason: str | None = None) -> None:
    """The account's status from now on. An Enabled account that becomes Disabled or Deleted
    leaves service: the out-of-service listeners run in this unit of work (the consent
    context tells each TPP whose authorised account-access consent covered it, with
    account-access-consent-linked-account-update), whoever closes it: the operator's
    `flask ledger close-account`, the sandbox, a test. `reason`: "closure" (the default) or
    "cass" (switched to another bank)."""
    account = LedgerRepository(uow.session).account(account_id, lock=True)
    was = account.status
    account.status = AccountStatus(status)
    account.status_updated_at = now
    if was == AccountStatus.ENABLED and account.status in OUT_OF_SERVICE:
        dispatch.account_out_of_service(uow, account.id, now, reason or "closure")


# the journal ----------------------------------------------------------------------------
def post_entry(uow: UnitOfWork, lines: list[PostingLine], *, kind: str, now: datetime,
               description: str | None = None, status: PostingStatus = PostingStatus.BOOKED,
               booking_datetime: datetime | None = None, value_datetime: datetime | None = None,
               reverses: models.JournalEntry | None = None,
               rng: random.Random | None = None) -> models.JournalEntry:
    """The one way money moves: a balanced entry whose accounts are open, in its currency,
    and (for debits of customer accounts) able to pay within their limit."""
    lines = validate_entry(lines)
    repo = LedgerRepository(uow.session)
    accounts = repo.accounts_for_posting(line.account_id for line in lines)
    snapshots: dict[str, BalanceSnapshot] = {}
    for account_id, account in accounts.items():
        rules = rules_of(account)
        rules.ensure_can_post()
        net_debit = Money.zero(account.currency)
        for line in lines:
            if line.account_id == account_id:
                rules.ensure_currency(line.amount)
                if line.amount.amount < 0:
                    net_debit = net_debit - line.amount
        if account.kind == AccountKind.CUSTOMER:
            snapshots[account_id] = snapshot_of(account)
            if net_debit.is_positive:
                rules.ensure_affordable(snapshots[account_id].interim_available, net_debit)

    booked_at = booking_datetime or now
    entry = models.JournalEntry(entry_id=new_id(rng), kind=kind, description=description,
                                created_at=now, reverses_pk=reverses.id if reverses else None)
    for line in lines:
        account = accounts[line.account_id]
        posting = models.Posting(
            transaction_id=new_id(rng), account_pk=account.id, amount_minor=to_minor(line.amount),
            currency=line.amount.currency, status=status, booking_datetime=booked_at,
            value_datetime=value_datetime or booked_at, **dict(line.details))
        if line.account_id in snapshots:
            snapshot = snapshots[line.account_id].apply(line.amount.amount, status)
            snapshots[line.account_id] = snapshot
            _store_snapshot(account, snapshot)
            if status == PostingStatus.BOOKED:
                posting.balance_after_minor = account.booked_minor
        entry.postings.append(posting)
    repo.add(entry)
    repo.flush()
    repo.count_postings(_count_changes(entry.postings, accounts.values()))
    return entry


def _count_changes(postings, accounts, sign: int = 1) -> list[tuple[int, date, int, int]]:
    """The day-count changes of `postings` on the customer accounts among `accounts`."""
    customers = {a.id for a in accounts if a.kind == AccountKind.CUSTOMER}
    return [(p.account_pk, p.booking_datetime.astimezone(timezone.utc).date(),
             sign * (p.amount_minor > 0),
             sign * (p.amount_minor < 0)) for p in postings if p.account_pk in customers]


def book_pending(uow: UnitOfWork, entry: models.JournalEntry, *, now: datetime) -> None:
    """Pending postings of `entry` become booked (the only change a posting ever sees)."""
    repo = LedgerRepository(uow.session)
    pending = [p for p in entry.postings if p.status == PostingStatus.PENDING]
    accounts = repo.accounts_for_posting(repo.account_by_pk(p.account_pk).account_id
                                         for p in pending)
    by_pk = {a.id: a for a in accounts.values()}
    moved = _count_changes(pending, by_pk.values(), sign=-1)   # off their pending day...
    for posting in pending:
        account = by_pk[posting.account_pk]
        posting.status = PostingStatus.BOOKED
        posting.booking_datetime = now
        if account.kind == AccountKind.CUSTOMER:
            amount = Decimal(posting.amount_minor).scaleb(-minor_units(posting.currency))
            _store_snapshot(account, snapshot_of(account).book_pending(amount))
            posting.balance_after_minor = account.booked_minor
    repo.flush()
    repo.count_postings(moved + _count_changes(pending, by_pk.values()))  # ...onto today


def lines_of(entry: models.JournalEntry) -> list[PostingLine]:
    return [PostingLine(p.account.account_id, from_minor(p.amount_minor, p.currency),
                        _details_of(p)) for p in entry.postings]


_DETAIL_FIELDS = ("transaction_reference", "statement_reference", "transaction_information",
                  "iso_code", "iso_subcode", "proprietary_code", "proprietary_issuer",
                  "merchant_name", "merchant_category_code", "counterparty", "card_instrument")


def _details_of(posting: models.Posting) -> dict[str, Any]:
    return {f: getattr(posting, f) for f in _DETAIL_FIELDS if getattr(posting, f) is not None}


def reverse_entry(uow: UnitOfWork, entry_id: str, *, reason: str, now: datetime,
                  rng: random.Random | None = None) -> models.JournalEntry:
    """A correction: a new booked entry with every posting negated. Once per entry."""
    repo = LedgerRepository(uow.session)
    original = repo.entry(entry_id, lock=True)  # two reversals at once: the second waits
    if original.reverses_pk is not None:
        raise AlreadyReversed(f"entry {entry_id} is itself a reversal")
    if repo.reversal_of(original) is not None:
        raise AlreadyReversed(f"entry {entry_id} has already been reversed")
    if any(p.status != PostingStatus.BOOKED for p in original.postings):
        raise LedgerError(f"entry {entry_id} has pending postings; it cannot be reversed yet")
    lines = reversal_lines(lines_of(original))
    lines = [PostingLine(l.account_id, l.amount,
                         {**l.details, "transaction_information": f"Reversal: {reason}"[:500]})
             for l in lines]
    return post_entry(uow, lines, kind="reversal", now=now, description=reason,
                      reverses=original, rng=rng)


# payments -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Creditor:
    name: str
    scheme: str            # UK.OBIE.SortCodeAccountNumber or UK.OBIE.IBAN
    identification: str

    def validated(self) -> "Creditor":
        ident = self.identification.replace(" ", "")
        if not self.name.strip():
            raise InvalidCounterparty("the creditor needs a name")
        if self.scheme == "UK.OBIE.SortCodeAccountNumber":
            if not (ident.isdigit() and len(ident) == 14):
                raise InvalidCounterparty("a sort code and account number is 14 digits")
        elif self.scheme == "UK.OBIE.IBAN":
            try:
                ident = str(IBAN(ident))
            except SchwiftyException as exc:
                raise InvalidCounterparty(f"invalid IBAN: {exc}") from None
        else:
            raise InvalidCounterparty(f"unsupported account scheme {self.scheme}")
        return Creditor(self.name.strip(), self.scheme, ident)

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "scheme": self.scheme, "identification": self.identification}


def _record_status(payment: models.Payment, status: PaymentStatus, now: datetime,
                   reason: str | None = None) -> None:
    payment.status = next_payment_status(PaymentStatus(payment.status), status) \
        if payment.status else status
    payment.status_updated_at = now
    payment.status_history = [*payment.status_history,
                              {"status": str(status), "at": now.isoformat(), "reason": reason}]


def _new_payment(kind: str, debtor: models.Account, amount: Money, creditor: Creditor,
                 reference: str | None, end_to_end: str | None, now: datetime,
                 rng: random.Random | None) -> models.Payment:
    payment = models.Payment(payment_id=new_id(rng), kind=kind, status=None, status_history=[],
                             debtor_account_pk=debtor.id, creditor=creditor.as_dict(),
                             amount_minor=to_minor(amount), currency=amount.currency,
                             reference=reference, end_to_end_identification=end_to_end,
                             created_at=now, status_updated_at=now)
    _record_status(payment, PaymentStatus.PENDING, now)
    return payment


def _payment_details(debtor: models.Account, creditor: Creditor, reference: str | None,
                     outgoing: bool) -> dict[str, Any]:
    if outgoing:
        return {"transaction_reference": reference, "transaction_information": creditor.name,
                "iso_code": "IssuedCreditTransfers", "iso_subcode": "DomesticCreditTransfer",
                "proprietary_code": "FPS", "proprietary_issuer": "InvisibleBank",
                "counterparty": {"CreditorAccount": {"SchemeName": creditor.scheme,
                                                     "Identification": creditor.identification,
                                                     "Name": creditor.name}}}
    return {"transaction_reference": reference, "transaction_information": debtor.name,
            "iso_code": "ReceivedCreditTransfers", "iso_subcode": "DomesticCreditTransfer",
            "proprietary_code": "FPS", "proprietary_issuer": "InvisibleBank",
            "counterparty": {"DebtorAccount": {"SchemeName": "UK.OBIE.SortCodeAccountNumber",
                                               "Identification": f"{debtor.sort_code}{debtor.account_number}",
                                               "Name": debtor.name}}}


def _resolve_on_us(repo: LedgerRepository, creditor: Creditor) -> models.Account | None:
    if creditor.scheme == "UK.OBIE.SortCodeAccountNumber":
        return repo.account_by_sort_code(creditor.identification[:6], creditor.identification[6:])
    return repo.account_by_iban(creditor.identification)


def pay(uow: UnitOfWork, *, debtor_account_id: str, creditor: Creditor, amount: Money,
        now: datetime, reference: str | None = None, end_to_end_identification: str | None = None,
        rng: random.Random | None = None) -> models.Payment:
    """Pay a creditor from a customer account. To one of our own accounts it is an internal
    transfer, booked at once; elsewhere it goes out through Faster Payments: the debit is
    pending until the settlement task books it.

    One SELECT ... FOR UPDATE finds and row-locks (in id order) the debtor's account and
    the payee's if it is ours, and names the clearing account; then the statements of
    `transfer` (internal) or their like (outbound: the entry, its two pending postings, the
    debtor's balance, its day count, the payment). The rules are post_entry's; anything
    out of the ordinary (an unknown, internal or other-currency debtor, paying the same
    account, no clearing account) goes the general way, which says what is wrong exactly
    as before."""
    if not amount.is_positive:
        raise InvalidAmount(f"a payment amount must be positive, not {amount}")
    creditor = creditor.validated()
    repo = LedgerRepository(uow.session)
    rows = repo.lock_payment_parties(debtor_account_id, creditor.scheme,
                                     creditor.identification,
                                     f"{FPS_CLEARING}-{amount.currency}", amount.currency)
    debtor = next((r for r in rows if r.account_id == debtor_account_id), None)
    payees = [r for r in rows if _is_payee(r, creditor)]
    if debtor is None or debtor.currency != amount.currency or len(payees) > 1 \
            or debtor in payees or (not payees and debtor.clearing is None):
        return _pay_through_entry(uow, debtor_account_id=debtor_account_id,
                                  creditor=creditor, amount=amount, now=now,
                                  reference=reference,
                                  end_to_end_identification=end_to_end_identification,
                                  rng=rng)
    if payees:
        return _transfer_locked(repo, debtor, payees[0], amount, now=now, reference=reference,
                                end_to_end_identification=end_to_end_identification,
                                creditor=creditor, rng=rng)
    return _pay_out_locked(uow, repo, debtor, creditor, amount, now=now, reference=reference,
                           end_to_end_identification=end_to_end_identification, rng=rng)


def _is_payee(row, creditor: Creditor) -> bool:
    if creditor.scheme == "UK.OBIE.IBAN":
        return row.iban == creditor.identification
    return f"{row.sort_code}{row.account_number}" == creditor.identification


def _pay_out_locked(uow: UnitOfWork, repo: LedgerRepository, debtor, creditor: Creditor,
                    amount: Money, *, now: datetime, reference: str | None,
                    end_to_end_identification: str | None,
                    rng: random.Random | None) -> models.Payment:
    """An outbound payment from a locked debtor row (in the amount's currency) to the
    clearing account `debtor.clearing`: the debit and the clearing's credit pending, the
    debtor's pending debits and day count kept, the payment in process, its settlement
    sent after the commit."""
    rules = rules_of(debtor)
    rules.ensure_can_post()
    snapshot = snapshot_of(debtor)
    rules.ensure_affordable(snapshot.interim_available, amount)
    snapshot = snapshot.apply(-amount.amount, PostingStatus.PENDING)
    scale = minor_units(amount.currency)
    entry_id = new_id(rng)
    details = _payment_details(debtor, creditor, reference, True)
    postings = [_posting_values(debtor.id, -amount, PostingStatus.PENDING, now, details, None,
                                rng),
                _posting_values(debtor.clearing, amount, PostingStatus.PENDING, now, {}, None,
                                rng)]
    entry_pk = repo.insert_entry({"entry_id": entry_id, "kind": "outbound-payment",
                                  "description": f"Faster Payment to {creditor.name}",
                                  "created_at": now, "reverses_pk": None}, postings)
    repo.store_balances({debtor.id: (int(snapshot.booked.scaleb(scale)),
                                     int(snapshot.pending_debits.scaleb(scale)),
                                     int(snapshot.pending_credits.scaleb(scale)))})
    repo.count_postings([(debtor.id, now.astimezone(timezone.utc).date(), 0, 1)])
    payment = _new_payment("outbound", debtor, amount, creditor, reference,
                           end_to_end_identification, now, rng)
    payment.entry_pk = entry_pk
    _record_status(payment, PaymentStatus.ACCEPTED_SETTLEMENT_IN_PROCESS, now)
    repo.insert_payment(payment)
    dispatch.after_commit(uow, dispatch.SETTLE_PAYMENT, payment.payment_id)
    return payment


def _posting_values(account_pk: int, amount: Money, status: PostingStatus, now: datetime,
                    details: dict[str, Any], balance_after: int | None,
                    rng: random.Random | None) -> dict[str, Any]:
    """The columns of a new posting (every detail column named: one statement shape)."""
    return {**dict.fromkeys(_DETAIL_FIELDS), **details, "transaction_id": new_id(rng),
            "account_pk": account_pk, "amount_minor": to_minor(amount),
            "currency": amount.currency, "status": status, "booking_datetime": now,
            "value_datetime": now, "balance_after_minor": balance_after}


def _pay_through_entry(uow: UnitOfWork, *, debtor_account_id: str, creditor: Creditor,
                       amount: Money, now: datetime, reference: str | None,
                       end_to_end_identification: str | None,
                       rng: random.Random | None) -> models.Payment:
    """`pay` the general way (post_entry), for the cases its lean path leaves: each
    refusal is the one it always was."""
    repo = LedgerRepository(uow.session)
    debtor = repo.account(debtor_account_id)
    if debtor.kind != AccountKind.CUSTOMER:
        raise InvalidCounterparty("payments are made from customer accounts")
    rules_of(debtor).ensure_currency(amount)  # before looking for a clearing account in it
    on_us = _resolve_on_us(repo, creditor)
    if on_us is not None:
        return transfer(uow, debtor_account_id=debtor_account_id,
                        creditor_account_id=on_us.account_id, amount=amount, now=now,
                        reference=reference, end_to_end_identification=end_to_end_identification,
                        creditor=creditor, rng=rng)
    clearing = internal_account_id(uow, FPS_CLEARING, amount.currency)
    entry = post_entry(uow, transfer_lines(debtor_account_id, clearing, amount,
                                           _payment_details(debtor, creditor, reference, True)),
                       kind="outbound-payment", now=now, status=PostingStatus.PENDING,
                       description=f"Faster Payment to {creditor.name}", rng=rng)
    payment = _new_payment("outbound", debtor, amount, creditor, reference,
                           end_to_end_identification, now, rng)
    payment.entry_pk = entry.id
    _record_status(payment, PaymentStatus.ACCEPTED_SETTLEMENT_IN_PROCESS, now)
    repo.add(payment)
    repo.flush()
    dispatch.after_commit(uow, dispatch.SETTLE_PAYMENT, payment.payment_id)
    return payment


def transfer(uow: UnitOfWork, *, debtor_account_id: str, creditor_account_id: str,
             amount: Money, now: datetime, reference: str | None = None,
             end_to_end_identification: str | None = None, creditor: Creditor | None = None,
             rng: random.Random | None = None) -> models.Payment:
    """Move money between two of our customers' accounts: one entry, booked at once.

    Six statements: the two accounts read and row-locked in id order in one SELECT ... FOR
    UPDATE, the entry INSERT ... RETURNING, its two postings in one INSERT, both cached
    balances in one UPDATE, the day counts in one upsert, the payment INSERT ... RETURNING.
    The rules are post_entry's (both accounts open and in the amount's currency, the debtor
    able to pay within its limit, the entry balanced); anything else (an unknown or internal
    account, the same account twice) goes through post_entry itself, which says what is
    wrong exactly as before."""
    repo = LedgerRepository(uow.session)
    locked = repo.lock_customer_accounts([debtor_account_id, creditor_account_id])
    if debtor_account_id == creditor_account_id or len(locked) != 2:
        return _transfer_through_entry(uow, debtor_account_id=debtor_account_id,
                                       creditor_account_id=creditor_account_id, amount=amount,
                                       now=now, reference=reference,
                                       end_to_end_identification=end_to_end_identification,
                                       creditor=creditor, rng=rng)
    return _transfer_locked(repo, locked[debtor_account_id], locked[creditor_account_id],
                            amount, now=now, reference=reference,
                            end_to_end_identification=end_to_end_identification,
                            creditor=creditor, rng=rng)


def _transfer_locked(repo: LedgerRepository, debtor, credit_account, amount: Money, *,
                     now: datetime, reference: str | None,
                     end_to_end_identification: str | None, creditor: Creditor | None,
                     rng: random.Random | None) -> models.Payment:
    """`transfer` between two distinct customer account rows locked in id order."""
    locked = {debtor.account_id: debtor, credit_account.account_id: credit_account}
    creditor = creditor or Creditor(credit_account.name, "UK.OBIE.SortCodeAccountNumber",
                                    f"{credit_account.sort_code}{credit_account.account_number}")
    lines = transfer_lines(debtor.account_id, credit_account.account_id, amount,
                           _payment_details(debtor, creditor, reference, True),
                           _payment_details(debtor, creditor, reference, False))
    for account in sorted(locked.values(), key=lambda a: a.id):
        rules = rules_of(account)
        rules.ensure_can_post()
        rules.ensure_currency(amount)
    rules_of(debtor).ensure_affordable(snapshot_of(debtor).interim_available, amount)

    entry_id = new_id(rng)
    balances: dict[int, tuple[int, int, int]] = {}
    postings = []
    for line in lines:
        account = locked[line.account_id]
        snapshot = snapshot_of(account).apply(line.amount.amount, PostingStatus.BOOKED)
        scale = minor_units(account.currency)
        balances[account.id] = (int(snapshot.booked.scaleb(scale)),
                                int(snapshot.pending_debits.scaleb(scale)),
                                int(snapshot.pending_credits.scaleb(scale)))
        postings.append(_posting_values(account.id, line.amount, PostingStatus.BOOKED, now,
                                        dict(line.details), balances[account.id][0], rng))
    entry_pk = repo.insert_entry({"entry_id": entry_id, "kind": "internal-transfer",
                                  "description": f"Transfer to {creditor.name}",
                                  "created_at": now, "reverses_pk": None}, postings)
    repo.store_balances(balances)
    day = now.astimezone(timezone.utc).date()
    repo.count_postings((p["account_pk"], day, int(p["amount_minor"] > 0),
                         int(p["amount_minor"] < 0)) for p in postings)
    payment = _new_payment("internal", debtor, amount, creditor, reference,
                           end_to_end_identification, now, rng)
    payment.creditor_account_pk = credit_account.id
    payment.entry_pk = entry_pk
    _record_status(payment, PaymentStatus.ACCEPTED_SETTLEMENT_IN_PROCESS, now)
    _record_status(payment, PaymentStatus.ACCEPTED_SETTLEMENT_COMPLETED, now)
    return repo.insert_payment(payment)


def _transfer_through_entry(uow: UnitOfWork, *, debtor_account_id: str,
                            creditor_account_id: str, amount: Money, now: datetime,
                            reference: str | None, end_to_end_identification: str | None,
                            creditor: Creditor | None,
                            rng: random.Random | None) -> models.Payment:
    repo = LedgerRepository(uow.session)
    debtor = repo.account(debtor_account_id)
    credit_account = repo.account(creditor_account_id)
    creditor = creditor or Creditor(credit_account.name, "UK.OBIE.SortCodeAccountNumber",
                                    f"{credit_account.sort_code}{credit_account.account_number}")
    entry = post_entry(uow, transfer_lines(
        debtor_account_id, creditor_account_id, amount,
        _payment_details(debtor, creditor, reference, True),
        _payment_details(debtor, creditor, reference, False)),
        kind="internal-transfer", now=now, description=f"Transfer to {creditor.name}", rng=rng)
    payment = _new_payment("internal", debtor, amount, creditor, reference,
                           end_to_end_identification, now, rng)
    payment.creditor_account_pk = credit_account.id
    payment.entry_pk = entry.id
    _record_status(payment, PaymentStatus.ACCEPTED_SETTLEMENT_IN_PROCESS, now)
    _record_status(payment, PaymentStatus.ACCEPTED_SETTLEMENT_COMPLETED, now)
    repo.add(payment)
    repo.flush()
    return payment


def settlement_submission(uow: UnitOfWork, payment_id: str) -> SchemeSubmission | None:
    """What the scheme is sent for an outbound payment in process; None when it is no longer
    in process. The settlement task calls the scheme between two units of work, never inside
    one: the scheme is another system (its call may take long, and its own record is written
    in its own transaction, which on SQLite could not start while ours held the write
    lock). The scheme pays the payment's id once, so sending it again is harmless."""
    payment = LedgerRepository(uow.session).payment_to_submit(payment_id)
    if payment is None or payment.status != PaymentStatus.ACCEPTED_SETTLEMENT_IN_PROCESS:
        return None
    amount = from_minor(payment.amount_minor, payment.currency)
    return SchemeSubmission(
        payment_id=payment.payment_id, amount=str(amount.amount), currency=amount.currency,
        creditor=payment.creditor, reference=payment.reference,
        end_to_end_identification=payment.end_to_end_identification)


def book_settlement(uow: UnitOfWork, payment_id: str, result: SchemeResult, *,
                    now: datetime) -> models.Payment | None:
    """Book the scheme's outcome of an outbound payment: the pending debit booked, then the
    clearing account settled (accepted) or the debit reversed (rejected). Idempotent: a
    payment that is no longer in process (booked by an earlier delivery of the task) is left
    as it is."""
    repo = LedgerRepository(uow.session)
    payment = repo.payment(payment_id, lock=True)
    if payment is None or payment.status != PaymentStatus.ACCEPTED_SETTLEMENT_IN_PROCESS:
        return payment
    amount = from_minor(payment.amount_minor, payment.currency)
    if result.accepted:
        rows = repo.lock_pending_customer_postings(
            payment.entry_pk, f"{FPS_CLEARING}-{amount.currency}",
            f"{SETTLEMENT}-{amount.currency}", amount.currency)
        if len(rows) == 1 and rows[0].clearing is not None and rows[0].settlement is not None:
            _book_accepted(repo, payment, rows[0], result, amount, now)
            _audit_settlement(uow, payment, now)
            dispatch.settled(uow, payment, now)
            return payment
    entry = uow.session.get(models.JournalEntry, payment.entry_pk)
    book_pending(uow, entry, now=now)
    if result.accepted:
        clearing = internal_account_id(uow, FPS_CLEARING, amount.currency)
        settlement = internal_account_id(uow, SETTLEMENT, amount.currency)
        post_entry(uow, transfer_lines(clearing, settlement, amount,
                                       {"transaction_reference": result.scheme_reference},
                                       {"transaction_reference": result.scheme_reference}),
                   kind="scheme-settlement", now=now,
                   description=f"Faster Payments settlement {result.scheme_reference}")
        payment.scheme_reference = result.scheme_reference
        _record_status(payment, PaymentStatus.ACCEPTED_SETTLEMENT_COMPLETED, now)
    else:
        reverse_entry(uow, entry.entry_id, reason=result.reason or "rejected by the scheme",
                      now=now)
        payment.rejection_reason = result.reason
        _record_status(payment, PaymentStatus.REJECTED, now, result.reason)
    repo.flush()
    _audit_settlement(uow, payment, now)
    dispatch.settled(uow, payment, now)
    return payment


def _audit_settlement(uow: UnitOfWork, payment: models.Payment, now: datetime) -> None:
    """The scheme's outcome of an outbound payment, in the audit trail."""
    audit.record(uow, "payment.settled", audit.Actor.system("settlement"), now=now,
                 subject=payment.payment_id,
                 facts={"status": str(payment.status), "reason": payment.rejection_reason,
                        "amount": str(from_minor(payment.amount_minor, payment.currency).amount),
                        "currency": payment.currency})


def _book_accepted(repo: LedgerRepository, payment: models.Payment, pending, result: SchemeResult,
                   amount: Money, now: datetime) -> None:
    """An accepted outbound payment whose entry has one pending posting on a customer
    account (`pending`, its account locked): the entry booked now (the debtor's balance and
    day counts moved with it), the clearing account settled against the settlement account,
    the payment completed. Eight statements fewer than book_pending and post_entry through
    the ORM, the same rows written."""
    scale = minor_units(pending.currency)
    snapshot = snapshot_of(pending).book_pending(Decimal(pending.amount_minor).scaleb(-scale))
    booked = int(snapshot.booked.scaleb(scale))
    repo.book_entry(payment.entry_pk, now, pending.id, booked)
    repo.store_balances({pending.account_pk: (booked, int(snapshot.pending_debits.scaleb(scale)),
                                              int(snapshot.pending_credits.scaleb(scale)))})
    credit, debit = int(pending.amount_minor > 0), int(pending.amount_minor < 0)
    repo.count_postings([   # off its pending day, onto today (nothing when they are one day)
        (pending.account_pk, pending.booking_datetime.astimezone(timezone.utc).date(),
         -credit, -debit),
        (pending.account_pk, now.astimezone(timezone.utc).date(), credit, debit)])
    details = {"transaction_reference": result.scheme_reference}
    entry_id = new_id()
    repo.insert_entry(
        {"entry_id": entry_id, "kind": "scheme-settlement",
         "description": f"Faster Payments settlement {result.scheme_reference}",
         "created_at": now, "reverses_pk": None},
        [_posting_values(pending.clearing, -amount, PostingStatus.BOOKED, now, details, None,
                         None),
         _posting_values(pending.settlement, amount, PostingStatus.BOOKED, now, details, None,
                         None)])
    payment.scheme_reference = result.scheme_reference
    _record_status(payment, PaymentStatus.ACCEPTED_SETTLEMENT_COMPLETED, now)
    repo.flush()


def receive_inbound_payment(uow: UnitOfWork, *, creditor_account_id: str, amount: Money,
                            debtor_name: str, debtor_identification: str, now: datetime,
                            reference: str | None = None,
                            booking_datetime: datetime | None = None,
                            rng: random.Random | None = None) -> models.JournalEntry:
    """Money arriving from another bank through Faster Payments."""
    clearing = internal_account_id(uow, FPS_CLEARING, amount.currency)
    details = {"transaction_reference": reference, "transaction_information": debtor_name,
               "iso_code": "ReceivedCreditTransfers", "iso_subcode": "DomesticCreditTransfer",
               "proprietary_code": "FPS", "proprietary_issuer": "InvisibleBank",
               "counterparty": {"DebtorAccount": {"SchemeName": "UK.OBIE.SortCodeAccountNumber",
                                                  "Identification": debtor_identification,
                                                  "Name": debtor_name}}}
    return post_entry(uow, transfer_lines(clearing, creditor_account_id, amount, {}, details),
                      kind="inbound-payment", now=now, booking_datetime=booking_datetime,
                      description=f"Faster Payment from {debtor_name}", rng=rng)


# balances and reconciliation ------------------------------------------------------------
@dataclass(frozen=True)
class Balance:
    type: str               # InterimAvailable, InterimBooked, ClosingBooked
    amount: Money           # signed
    at: datetime
    credit_limit: Money
    credit_line_type: str | None


def balances(uow: UnitOfWork, account_id: str, *, now: datetime) -> list[Balance]:
    repo = LedgerRepository(uow.session)
    account = repo.account(account_id)
    snapshot = snapshot_of(account)
    limit = from_minor(account.credit_limit_minor, account.currency)
    start_of_day = datetime.combine(now.date(), time.min, tzinfo=timezone.utc)
    closing = from_minor(repo.booked_before(account.id, start_of_day), account.currency)
    return [
        Balance("InterimAvailable", snapshot.interim_available, now, limit, account.credit_line_type),
        Balance("InterimBooked", snapshot.interim_booked, now, limit, account.credit_line_type),
        Balance("ClosingBooked", closing, start_of_day, limit, account.credit_line_type),
    ]


@dataclass(frozen=True)
class Problem:
    kind: str
    subject: str
    detail: str


def reconcile_balances(uow: UnitOfWork) -> list[Problem]:
    """Every problem in the ledger, as values: cached balances and day counts that differ from
    their postings, entries that do not balance or have fewer than two postings, accounts
    below their limit."""
    repo = LedgerRepository(uow.session)
    problems: list[Problem] = []
    for (account_id, booked, pdebits, pcredits, limit,
         sum_booked, sum_pdebits, sum_pcredits) in repo.all_customer_totals():
        cached, derived = (booked, pdebits, pcredits), (int(sum_booked), int(sum_pdebits),
                                                        int(sum_pcredits))
        if cached != derived:
            problems.append(Problem("cached-balance-mismatch", account_id,
                                    f"cached {cached} but postings give {derived}"))
        if derived[0] + derived[1] < -limit:
            problems.append(Problem("below-limit", account_id,
                                    f"available {derived[0] + derived[1]} below -{limit}"))
    for account_id, day, kept, counted in repo.day_count_mismatches():
        problems.append(Problem("cached-count-mismatch", account_id,
                                f"{day}: kept (credits, debits) {kept} but postings give "
                                f"{counted}"))
    for entry_id, currency, total in repo.unbalanced_entries():
        problems.append(Problem("unbalanced-entry", entry_id, f"{currency} sums to {total}"))
    for entry_id, count in repo.entries_with_fewer_than_two_postings():
        problems.append(Problem("short-entry", entry_id, f"{count} postings"))
    return problems

