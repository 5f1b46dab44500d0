"""One sandbox customer: their party, accounts, bank data and months of history.

A customer is planned first (every random choice drawn from the customer's own seeded
`random.Random`, so one customer's data never depends on another's), then their events are
posted in chronological order through the ledger services, then what depends on the posted
history (statements, the last payment of each mandate) is written. All of it in the caller's
unit of work.
"""
from __future__ import annotations

import calendar
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Callable

from faker import Faker
from sqlalchemy import select

from aspsp.db import UnitOfWork
from aspsp.ids import new_id
from aspsp.ledger import models, services
from aspsp.ledger.domain import AccountStatus, PostingStatus, transfer_lines
from aspsp.ledger.money import Money
from aspsp.ledger.statements import create_statement

from . import catalogue as cat
from .catalogue import Merchant, SpendCategory, Town

UTC = timezone.utc
ISSUER = "InvisibleBank"
CARD_PENDING_DAYS = 2        # card payments of the last two days are still authorisations


# the shared frame of a seed run ---------------------------------------------------------
@dataclass(frozen=True)
class Frame:
    """What every customer of one seed run shares: the seed, the history window, and the
    bank's internal accounts and products (by id, so it outlives any one session)."""
    seed: int
    start: datetime              # the first instant of history (a month's first day)
    end: datetime                # the as-of day's midnight: history is before it
    internal: dict[str, str]     # internal code -> account id
    products: dict[str, str]     # catalogue key -> product id
    number_offset: int           # spreads account numbers over the 8-digit range

    @property
    def as_of(self) -> date:
        return self.end.date()


ACCOUNT_SLOTS = 4                # account numbers reserved per customer
_NUMBER_STEP = 7_368_787         # coprime with 90,000,000: distinct slots, distinct numbers


def account_number(frame: Frame, slot: int) -> str:
    return str(10_000_000 + (slot * _NUMBER_STEP + frame.number_offset) % 90_000_000)


def month_starts(start: date, end: date) -> list[date]:
    months, day = [], start.replace(day=1)
    while day < end:
        months.append(day)
        day = (day + timedelta(days=32)).replace(day=1)
    return months


def _day_in_month(first: date, day: int) -> date:
    return first.replace(day=min(day, calendar.monthrange(first.year, first.month)[1]))


def _working_day_on_or_after(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _working_day_on_or_before(day: date) -> date:
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def _at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=UTC)


def _codes(code: str, sub_code: str, proprietary: str) -> dict:
    return {"iso_code": code, "iso_subcode": sub_code, "proprietary_code": proprietary,
            "proprietary_issuer": ISSUER}


def _sort_code_account(identification: str) -> dict:
    return {"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": identification}


# plans ----------------------------------------------------------------------------------
@dataclass
class Person:
    first_name: str
    last_name: str
    town: Town
    building: str
    street: str
    postcode: str
    email: str
    phone: str
    mobile: str

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def address(self, address_type: str = "Residential") -> dict:
        return {"AddressType": address_type, "BuildingNumber": self.building,
                "StreetName": self.street, "TownName": self.town.name,
                "CountrySubDivision": self.town.county, "PostCode": self.postcode, "Country": "GB"}


@dataclass
class PersonalPlan:
    person: Person
    employer: str
    salary: int                  # pence, monthly, net
    payday: int
    housing: str                 # rent or mortgage
    housing_to: str              # landlord or lender
    housing_pence: int
    housing_day: int
    appetite: float              # multiplies how often they spend
    opening_pence: int
    overdraft_pence: int = 0
    savings: bool = False
    savings_opening_pence: int = 0
    savings_monthly_pence: int = 0
    savings_disabled_days_before: int | None = None   # the saver is Disabled this long ago
    car: bool = True
    subscriptions: int = 2
    overdrawn_at_end: bool = False


@dataclass
class BusinessPlan:
    trade_name: str
    legal_name: str
    legal_structure: str
    director: Person
    employees: int
    monthly_clients: tuple[int, int]
    invoice_pence: tuple[int, int]
    rent_pence: int
    opening_pence: int
    overdraft_pence: int
    address: dict
    email: str
    phone: str


def plan_person(rng: random.Random, fake: Faker, *, town: Town | None = None,
                **fixed) -> Person:
    first, last = fake.first_name(), fake.last_name()
    town = rng.choice(cat.TOWNS) if town is None else town
    values = dict(
        first_name=first, last_name=last, town=town, building=str(rng.randint(1, 180)),
        street=f"{fake.last_name()} {rng.choice(cat.STREET_SUFFIXES)}",
        postcode=_postcode(rng, town),
        email=f"{first}.{last}{rng.randint(1, 99)}@example.com".lower().replace("'", ""),
        phone=f"+44-{town.dialling_code}4960{rng.randint(0, 999):03d}",
        mobile=f"+44-7700900{rng.randint(0, 999):03d}")
    values.update(fixed)
    return Person(**values)


def _postcode(rng: random.Random, town: Town) -> str:
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    return (f"{town.postcode_area}{rng.randint(1, 19)} {rng.randint(1, 9)}"
            f"{rng.choice(letters)}{rng.choice(letters)}")


