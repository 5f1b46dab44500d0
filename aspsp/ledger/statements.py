"""Account statements: closing a period into a `Statement` row, and its PDF.

A statement period is whole seconds: it runs from `start_datetime` up to and including the
last second `end_datetime`, i.e. every posting booked at or after the start and before
`end_datetime + 1 second`. Its figures are sums of the booked postings, so a statement always
agrees with the journal; pending postings are not on a statement.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from fpdf import FPDF
from sqlalchemy import func, select

from ..db import UnitOfWork
from ..ids import new_id
from . import models
from .domain import PostingStatus
from .errors import LedgerError
from .money import minor_units

BANK_NAME = "Invisible Bank"
BANK_ADDRESS = ("1 Moorgate Place", "London EC2R 6AA")
ONE_SECOND = timedelta(seconds=1)


class StatementNotFound(LedgerError):
    code = "Ledger.StatementNotFound"


@dataclass(frozen=True)
class StatementLine:
    booked_at: datetime
    description: str
    amount_minor: int            # signed: credits positive
    balance_minor: int           # running booked balance after this line


def _in_period(start: datetime, end: datetime):
    p = models.Posting
    return (p.booking_datetime >= start, p.booking_datetime < end + ONE_SECOND,
            p.status == PostingStatus.BOOKED)


def create_statement(uow: UnitOfWork, account: models.Account, start: datetime, end: datetime,
                     *, now: datetime, statement_type: str = "RegularPeriodic",
                     rng: random.Random | None = None) -> models.Statement:
    """Close the period [start, end] of `account` into a statement computed from its postings."""
    if end < start:
        raise LedgerError("a statement period cannot end before it starts")
    p = models.Posting
    opening = uow.session.scalar(select(func.coalesce(func.sum(p.amount_minor), 0)).where(
        p.account_pk == account.id, p.status == PostingStatus.BOOKED, p.booking_datetime < start))
    credits, debits = uow.session.execute(select(
        func.coalesce(func.sum(p.amount_minor).filter(p.amount_minor > 0), 0),
        func.coalesce(func.sum(p.amount_minor).filter(p.amount_minor < 0), 0))
        .where(p.account_pk == account.id, *_in_period(start, end))).one()
    opening, credits, debits = int(opening), int(credits), -int(debits)
    statement = models.Statement(
        statement_id=new_id(rng), account_pk=account.id,
        statement_reference=f"{account.account_number or account.account_id[:8]}-{start:%Y%m}",
        statement_type=statement_type, start_datetime=start, end_datetime=end,
        creation_datetime=now, currency=account.currency, opening_booked_minor=opening,
        closing_booked_minor=opening + credits - debits, total_credits_minor=credits,
        total_debits_minor=debits,
        descriptions=[f"{account.name} statement, {_long_date(start)} to {_long_date(end)}"])
    uow.session.add(statement)
    uow.session.flush()
    return statement


def statement_lines(uow: UnitOfWork, statement: models.Statement) -> list[StatementLine]:
    """Every booked posting of the period, oldest first, with the running balance."""
    p = models.Posting
    postings = uow.session.scalars(
        select(p).where(p.account_pk == statement.account_pk,
                        *_in_period(statement.start_datetime, statement.end_datetime))
        .order_by(p.booking_datetime, p.id)).all()
    balance, lines = statement.opening_booked_minor, []
    for posting in postings:
        balance += posting.amount_minor
        lines.append(StatementLine(posting.booking_datetime, _describe(posting),
                                   posting.amount_minor, balance))
    return lines


def _describe(posting: models.Posting) -> str:
    what = (posting.merchant_name or posting.transaction_information
            or posting.entry.description or posting.entry.kind)
    if posting.transaction_reference and posting.transaction_reference not in what:
        what = f"{what} ({posting.transaction_reference})"
    return what


# the PDF --------------------------------------------------------------------------------
def render_statement_pdf(uow: UnitOfWork, statement_id: str) -> bytes:
    """The statement as a PDF: bank, customer, account, period, summary and every booked
    transaction with its running balance. The same statement gives the same bytes."""
    statement = uow.session.scalars(select(models.Statement).where(
        models.Statement.statement_id == statement_id)).one_or_none()
    if statement is None:
        raise StatementNotFound(f"no statement {statement_id}")
    account = uow.session.get(models.Account, statement.account_pk)
    pdf = _StatementPDF(statement, account)
    pdf.add_page()
    pdf.addresses()
    pdf.summary()
    pdf.transactions(statement_lines(uow, statement))
    return bytes(pdf.output())


def _latin1(text: str) -> str:
    """The core PDF fonts speak Latin-1: anything else becomes '?' rather than an error."""
    return text.encode("latin-1", "replace").decode("latin-1")


def _pounds(minor: int, currency: str, signed: bool = False) -> str:
    amount = Decimal(minor).scaleb(-minor_units(currency))
    symbol = "£" if currency == "GBP" else f"{currency} "
    text = f"{symbol}{abs(amount):,.{minor_units(currency)}f}"
    return f"-{text}" if signed and amount < 0 else text


def _sort_code(code: str | None) -> str:
    return f"{code[:2]}-{code[2:4]}-{code[4:]}" if code else ""


def _long_date(value: datetime) -> str:
    return f"{value.day} {value:%B %Y}"


def _period_text(statement: models.Statement) -> str:
    return f"{_long_date(statement.start_datetime)} to {_long_date(statement.end_datetime)}"


class _StatementPDF(FPDF):
    COLUMNS = ((24, "Date", "L"), (86, "Description", "L"), (24, "Money in", "R"),
               (24, "Money out", "R"), (28, "Balance", "R"))

    def __init__(self, statement: models.Statement, account: models.Account):
        super().__init__(format="A4")
        self.statement, self.account = statement, account
        self.set_creation_date(statement.creation_datetime)
        self.set_title(f"{BANK_NAME} statement {statement.statement_reference}")
        self.set_author(BANK_NAME)
        self.set_creator(BANK_NAME)
        self.set_auto_page_break(auto=True, margin=18)
        self.alias_nb_pages()

    def header(self) -> None:
        self.set_font("Helvetica", "B", 16)
        self.cell(0, 8, BANK_NAME, new_x="LMARGIN", new_y="NEXT")
        self.set_font("Helvetica", "", 8)
        self.cell(0, 4, " - ".join(BANK_ADDRESS), new_x="LMARGIN", new_y="NEXT")
        self.ln(4)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 8)
        self.cell(0, 5, _latin1(f"Statement {self.statement.statement_reference} - "
                                f"page {self.page_no()} of {{nb}}"), align="C")

    def _line(self, text: str, style: str = "", size: int = 10, height: float = 5) -> None:
        self.set_font("Helvetica", style, size)
        self.cell(0, height, _latin1(text), new_x="LMARGIN", new_y="NEXT")

    def addresses(self) -> None:
        holder = self.account.holders[0].party if self.account.holders else None
        if holder is not None:
            self._line(holder.full_legal_name or holder.name, "B")
            for line in _address_lines(holder.addresses[0] if holder.addresses else {}):
                self._line(line)
        self.ln(4)
        self._line("Statement of account", "B", 13, 7)
        self._line(f"Account: {self.account.name}")
        self._line(f"Sort code {_sort_code(self.account.sort_code)}   "
                   f"Account number {self.account.account_number or ''}")
        self._line(f"IBAN {self.account.iban or ''}   BIC {self.account.servicer_bic or ''}")
        self._line(f"Period: {_period_text(self.statement)}")
        self.ln(3)

    def summary(self) -> None:
        s, cur = self.statement, self.statement.currency
        rows = (("Opening balance", _pounds(s.opening_booked_minor, cur, signed=True)),
                ("Money in", _pounds(s.total_credits_minor, cur)),
                ("Money out", _pounds(s.total_debits_minor, cur)),
                ("Closing balance", _pounds(s.closing_booked_minor, cur, signed=True)))
        for label, value in rows:
            self.set_font("Helvetica", "B" if label.endswith("balance") else "", 10)
            self.cell(50, 6, label, border="B")
            self.cell(40, 6, _latin1(value), border="B", align="R", new_x="LMARGIN",
                      new_y="NEXT")
        self.ln(5)

    def _table_header(self) -> None:
        self.set_font("Helvetica", "B", 9)
        self.set_fill_color(230, 230, 230)
        for width, title, align in self.COLUMNS:
            self.cell(width, 6, title, border="B", align=align, fill=True)
        self.ln()

    def transactions(self, lines: list[StatementLine]) -> None:
        cur = self.statement.currency
        self._table_header()
        self._row(self.statement.start_datetime.strftime("%d %b %Y"), "Opening balance", "", "",
                  _pounds(self.statement.opening_booked_minor, cur, signed=True))
        for line in lines:
            if self.will_page_break(6):
                self.add_page()
                self._table_header()
            money_in = _pounds(line.amount_minor, cur) if line.amount_minor > 0 else ""
            money_out = _pounds(line.amount_minor, cur) if line.amount_minor < 0 else ""
            self._row(line.booked_at.strftime("%d %b %Y"), line.description, money_in,
                      money_out, _pounds(line.balance_minor, cur, signed=True))
        if not lines:
            self._row("", "No transactions in this period", "", "", "")
        self._row(self.statement.end_datetime.strftime("%d %b %Y"), "Closing balance", "", "",
                  _pounds(self.statement.closing_booked_minor, cur, signed=True))

    def _row(self, *values: str) -> None:
        self.set_font("Helvetica", "", 8)
        for (width, _title, align), value in zip(self.COLUMNS, values):
            text = _latin1(value)
            while text and self.get_string_width(text) > width - 2:
                text = text[:-1]
            self.cell(width, 6, text, border="B", align=align)
        self.ln()


def _address_lines(address: dict) -> list[str]:
    street = " ".join(x for x in (address.get("BuildingNumber"), address.get("StreetName")) if x)
    town = " ".join(x for x in (address.get("TownName"), address.get("PostCode")) if x)
    return [line for line in (*address.get("AddressLine", []), street, town) if line]
