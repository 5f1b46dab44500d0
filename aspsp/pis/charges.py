"""What a payment costs: the bank's sandbox tariff, the OBIE `Charges` a consent and its
payment show, and the charge the ledger takes when the payment is made.

The tariff (charges in GBP, the bank's base currency; a debtor account in another currency
pays them at the day's table rate, aspsp.pis.fx):

  to an account held at the bank (by sort code or IBAN)         none
  domestic payments, scheduled payments, standing orders        none (Faster Payments)
  international (payments, scheduled payments, and each payment of a standing order),
  by LocalInstrument (Type UK.InvisibleBank.{...}):
    UK.OBIE.SEPACreditTransfer                                  1.00  SEPAOut
    UK.OBIE.SEPAInstantCreditTransfer                           2.00  SEPAInstantOut
    UK.OBIE.Target2, UK.OBIE.Euro1                             10.00  Target2Out, Euro1Out
    UK.OBIE.SWIFT, or no LocalInstrument                       15.00  SWIFTOut

The Initiation's ChargeBearer (optional) says who pays (OBChargeBearerType1Code):
  Shared, FollowingServiceLevel   the debtor pays the bank's charge; the creditor's bank
                                  charges its own customer. Absent: FollowingServiceLevel on
                                  the SEPA schemes (their rule), Shared on the others.
  BorneByDebtor                   the debtor pays the bank's charge and, so that the whole
                                  amount arrives, the correspondent banks' charges the bank
                                  pays for it: 10.00 more (UK.InvisibleBank.CorrespondentCharges)
  BorneByCreditor                 the creditor pays: the bank's charge is taken out of the
                                  amount sent; the debtor pays the amount and nothing more.

The charges are worked out once, when the consent is made (`consent_charges`), kept in its
data and shown as `Data.Charges` on the consent, its payment and the approval page; OBIE
names one charge type (UK.OBIE.CHAPSOut, a payment the bank does not make), so the types are
the bank's own, after its pattern. No charge, no `Charges` member.

When the payment is made, `post_charge` posts what the debtor pays as one more journal entry
in the payment's transaction: the debtor account to the bank's fee income account
(FEE-INCOME-{currency}, an internal account made on first use). Its postings have the
payment's own status: pending with an outbound payment, booked at settlement with it
(`settle_charge`, from the settlement's own transaction), refunded by a reversal when the
scheme rejects the payment. The entry is checked like any debit: an account that can pay
the amount but not the amount and its charge refuses the whole payment (the caller's
savepoint rolls both back), so nothing is half moved.

International scheduled payments and standing orders are charged by the same tariff, on
each payment the schedule engine makes (a standing order: the charges on every instalment).
The engine asks the PIS API's charger (`aspsp.pis.services.instalment_charge`, registered
by init_app) for an `InstalmentCharge` of the instalment, pays what it says is sent and has
it post the charge in the instalment's savepoint, so the same rules hold: the same entry,
pending and booked with the payment, refunded when the scheme rejects it, and an account
that cannot pay both has the instalment Rejected with nothing moved. An instalment's
charge entry is kept on its order's history (`CHARGE_ENTRIES`, by ledger payment id) for
its settlement.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy.exc import IntegrityError

from ..ledger import services as ledger
from ..ledger.domain import AccountKind, AccountStatus, PaymentStatus, PostingStatus, \
    transfer_lines
from ..ledger.errors import AlreadyReversed, LedgerError
from ..ledger.models import Account
from ..ledger.money import Money
from ..ledger.repository import LedgerRepository
from . import domain, fx

FEE_INCOME = "FEE-INCOME"
CURRENCY = "GBP"
SHARED, SERVICE_LEVEL = "Shared", "FollowingServiceLevel"
BORNE_BY_DEBTOR, BORNE_BY_CREDITOR = "BorneByDebtor", "BorneByCreditor"
SEPA = ("UK.OBIE.SEPACreditTransfer", "UK.OBIE.SEPAInstantCreditTransfer")
# LocalInstrument -> (the bank's charge, its Type); None: no LocalInstrument given.
TARIFF: dict[str | None, tuple[str, str]] = {
    "UK.OBIE.SEPACreditTransfer": ("1.00", "UK.InvisibleBank.SEPAOut"),
    "UK.OBIE.SEPAInstantCreditTransfer": ("2.00", "UK.InvisibleBank.SEPAInstantOut"),
    "UK.OBIE.Target2": ("10.00", "UK.InvisibleBank.Target2Out"),
    "UK.OBIE.Euro1": ("10.00", "UK.InvisibleBank.Euro1Out"),
    "UK.OBIE.SWIFT": ("15.00", "UK.InvisibleBank.SWIFTOut"),
    None: ("15.00", "UK.InvisibleBank.SWIFTOut"),
}
CORRESPONDENT = ("10.00", "UK.InvisibleBank.CorrespondentCharges")
CHARGE_ENTRY = "charge_entry"       # the key of the charge's entry on the order's history
CHARGE_ENTRIES = "charge_entries"   # a schedule's: {ledger payment id: charge entry id}


# --- the tariff, pure ------------------------------------------------------------------------
def international_charges(initiation: Mapping[str, Any]) -> list[dict]:
    """The OB `Charges` of an international payment to another bank (the tariff above)."""
    instrument = initiation.get("LocalInstrument")
    amount, kind = TARIFF.get(instrument, TARIFF[None])
    bearer = initiation.get("ChargeBearer") or (SERVICE_LEVEL if instrument in SEPA else SHARED)
    charges = [_charge(bearer, kind, amount)]
    if bearer == BORNE_BY_DEBTOR:
        charges.append(_charge(bearer, CORRESPONDENT[1], CORRESPONDENT[0]))
    return charges


def _charge(bearer: str, kind: str, amount: str) -> dict:
    return {"ChargeBearer": bearer, "Type": kind,
            "Amount": {"Amount": amount, "Currency": CURRENCY}}


@dataclass(frozen=True)
class Split:
    """A consent's charges in the debtor account's currency: what the debtor pays on top of
    the amount, and what is taken out of the amount sent (borne by the creditor)."""
    debtor: Money
    creditor: Money

    @property
    def total(self) -> Money:
        return self.debtor + self.creditor


def split(charges: Sequence[Mapping[str, Any]] | None, currency: str,
          now: datetime) -> Split | None:
    """The consent's `charges` in `currency` (the table's rate at `now` for another
    currency); None when there are none."""
    if not charges:
        return None
    debtor, creditor = Money.zero(currency), Money.zero(currency)
    for charge in charges:
        amount = _in(domain.money_of(charge["Amount"]), currency, now)
        if charge["ChargeBearer"] == BORNE_BY_CREDITOR:
            creditor = creditor + amount
        else:
            debtor = debtor + amount
    return Split(debtor, creditor)


def _in(amount: Money, currency: str, now: datetime) -> Money:
    """`amount` (the tariff's, GBP) in `currency` at the table's rate for 1 GBP: multiplied
    by it, not divided by its inverse rounded to six places (INR: 15.00 GBP is 1587.00,
    not 1586.97)."""
    if amount.currency == currency:
        return amount
    return fx.quote(amount.currency, currency, fx.INDICATIVE, now).convert(amount, currency)


def amount_sent(amount: Money, charges: Split | None) -> Money:
    """What goes to the creditor: the amount, less the charges the creditor bears."""
    if charges is None or not charges.creditor.is_positive:
        return amount
    sent = amount - charges.creditor
    if not sent.is_positive:
        raise LedgerError(f"the charges borne by the creditor ({charges.creditor}) take the "
                          f"whole amount ({amount})")
    return sent


def with_charges(amount: Money, charges: Split | None) -> Money:
    """What the debtor account pays in all: the amount (less what the creditor bears, which
    comes out of it) and the charges the debtor bears."""
    return amount if charges is None else amount + charges.debtor


# --- what the services ask -------------------------------------------------------------------
def consent_charges(uow, initiation: Mapping[str, Any], *, international: bool) -> list[dict]:
    """The `Charges` of a new consent: none to an account of the bank, none for a domestic
    payment, else the international tariff. For every payment kind (the international
    scheduled payments and standing orders call it too)."""
    if not international or _creditor_is_ours(uow, initiation):
        return []
    return international_charges(initiation)


def _creditor_is_ours(uow, initiation: Mapping[str, Any]) -> bool:
    payee = domain.payee_of(initiation)
    repo = LedgerRepository(uow.session)
    if payee.scheme == domain.IBAN_SCHEME:
        return repo.account_by_iban(payee.identification) is not None
    return repo.account_by_sort_code(payee.identification[:6],
                                     payee.identification[6:]) is not None


def of_order(uow, consent_data: Mapping[str, Any], debtor_account_pk: int,
             now: datetime) -> Split | None:
    """The charges of the consent `consent_data` in its debtor account's currency."""
    if not consent_data.get("Charges"):
        return None
    debtor = uow.session.get(Account, debtor_account_pk)
    return split(consent_data["Charges"], debtor.currency, now)


def post_charge(uow, payment, debtor_account_pk: int, charges: Split | None, now: datetime, *,
                payee: str):
    """The charges of `payment`, from the debtor account to the bank's fee income: one entry,
    with the payment's status (pending until settlement for an outbound payment). The
    creditor's share is in it too: the payment sent that much less of the amount the
    account pays (`amount_sent`). None when there is nothing to post; LedgerError
    (InsufficientFunds...) when the account cannot pay it."""
    if charges is None or not charges.total.is_positive:
        return None
    debtor = uow.session.get(Account, debtor_account_pk)
    description = describe(charges, payee)
    income = fee_income_account_id(uow, debtor.currency, now)
    pending = payment.status == PaymentStatus.ACCEPTED_SETTLEMENT_IN_PROCESS
    details = {"transaction_reference": payment.reference,
               "transaction_information": description[:500], "iso_code": "IssuedCreditTransfers",
               "iso_subcode": "Charges", "proprietary_code": "CHG",
               "proprietary_issuer": "InvisibleBank"}
    # The creditor's share too comes from the debtor account: the payment sent that much less.
    lines = transfer_lines(debtor.account_id, income, charges.total, details)
    return ledger.post_entry(uow, lines, kind="payment-charge", now=now,
                             status=PostingStatus.PENDING if pending else PostingStatus.BOOKED,
                             description=description[:500])


def settle_charge(uow, entry_id: str | None, payment, now: datetime) -> None:
    """Settlement of the payment `entry_id` charged for: its pending postings booked with
    the payment's; refunded (a reversal) when the scheme rejected the payment. Again for the
    same settlement: nothing."""
    if entry_id is None:
        return
    entry = LedgerRepository(uow.session).entry(entry_id, lock=True)
    if any(p.status == PostingStatus.PENDING for p in entry.postings):
        ledger.book_pending(uow, entry, now=now)
    if payment.status == PaymentStatus.REJECTED:
        try:
            ledger.reverse_entry(uow, entry_id, reason="charge refunded: the payment was "
                                 "rejected", now=now)
        except AlreadyReversed:
            pass


def charge_entry_of(history: Sequence[Mapping[str, Any]]) -> str | None:
    """The charge's entry id, kept on the order's history step of the execution."""
    return next((step[CHARGE_ENTRY] for step in history if CHARGE_ENTRY in step), None)


def keep_instalment_charge(history: Sequence[Mapping[str, Any]], payment_id: str,
                           entry_id: str) -> list[dict]:
    """The schedule order's `history` with the charge entry of its instalment paid by
    `payment_id` kept on its first step (the steps shown are read from the schedule)."""
    first = dict(history[0])
    first[CHARGE_ENTRIES] = {**first.get(CHARGE_ENTRIES, {}), payment_id: entry_id}
    return [first, *history[1:]]


def instalment_charge_entry(history: Sequence[Mapping[str, Any]],
                            payment_id: str) -> str | None:
    """The charge entry of the instalment paid by `payment_id` (keep_instalment_charge)."""
    return (history[0].get(CHARGE_ENTRIES) or {}).get(payment_id) if history else None


@dataclass(frozen=True)
class InstalmentCharge:
    """One instalment's charges, as the schedule engine asks (aspsp.ledger.schedules
    InstalmentCharge): `sent` goes to the creditor; `post` posts the charge with the
    payment and hands its entry to `kept` (payment id, entry id) for the settlement."""
    sent: Money
    fees: Split
    debtor_account_pk: int
    payee: str
    kept: Callable[[str, str], None]

    def post(self, uow, payment, now: datetime):
        entry = post_charge(uow, payment, self.debtor_account_pk, self.fees, now,
                            payee=self.payee)
        if entry is not None:
            self.kept(payment.payment_id, entry.entry_id)
        return entry


def of_instalment(uow, consent_data: Mapping[str, Any], debtor_account_pk: int,
                  debited: Money, now: datetime, *, payee: str,
                  kept: Callable[[str, str], None]) -> InstalmentCharge | None:
    """The charges of one instalment of `debited` (in the debtor account's currency) of a
    schedule whose consent is `consent_data`; None when it has none. LedgerError when the
    creditor's share would take the whole amount."""
    fees = of_order(uow, consent_data, debtor_account_pk, now)
    if fees is None or not fees.total.is_positive:
        return None
    return InstalmentCharge(amount_sent(debited, fees), fees, debtor_account_pk, payee, kept)


def fee_income_account_id(uow, currency: str, now: datetime) -> str:
    """The bank's fee income account in `currency`, opened on first use (a concurrent
    first use opens it once: the other's insert meets the unique internal code)."""
    code = f"{FEE_INCOME}-{currency}"
    repo = LedgerRepository(uow.session)
    found = repo.internal_account(code)
    if found is not None:
        return found.account_id
    from ..ids import new_id
    nested = uow.session.begin_nested()
    try:
        repo.add(Account(account_id=new_id(), kind=AccountKind.INTERNAL, internal_code=code,
                         status=AccountStatus.ENABLED, status_updated_at=now,
                         currency=currency, name=f"Fee Income {currency}",
                         opening_date=now.date(), created_at=now))
        repo.flush()
        nested.commit()
    except IntegrityError:
        nested.rollback()
    return repo.internal_account(code).account_id


def describe(charges: Split, payee: str) -> str:
    """The charge entry's description (and its debit's transaction information)."""
    parts = []
    if charges.debtor.is_positive:
        parts.append(f"{charges.debtor} paid by the debtor")
    if charges.creditor.is_positive:
        parts.append(f"{charges.creditor} taken from the amount sent")
    return f"Charges for the payment to {payee}: " + ", ".join(parts)


__all__ = ["FEE_INCOME", "InstalmentCharge", "Split", "TARIFF", "amount_sent",
           "charge_entry_of", "consent_charges", "fee_income_account_id",
           "instalment_charge_entry", "international_charges", "keep_instalment_charge",
           "of_instalment", "of_order", "post_charge", "settle_charge", "split",
           "with_charges"]