def plan_personal(rng: random.Random, fake: Faker) -> PersonalPlan:
    person = plan_person(rng, fake)
    salary = rng.randrange(1_750_00, 4_600_00, 5_00)
    renting = rng.random() < 0.6
    housing_share = Decimal(rng.randint(26, 38)) / 100
    return PersonalPlan(
        person=person, employer=f"{fake.last_name()} {rng.choice(cat.EMPLOYER_SUFFIXES)} Ltd",
        salary=salary, payday=rng.choice((25, 28, 31)),
        housing="rent" if renting else "mortgage",
        housing_to=(f"{fake.last_name()} Lettings Ltd" if rng.random() < 0.5
                    else fake.name()) if renting else rng.choice(cat.MORTGAGE_LENDERS),
        housing_pence=int(salary * housing_share) // 100 * 100,
        housing_day=rng.choice((1, 1, 3, 15)), appetite=rng.uniform(0.6, 1.2),
        opening_pence=int(salary * housing_share) + rng.randrange(400_00, 2_500_00),
        overdraft_pence=rng.choice((0, 0, 250_00, 500_00, 1_000_00)),
        savings=rng.random() < 0.5, savings_opening_pence=rng.randrange(500_00, 12_000_00, 1),
        savings_monthly_pence=rng.randrange(50_00, 400_00, 25_00),
        car=rng.random() < 0.6, subscriptions=rng.randint(0, 4))


def plan_business(rng: random.Random, fake: Faker) -> BusinessPlan:
    structure, suffix = rng.choice(cat.BUSINESS_STRUCTURES)
    director = plan_person(rng, fake)
    trade = f"{fake.last_name()} {rng.choice(cat.BUSINESS_TRADES)}"
    legal = f"{director.name} trading as {trade}" if not suffix else f"{trade} {suffix}"
    employees = rng.randint(0, 3)
    town = director.town
    slug = "".join(ch for ch in trade.lower() if ch.isalnum())
    return BusinessPlan(
        trade_name=trade if not suffix else legal, legal_name=legal, legal_structure=structure,
        director=director, employees=employees,
        monthly_clients=(2 + employees, 5 + 2 * employees),
        invoice_pence=(rng.randrange(150_00, 600_00), rng.randrange(1_400_00, 4_800_00)),
        rent_pence=rng.randrange(450_00, 1_800_00, 50_00),
        opening_pence=rng.randrange(4_000_00, 25_000_00),
        overdraft_pence=rng.choice((0, 2_000_00, 5_000_00)),
        address={"AddressType": "Business", "AddressLine": [f"Unit {rng.randint(1, 40)}"],
                 "BuildingNumber": str(rng.randint(1, 120)),
                 "StreetName": f"{fake.last_name()} "
                               f"{rng.choice(('Business Park', 'Trading Estate', 'Road'))}",
                 "TownName": town.name, "CountrySubDivision": town.county,
                 "PostCode": _postcode(rng, town), "Country": "GB"},
        email=f"accounts@{slug}.example.com",
        phone=f"+44-{town.dialling_code}4960{rng.randint(0, 999):03d}")


# the customer ---------------------------------------------------------------------------
@dataclass(order=True)
class _Event:
    when: datetime
    seq: int
    action: Callable[[], None] = field(compare=False)


@dataclass
class _Mandate:
    account: models.Account
    originator: str
    reference: str
    cancelled: bool = False
    last_at: datetime | None = None
    last_pence: int | None = None


@dataclass
class Built:
    party: models.Party
    accounts: list[models.Account]


class Customer:
    """Builds one customer into the unit of work `uow`."""

    def __init__(self, uow: UnitOfWork, frame: Frame, key: str, index: int, fake: Faker):
        self.uow, self.frame, self.key = uow, frame, key
        self.rng = random.Random(f"{frame.seed}/{key}")
        self.ids = random.Random(f"{frame.seed}/{key}/ids")
        self.fake = fake
        fake.seed_instance(f"{frame.seed}/{key}")
        self.first_slot = self.slot = index * ACCOUNT_SLOTS
        self.events: list[_Event] = []
        self.mandates: list[_Mandate] = []
        self.standing_orders: list[tuple[models.StandingOrder, list[datetime]]] = []
        self.cards: dict[int, dict] = {}
        self.products = {p.product_id: p for p in uow.session.scalars(select(models.Product))}

    # setting up -------------------------------------------------------------------------
    def party(self, *, name: str, kind: str, legal_structure: str, address: dict,
              email: str, phone: str | None, mobile: str | None,
              full_legal_name: str | None = None, party_type: str = "Sole") -> models.Party:
        party = models.Party(
            party_id=new_id(self.ids), party_number=str(self.ids.randrange(10**7, 10**8)),
            party_type=party_type, kind=kind, name=name, full_legal_name=full_legal_name or name,
            legal_structure=legal_structure, email=email, phone=phone, mobile=mobile,
            addresses=[address], created_at=self.frame.start)
        self.uow.session.add(party)
        return party

    def open(self, holders: list[tuple[models.Party, str]], *, product: str, name: str,
             account_type: str, sub_type: str, sort_code: str, nickname: str | None = None,
             overdraft_pence: int = 0) -> models.Account:
        if self.slot % ACCOUNT_SLOTS == 0 and self.slot > self.first_slot:
            raise ValueError(f"{self.key} has more than {ACCOUNT_SLOTS} accounts")
        number = account_number(self.frame, self.slot)
        self.slot += 1
        spec = services.NewAccount(
            currency="GBP", name=name, account_type=account_type, account_sub_type=sub_type,
            sort_code=sort_code, account_number=number, opening_date=self.frame.start.date(),
            nickname=nickname, credit_limit=Decimal(overdraft_pence) / 100,
            credit_line_type="Pre-Agreed" if overdraft_pence else None)
        product_row = self.products[self.frame.products[product]]
        return services.open_account(self.uow, spec, holders, now=self.frame.start,
                                     product=product_row, rng=self.ids)

    def card_for(self, account: models.Account, holder: str, scheme: str = "VISA") -> None:
        bin_ = "465858" if scheme == "VISA" else "535522"
        last4 = f"{self.rng.randint(0, 9999):04d}"
        self.cards[account.id] = {"CardSchemeName": scheme, "Name": holder.upper()[:70],
                                  "Identification": f"{bin_}******{last4}"}

    # scheduling -------------------------------------------------------------------------
    def at(self, when: datetime, action: Callable[[], None]) -> None:
        if self.frame.start <= when < self.frame.end:
            self.events.append(_Event(when, len(self.events), action))

    def months(self) -> list[date]:
        return month_starts(self.frame.start.date(), self.frame.as_of)

    def monthly(self, day: int, *, backwards: bool = False) -> list[date]:
        move = _working_day_on_or_before if backwards else _working_day_on_or_after
        return [move(_day_in_month(first, day)) for first in self.months()]

    def random_days(self, first: date, count: int) -> list[date]:
        last = calendar.monthrange(first.year, first.month)[1]
        return sorted(first.replace(day=self.rng.randint(1, last)) for _ in range(count))

    def random_time(self, day: date, earliest: int = 7, latest: int = 22) -> datetime:
        return _at(day, self.rng.randint(earliest, latest - 1), self.rng.randint(0, 59),
                   self.rng.randint(0, 59))

    def run(self) -> None:
        for event in sorted(self.events):
            event.action()
        self.events = []

    # posting ----------------------------------------------------------------------------
    def post(self, debit: str, credit: str, pence: int, when: datetime, *, kind: str,
              description: str, debit_details: dict, credit_details: dict,
              status: PostingStatus = PostingStatus.BOOKED) -> None:
        services.post_entry(self.uow, transfer_lines(debit, credit, _gbp(pence), debit_details,
                                                     credit_details),
                            kind=kind, now=when, description=description, status=status,
                            rng=self.ids)

    @staticmethod
    def affordable(account: models.Account, pence: int) -> bool:
        available = account.booked_minor + account.pending_debits_minor
        return available - pence >= -account.credit_limit_minor

    def card_payment(self, account: models.Account, merchant: Merchant, pence: int,
                     when: datetime, town: str) -> None:
        pending = when >= self.frame.end - timedelta(days=CARD_PENDING_DAYS)
        details = {"merchant_name": merchant.name, "merchant_category_code": merchant.mcc,
                   "transaction_information": merchant.name.upper() if merchant.online
                   else f"{merchant.name.upper()} {town.upper()}",
                   "card_instrument": {**self.cards[account.id],
                                       "AuthorisationType": self._authorisation(merchant, pence)},
                   **_codes("CustomerCardTransactions", "PointOfSalePaymentDebitCard", "POS")}

        def action():
            if self.affordable(account, pence):   # otherwise declined at the till
                self.post(account.account_id, self.frame.internal[services.CARD_SETTLEMENT],
                          pence, when, kind="card-payment",
                          description=f"Card payment at {merchant.name}",
                          debit_details=details, credit_details={"merchant_name": merchant.name},
                          status=PostingStatus.PENDING if pending else PostingStatus.BOOKED)
        self.at(when, action)

    def _authorisation(self, merchant: Merchant, pence: int) -> str:
        if merchant.online:
            return "None"
        if pence > 100_00:
            return "PIN"
        return self.rng.choice(("Contactless", "Contactless", "ConsumerDevice", "PIN"))

    def cash_withdrawal(self, account: models.Account, pence: int, when: datetime,
                        town: str) -> None:
        name = f"{self.rng.choice(cat.ATM_NAMES)} {town}"

        def action():
            if not self.affordable(account, pence):
                return
            details = {"merchant_name": name, "merchant_category_code": "6011",
                       "transaction_information": f"CASH {name.upper()}",
                       "card_instrument": {**self.cards[account.id], "AuthorisationType": "PIN"},
                       **_codes("CustomerCardTransactions", "CashWithdrawal", "ATM")}
            self.post(account.account_id, self.frame.internal[services.CARD_SETTLEMENT], pence,
                      when, kind="cash-withdrawal", description=f"Cash withdrawal {name}",
                      debit_details=details, credit_details={"merchant_name": name})
        self.at(when, action)

    def inbound(self, account: models.Account, payer: str, pence: int, when: datetime,
                reference: str, *, identification: str | None = None) -> None:
        identification = identification or self.other_bank_account()
        self.at(when, lambda: services.receive_inbound_payment(
            self.uow, creditor_account_id=account.account_id, amount=_gbp(pence),
            debtor_name=payer, debtor_identification=identification, now=when,
            reference=reference, rng=self.ids))

    def bacs_credit(self, account: models.Account, payer: str, pence: int, when: datetime,
                    reference: str) -> None:
        identification = self.other_bank_account()
        details = {"transaction_reference": reference, "transaction_information": payer,
                   "counterparty": {"DebtorAccount": {**_sort_code_account(identification),
                                                      "Name": payer}},
                   **_codes("ReceivedCreditTransfers", "DomesticCreditTransfer", "BGC")}
        self.at(when, lambda: self.post(
            self.frame.internal[services.BACS_CLEARING], account.account_id, pence, when,
            kind="bacs-credit", description=f"BACS credit from {payer}",
            debit_details={"transaction_reference": reference}, credit_details=details))

    def outbound(self, account: models.Account, payee: str, identification: str, pence: int,
                 when: datetime, reference: str, *, standing_order: bool = False,
                 proprietary: str = "FPS") -> None:
        sub_code = "StandingOrder" if standing_order else "DomesticCreditTransfer"
        code = "SO" if standing_order else proprietary
        clearing = services.BACS_CLEARING if proprietary == "BACS" else services.FPS_CLEARING
        details = {"transaction_reference": reference, "transaction_information": payee,
                   "counterparty": {"CreditorAccount": {**_sort_code_account(identification),
                                                        "Name": payee}},
                   **_codes("IssuedCreditTransfers", sub_code, code)}

        def action():
            if self.affordable(account, pence):
                self.post(account.account_id, self.frame.internal[clearing], pence, when,
                          kind="standing-order" if standing_order else "outbound-payment",
                          description=f"Payment to {payee}", debit_details=details,
                          credit_details={"transaction_reference": reference})
        self.at(when, action)

    def own_standing_order(self, source: models.Account, target: models.Account, pence: int,
                           when: datetime, reference: str) -> None:
        debit = {"transaction_reference": reference, "transaction_information": target.name,
                 "counterparty": {"CreditorAccount": {
                     **_sort_code_account(target.sort_code + target.account_number),
                     "Name": target.name}},
                 **_codes("IssuedCreditTransfers", "StandingOrder", "SO")}
        credit = {"transaction_reference": reference, "transaction_information": source.name,
                  "counterparty": {"DebtorAccount": {
                      **_sort_code_account(source.sort_code + source.account_number),
                      "Name": source.name}},
                  **_codes("ReceivedCreditTransfers", "StandingOrder", "SO")}

        def action():
            if source.status == AccountStatus.ENABLED and target.status == AccountStatus.ENABLED \
                    and self.affordable(source, pence):
                self.post(source.account_id, target.account_id, pence, when,
                          kind="standing-order", description=f"Standing order to {target.name}",
                          debit_details=debit, credit_details=credit)
        self.at(when, action)

    def own_transfer(self, source: models.Account, target: models.Account, pence: int,
                     when: datetime, reference: str) -> None:
        def action():
            if source.status == AccountStatus.ENABLED and self.affordable(source, pence):
                services.transfer(self.uow, debtor_account_id=source.account_id,
                                  creditor_account_id=target.account_id, amount=_gbp(pence),
                                  now=when, reference=reference, rng=self.ids)
        self.at(when, action)

    def direct_debit(self, mandate: _Mandate, pence: int, when: datetime) -> None:
        account = mandate.account
        details = {"transaction_reference": mandate.reference,
                   "transaction_information": mandate.originator,
                   "counterparty": {"CreditorName": mandate.originator},
                   **_codes("IssuedDirectDebits", "DirectDebitPayment", "DD")}

        def action():
            if self.affordable(account, pence):   # otherwise the collection is returned unpaid
                self.post(account.account_id, self.frame.internal[services.BACS_CLEARING],
                          pence, when, kind="direct-debit",
                          description=f"Direct debit to {mandate.originator}",
                          debit_details=details,
                          credit_details={"transaction_reference": mandate.reference})
                mandate.last_at, mandate.last_pence = when, pence
        self.at(when, action)

    def charge(self, account: models.Account, when: datetime, *, text: str,
               pence: int | Callable[[], int], interest: bool = False) -> None:
        """A bank fee or interest charged to the account, paid to the bank's capital."""
        def action():
            amount = pence() if callable(pence) else pence
            if amount > 0 and self.affordable(account, amount):
                sub_code = "Interest" if interest else "Charges"
                self.post(account.account_id, self.frame.internal[services.BANK_CAPITAL],
                          amount, when, kind="interest" if interest else "fee",
                          description=text, debit_details={
                              "transaction_information": text,
                              **_codes("MiscellaneousDebitOperations", sub_code,
                                       "INT" if interest else "CHG")},
                          credit_details={"transaction_information": text})
        self.at(when, action)

    def interest_paid(self, account: models.Account, when: datetime, aer: str) -> None:
        def action():
            pence = int(Decimal(account.booked_minor) * Decimal(aer) / 12)
            if pence > 0 and account.status == AccountStatus.ENABLED:
                self.post(self.frame.internal[services.BANK_CAPITAL], account.account_id,
                          pence, when, kind="interest", description="Interest paid",
                          debit_details={"transaction_information": "Interest paid"},
                          credit_details={"transaction_information": "INTEREST PAID",
                                          **_codes("MiscellaneousCreditOperations", "Interest",
                                                   "INT")})
        self.at(when, action)

    def set_status(self, account: models.Account, status: str, when: datetime) -> None:
        self.at(when, lambda: services.set_account_status(self.uow, account.account_id, status,
                                                          now=when))

    # bank data --------------------------------------------------------------------------
    def other_bank_account(self) -> str:
        prefix, _bank = self.rng.choice(cat.OTHER_BANKS)
        return f"{prefix}{self.rng.randint(0, 9999):04d}{self.rng.randint(10**7, 10**8 - 1)}"

    def beneficiary(self, account: models.Account, name: str, identification: str,
                    reference: str | None, trusted: bool = False) -> None:
        self.uow.session.add(models.Beneficiary(
            beneficiary_id=new_id(self.ids), account_pk=account.id,
            beneficiary_type="Trusted" if trusted else "Ordinary", reference=reference,
            creditor_name=name, creditor_scheme="UK.OBIE.SortCodeAccountNumber",
            creditor_identification=identification, created_at=self.frame.start))

    def standing_order(self, account: models.Account, *, name: str, identification: str,
                       pence: int, day: int, reference: str, own: models.Account | None = None,
                       until: datetime | None = None) -> None:
        """A monthly standing order on `day`, paid until `until` (then it is Inactive)."""
        dates = [d for d in self.monthly(day) if until is None or _at(d, 5) < until]
        payments = [_at(d, 5, 30) for d in dates]
        for when in payments:
            if own is not None:
                self.own_standing_order(account, own, pence, when, reference)
            else:
                self.outbound(account, name, identification, pence, when, reference,
                              standing_order=True)
        order = models.StandingOrder(
            standing_order_id=new_id(self.ids), account_pk=account.id,
            frequency=f"IntrvlMnthDay:01:{day:02d}", reference=reference,
            status="Active" if until is None else "Inactive",
            first_payment_datetime=payments[0] if payments else _at(self.frame.as_of, 5, 30),
            amount_minor=pence, currency="GBP", creditor_name=name,
            creditor_scheme="UK.OBIE.SortCodeAccountNumber", creditor_identification=identification)
        if until is None:
            order.next_payment_datetime = _at(self._next_on_day(day), 5, 30)
        else:
            order.final_payment_datetime = payments[-1] if payments else None
        self.uow.session.add(order)
        self.standing_orders.append((order, payments))

    def _next_on_day(self, day: int) -> date:
        first = self.frame.as_of.replace(day=1)
        candidate = _working_day_on_or_after(_day_in_month(first, day))
        if candidate < self.frame.as_of:
            nxt = (first + timedelta(days=32)).replace(day=1)
            candidate = _working_day_on_or_after(_day_in_month(nxt, day))
        return candidate

    def mandate(self, account: models.Account, originator: str) -> _Mandate:
        letters = "".join(ch for ch in originator.upper() if ch.isalnum())[:10]
        mandate = _Mandate(account, originator, f"{letters}-{self.rng.randint(10**6, 10**7 - 1)}")
        self.mandates.append(mandate)
        return mandate

    def monthly_direct_debit(self, account: models.Account, originator: str,
                             pence: tuple[int, int], day: int, *,
                             months: set[int] | None = None, winter: bool = False,
                             until: date | None = None) -> None:
        """Collections on `day` of each month (of `months`); cancelled at `until`."""
        mandate = self.mandate(account, originator)
        mandate.cancelled = until is not None
        base = self.rng.randint(*pence)
        for d in self.monthly(day):
            if (months is not None and d.month not in months) or (until and d >= until):
                continue
            amount = int(base * 1.35) if winter and d.month in (11, 12, 1, 2) else base
            self.direct_debit(mandate, amount, _at(d, 4, self.rng.randint(0, 59)))

    def scheduled_payment(self, account: models.Account, name: str, identification: str,
                          pence: int, days_ahead: int, reference: str) -> None:
        self.uow.session.add(models.ScheduledPayment(
            scheduled_payment_id=new_id(self.ids), account_pk=account.id,
            scheduled_payment_datetime=_at(self.frame.as_of + timedelta(days=days_ahead), 9),
            scheduled_type="Execution", reference=reference, debtor_reference=reference,
            amount_minor=pence, currency="GBP", creditor_name=name,
            creditor_scheme="UK.OBIE.SortCodeAccountNumber",
            creditor_identification=identification))

    def offer(self, account: models.Account, offer_type: str, description: str, *,
              pence: int | None = None, rate: str | None = None, term: str | None = None) -> None:
        start = _at(self.frame.as_of - timedelta(days=self.rng.randint(3, 20)), 8)
        self.uow.session.add(models.Offer(
            offer_id=new_id(self.ids), account_pk=account.id, offer_type=offer_type,
            description=description, amount_minor=pence, fee_minor=0 if pence else None,
            currency="GBP", rate=rate, term=term,
            url="https://invisiblebank.example/offers", start_datetime=start,
            end_datetime=start + timedelta(days=90)))

    # spending ---------------------------------------------------------------------------
    def spend(self, account: models.Account, categories: tuple[SpendCategory, ...],
              appetite: float, town: str, *, skip: set[str] = frozenset()) -> None:
        for first in self.months():
            for category in categories:
                if category.name in skip:
                    continue
                low, high = category.per_month
                count = round(self.rng.randint(low, high) * appetite)
                for day in self.random_days(first, count):
                    merchant = self.rng.choice(category.merchants)
                    pence = self.rng.randint(*category.pence)
                    self.card_payment(account, merchant, pence, self.random_time(day), town)

    def subscriptions(self, account: models.Account, count: int, town: str) -> None:
        for merchant, pence in self.rng.sample(cat.SUBSCRIPTIONS, count):
            day = self.rng.randint(1, 28)
            for d in self.monthly(day):
                self.card_payment(account, merchant, pence, _at(d, 3, self.rng.randint(0, 59)),
                                  town)

    # after the history ------------------------------------------------------------------
    def finish(self, accounts: list[models.Account]) -> int:
        """Write what depends on the posted history; returns the statements written."""
        for mandate in self.mandates:
            self.uow.session.add(models.DirectDebit(
                direct_debit_id=new_id(self.ids), account_pk=mandate.account.id,
                mandate_identification=mandate.reference,
                status="Inactive" if mandate.cancelled
                or mandate.account.status != AccountStatus.ENABLED else "Active",
                name=mandate.originator[:70], frequency="UK.OBIE.Monthly",
                previous_payment_datetime=mandate.last_at,
                previous_payment_minor=mandate.last_pence,
                currency="GBP"))
        for order, payments in self.standing_orders:
            order.last_payment_datetime = payments[-1] if payments else None
        return self.statements(accounts)

    def statements(self, accounts: list[models.Account]) -> int:
        written = 0
        for account in accounts:
            for first in self.months():
                following = (first + timedelta(days=32)).replace(day=1)
                if following > self.frame.as_of:
                    break
                start, next_start = _at(first, 0), _at(following, 0)
                create_statement(self.uow, account, start, next_start - timedelta(seconds=1),
                                 now=next_start + timedelta(hours=2), rng=self.ids)
                written += 1
        return written


def _gbp(pence: int) -> Money:
    return services.from_minor(pence, "GBP")


# whole customers ------------------------------------------------------------------------
def personal_customer(c: Customer, plan: PersonalPlan) -> Built:
    p = plan.person
    party = c.party(name=p.name, kind="person", legal_structure="UK.OBIE.Individual",
                    address=p.address(), email=p.email, phone=p.phone, mobile=p.mobile)
    current = c.open([(party, "UK.OBIE.Principal")], product="pca", name=p.name,
                     account_type="Personal", sub_type="CurrentAccount",
                     sort_code=c.rng.choice(cat.PERSONAL_SORT_CODES), nickname="Everyday",
                     overdraft_pence=plan.overdraft_pence)
    c.card_for(current, p.name)
    c.inbound(current, p.name, plan.opening_pence, _at(c.frame.start.date(), 9),
              "ACCOUNT SWITCH")
    for day in c.monthly(plan.payday, backwards=True):
        c.inbound(current, plan.employer, plan.salary, _at(day, 6, 15),
                  f"SALARY {day:%b %Y}".upper())
    _housing(c, current, plan)
    _household_bills(c, current, plan)
    c.spend(current, cat.PERSONAL_SPENDING, plan.appetite, p.town.name,
            skip=set() if plan.car else {"fuel"})
    c.subscriptions(current, plan.subscriptions, p.town.name)
    _cash(c, current, p.town.name)
    friends = _friends(c, current)
    if plan.overdraft_pence:
        for day in c.monthly(1):
            c.charge(current, _at(day, 2), text="Arranged overdraft interest", interest=True,
                     pence=lambda: max(0, -current.booked_minor) * 399 // 12_000)
        if c.rng.random() < 0.5:
            c.offer(current, "LimitIncrease", "You could increase your arranged overdraft",
                    pence=plan.overdraft_pence, term="Subject to status; 39.9% EAR variable")
    accounts = [current]
    if plan.savings:
        accounts.append(_saver(c, party, current, plan))
    for _ in range(c.rng.randint(0, 2)):
        name, identification = c.rng.choice(friends)
        c.scheduled_payment(current, name, identification, c.rng.randrange(10_00, 250_00, 50),
                            c.rng.randint(2, 40),
                            c.rng.choice(("HOLIDAY", "BIRTHDAY", "RENT SHARE")))
    if plan.overdrawn_at_end:
        _into_overdraft(c, current)
    c.run()
    return Built(party, accounts)


def _housing(c: Customer, current: models.Account, plan: PersonalPlan) -> None:
    if plan.housing == "rent":
        landlord = c.other_bank_account()
        c.beneficiary(current, plan.housing_to, landlord, "RENT", trusted=True)
        c.standing_order(current, name=plan.housing_to, identification=landlord,
                         pence=plan.housing_pence, day=plan.housing_day,
                         reference=f"RENT {plan.person.last_name.upper()}"[:35])
    else:
        c.monthly_direct_debit(current, plan.housing_to, (plan.housing_pence, plan.housing_pence),
                               plan.housing_day)


def _household_bills(c: Customer, current: models.Account, plan: PersonalPlan) -> None:
    c.monthly_direct_debit(current, plan.person.town.council, (95_00, 235_00), 1,
                           months={4, 5, 6, 7, 8, 9, 10, 11, 12, 1})   # council tax: 10 instalments
    c.monthly_direct_debit(current, c.rng.choice(cat.ENERGY), (58_00, 165_00),
                           c.rng.randint(5, 20), winter=True)
    c.monthly_direct_debit(current, c.rng.choice(cat.WATER), (26_00, 52_00), c.rng.randint(1, 28))
    c.monthly_direct_debit(current, c.rng.choice(cat.MOBILE), (12_00, 48_00), c.rng.randint(1, 28))
    c.monthly_direct_debit(current, c.rng.choice(cat.BROADBAND), (25_00, 62_00),
                           c.rng.randint(1, 28))
    c.monthly_direct_debit(current, "TV Licensing", (cat.TV_LICENCE_PENCE, cat.TV_LICENCE_PENCE),
                           c.rng.choice((1, 8, 15, 22)))
    if plan.car:
        c.monthly_direct_debit(current, c.rng.choice(cat.INSURERS), (24_00, 78_00),
                               c.rng.randint(1, 28))
    if c.rng.random() < 0.4:   # a membership they cancelled: an Inactive mandate
        months = c.months()
        c.monthly_direct_debit(current, c.rng.choice(cat.MEMBERSHIPS), (18_00, 45_00),
                               c.rng.randint(1, 28),
                               until=months[c.rng.randrange(1, len(months))] if len(months) > 1
                               else months[0])


def _cash(c: Customer, account: models.Account, town: str) -> None:
    for first in c.months():
        for day in c.random_days(first, c.rng.randint(0, 2)):
            c.cash_withdrawal(account, c.rng.choice((20, 30, 40, 50, 100)) * 100,
                              c.random_time(day, 9, 21), town)


def _friends(c: Customer, current: models.Account) -> list[tuple[str, str]]:
    friends = [(f"{c.fake.first_name()} {c.fake.last_name()}", c.other_bank_account())
               for _ in range(c.rng.randint(1, 3))]
    for name, identification in friends:
        c.beneficiary(current, name, identification, None)
    for first in c.months():
        for day in c.random_days(first, c.rng.randint(0, 2)):
            name, identification = c.rng.choice(friends)
            pence = c.rng.randrange(5_00, 150_00, 50)
            reference = c.rng.choice(("DINNER", "TICKETS", "THANKS", "HOLIDAY", "BILLS", "TAXI"))
            if c.rng.random() < 0.5:
                c.outbound(current, name, identification, pence, c.random_time(day), reference)
            else:
                c.inbound(current, name, pence, c.random_time(day), reference,
                          identification=identification)
    return friends


def _saver(c: Customer, party: models.Party, current: models.Account,
           plan: PersonalPlan) -> models.Account:
    saver = c.open([(party, "UK.OBIE.Principal")], product="saver", name=plan.person.name,
                   account_type="Personal", sub_type="Savings",
                   sort_code=current.sort_code, nickname="Rainy day")
    c.inbound(saver, plan.person.name, plan.savings_opening_pence,
              _at(c.frame.start.date(), 9, 30), "SAVINGS TRANSFER")
    until = None
    if plan.savings_disabled_days_before is not None:
        until = _at(c.frame.as_of - timedelta(days=plan.savings_disabled_days_before), 10)
    day = plan.payday + 1 if plan.payday < 28 else 1
    c.standing_order(current, name=saver.name, pence=plan.savings_monthly_pence, day=day,
                     identification=saver.sort_code + saver.account_number,
                     reference="SAVINGS", own=saver, until=until)
    for first in c.months():
        if c.rng.random() < 0.2:
            when = c.random_time(c.random_days(first, 1)[0])
            if until is None or when < until:
                c.own_transfer(saver, current, c.rng.randrange(100_00, 600_00, 10_00), when,
                               "FROM SAVINGS")
        c.interest_paid(saver, _at(first, 1, 10), cat.SAVINGS_AER)
    if until is not None:
        c.set_status(saver, AccountStatus.DISABLED, until)
    elif c.rng.random() < 0.4:
        c.offer(saver, "PromotionalRate", "A bonus rate on new savings for 12 months",
                rate="4.25",
                term="Bonus of 0.75% AER for 12 months on deposits made in the offer period")
    return saver


def _into_overdraft(c: Customer, current: models.Account) -> None:
    """The scenario customer ends the history in their arranged overdraft: if their spending
    has not already taken them there, a garage bill does, the last thing before the as-of day."""
    garage, identification = "Kwik Fit (GB) Ltd", c.other_bank_account()
    when = c.frame.end - timedelta(seconds=1)

    def action():
        target = -current.credit_limit_minor * 2 // 5
        if current.booked_minor > target:
            pence = current.booked_minor - target
            c.post(current.account_id, c.frame.internal[services.FPS_CLEARING], pence, when,
                   kind="outbound-payment", description=f"Payment to {garage}",
                   debit_details={"transaction_reference": "CAR REPAIR",
                                  "transaction_information": garage,
                                  "counterparty": {"CreditorAccount": {
                                      **_sort_code_account(identification), "Name": garage}},
                                  **_codes("IssuedCreditTransfers", "DomesticCreditTransfer",
                                           "FPS")},
                   credit_details={"transaction_reference": "CAR REPAIR"})
    c.at(when, action)


def business_customer(c: Customer, plan: BusinessPlan) -> Built:
    d = plan.director
    company = c.party(name=plan.trade_name, full_legal_name=plan.legal_name, kind="organisation",
                      legal_structure=plan.legal_structure, address=plan.address,
                      email=plan.email, phone=plan.phone, mobile=None)
    director = c.party(name=d.name, kind="person", legal_structure="UK.OBIE.Individual",
                       address=d.address(), email=d.email, phone=d.phone, mobile=d.mobile,
                       party_type="Delegate")
    account = c.open([(company, "UK.OBIE.Principal"), (director, "UK.OBIE.SeniorManagingOfficial")],
                     product="bca", name=plan.legal_name[:350], account_type="Business",
                     sub_type="CurrentAccount", sort_code=c.rng.choice(cat.BUSINESS_SORT_CODES),
                     overdraft_pence=plan.overdraft_pence)
    c.card_for(account, d.name, scheme="MasterCard")
    c.inbound(account, d.name, plan.opening_pence, _at(c.frame.start.date(), 9), "CAPITAL")
    _clients(c, account, plan)
    _business_costs(c, account, plan)
    c.spend(account, cat.BUSINESS_SPENDING, 1.0, d.town.name)
    for day in c.monthly(1):
        c.charge(account, _at(day, 2, 30), text="Monthly account fee", pence=6_50)
    if c.rng.random() < 0.4:
        c.offer(account, "MoneyTransfer", "A fixed-rate business loan of up to £25,000",
                pence=25_000_00, rate="8.9", term="1 to 5 years, subject to status")
    c.run()
    return Built(company, [account])


def _clients(c: Customer, account: models.Account, plan: BusinessPlan) -> None:
    clients = [f"{c.fake.last_name()} {c.rng.choice(cat.EMPLOYER_SUFFIXES)} Ltd"
               for _ in range(c.rng.randint(3, 8))]
    invoice = c.rng.randint(1000, 4000)
    for first in c.months():
        for day in c.random_days(first, c.rng.randint(*plan.monthly_clients)):
            payer, pence = c.rng.choice(clients), c.rng.randint(*plan.invoice_pence)
            invoice += 1
            when = _at(_working_day_on_or_after(day), c.rng.randint(7, 17), c.rng.randint(0, 59))
            if c.rng.random() < 0.6:
                c.inbound(account, payer, pence, when, f"INV-{invoice}")
            else:
                c.bacs_credit(account, payer, pence, when, f"INV-{invoice}")


def _business_costs(c: Customer, account: models.Account, plan: BusinessPlan) -> None:
    landlord = (f"{c.fake.last_name()} Property Ltd", c.other_bank_account())
    c.beneficiary(account, *landlord, "UNIT RENT", trusted=True)
    c.standing_order(account, name=landlord[0], identification=landlord[1],
                     pence=plan.rent_pence, day=1, reference="UNIT RENT")
    suppliers = [(f"{c.fake.last_name()} {c.rng.choice(('Supplies', 'Wholesale', 'Trade'))} Ltd",
                  c.other_bank_account()) for _ in range(c.rng.randint(2, 4))]
    for name, identification in suppliers:
        c.beneficiary(account, name, identification, "SUPPLIES")
    for first in c.months():
        for day in c.random_days(first, c.rng.randint(1, 4)):
            name, identification = c.rng.choice(suppliers)
            c.outbound(account, name, identification, c.rng.randrange(40_00, 1_200_00),
                       c.random_time(_working_day_on_or_after(day), 8, 18),
                       f"PO {c.rng.randint(10_000, 99_999)}")
    if plan.employees:
        payroll = sum(c.rng.randrange(1_500_00, 2_400_00, 5_00) for _ in range(plan.employees))
        hmrc = c.other_bank_account()
        bureau = c.other_bank_account()
        for day in c.monthly(28, backwards=True):
            c.outbound(account, "Payroll", bureau, payroll, _at(day, 5),
                       f"PAYROLL {day:%b %Y}".upper(), proprietary="BACS")
        for day in c.monthly(22):
            c.outbound(account, "HMRC PAYE", hmrc, payroll * 3 // 10, _at(day, 10),
                       f"PAYE {day:%m%y}")
    c.monthly_direct_debit(account, "HMRC VAT", (600_00, 3_200_00), 7, months={1, 4, 7, 10})
    c.monthly_direct_debit(account, c.rng.choice(cat.ENERGY), (90_00, 320_00),
                           c.rng.randint(5, 20), winter=True)
    c.monthly_direct_debit(account, c.rng.choice(cat.BROADBAND), (32_00, 75_00),
                           c.rng.randint(1, 28))
    c.monthly_direct_debit(account, c.rng.choice(cat.MOBILE), (18_00, 60_00), c.rng.randint(1, 28))
    drawings, director_account = c.rng.randrange(800_00, 3_000_00, 50_00), c.other_bank_account()
    for day in c.monthly(c.rng.choice((26, 27, 28)), backwards=True):
        c.outbound(account, plan.director.name, director_account, drawings, _at(day, 12),
                   "DIRECTOR DRAWINGS")
    name, identification = c.rng.choice(suppliers)
    c.scheduled_payment(account, name, identification, c.rng.randrange(200_00, 2_000_00),
                        c.rng.randint(3, 30), f"PO {c.rng.randint(10_000, 99_999)}")
