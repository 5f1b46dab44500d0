"""`flask sandbox seed` as a user runs it, and what a user then finds in the bank: the demo
logins, their accounts in the documented states, a ledger that reconciles, statements that
agree with the journal, and a statement PDF that reads like one."""
from __future__ import annotations

import io
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pyotp
import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from aspsp.identity.models import PsuUser
from aspsp.identity.passwords import verify_password
from aspsp.identity.services import totp_secret
from aspsp.ledger import models, services
from aspsp.ledger.statements import render_statement_pdf
from sandbox.seed import DEMO_USERS, SANDBOX_PASSWORD

from .seeding import SMALL, fresh_database, seed, seeded_app

AS_OF = datetime(2026, 6, 15, tzinfo=timezone.utc)
FREQUENCY = re.compile(r"^IntrvlMnthDay:(0[1-6]|12|24):(-0[1-5]|0[1-9]|[12][0-9]|3[01])$")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seeded(request, tmp_path_factory):
    """One small seeded bank per engine, shared by the tests of this module (read-only)."""
    tmp_path = tmp_path_factory.mktemp(f"seed-{request.param}")
    with fresh_database(request.param, tmp_path) as url, seeded_app(url, tmp_path) as app:
        result = seed(app, *SMALL, "--seed", "7")
        assert result.exit_code == 0, result.output
        yield app, result


@pytest.fixture
def uow(seeded):
    app, _result = seeded
    with app.extensions["aspsp"].uow() as unit:
        yield unit


def accounts_of(uow, username: str) -> list[models.Account]:
    user = uow.session.scalars(select(PsuUser).where(PsuUser.username == username)).one()
    return list(uow.session.scalars(
        select(models.Account).join(models.AccountParty)
        .where(models.AccountParty.party_pk == user.party_pk).order_by(models.Account.id)))


def booked(uow, account: models.Account) -> int:
    return {b.type: b.amount for b in services.balances(uow, account.account_id, now=AS_OF)}[
        "InterimBooked"].amount


# the command ----------------------------------------------------------------------------
def test_the_seed_command_reports_what_it_made_and_the_demo_logins(seeded):
    _app, result = seeded
    assert re.search(r"Seeded 7 customers, \d+ accounts, \d+ journal entries \(\d+ postings\) "
                     r"and \d+ statements: 2 months of history to 2026-06-15, seed 7\.",
                     result.output)
    assert f"password for all: {SANDBOX_PASSWORD}" in result.output
    for user in DEMO_USERS:
        assert user.username in result.output
        assert f"TOTP secret {user.totp_secret}" in result.output


def test_seeding_a_bank_that_holds_data_is_refused_and_changes_nothing(seeded):
    app, _result = seeded

    def entries():
        with app.extensions["aspsp"].uow() as unit:
            return unit.session.scalar(select(func.count()).select_from(models.JournalEntry))

    before = entries()
    result = seed(app, *SMALL)
    assert result.exit_code == 1
    assert "already holds bank data" in result.output
    assert "--reset" in result.output
    assert entries() == before


# the demo users -------------------------------------------------------------------------
def test_every_demo_user_can_be_identified_with_the_documented_credentials(uow):
    for demo in DEMO_USERS:
        user = uow.session.scalars(select(PsuUser).where(PsuUser.username == demo.username)).one()
        assert verify_password(user.password_hash, SANDBOX_PASSWORD)
        # the documented secret, sealed at rest: stored only as ciphertext
        assert demo.totp_secret not in user.totp_secret
        assert totp_secret(user, uow.keyring) == demo.totp_secret
        totp = pyotp.TOTP(totp_secret(user, uow.keyring))
        assert totp.verify(totp.now())
        assert user.party.name == demo.customer
    assert not verify_password(user.password_hash, "wrong-password")


def test_alice_has_a_current_and_a_savings_account(uow):
    accounts = accounts_of(uow, "alice")
    assert [(a.account_type, a.account_sub_type, a.status) for a in accounts] == [
        ("Personal", "CurrentAccount", "Enabled"), ("Personal", "Savings", "Enabled")]
    assert all(booked(uow, a) > 0 for a in accounts)


def test_brightcraft_is_a_limited_company_with_a_business_current_account(uow):
    accounts = accounts_of(uow, "brightcraft")
    company = uow.session.scalars(select(PsuUser).where(PsuUser.username == "brightcraft")
                                  ).one().party
    assert (company.kind, company.legal_structure) == ("organisation",
                                                      "UK.OBIE.PrivateLimitedCompany")
    assert [(a.account_type, a.account_sub_type, a.status) for a in accounts] == [
        ("Business", "CurrentAccount", "Enabled")]
    roles = {h.party.name: h.account_role for h in accounts[0].holders}
    assert roles["Brightcraft Ltd"] == "UK.OBIE.Principal"


def test_owen_is_overdrawn_within_his_arranged_overdraft(uow):
    [current] = accounts_of(uow, "owen")
    balances = {b.type: b for b in services.balances(uow, current.account_id, now=AS_OF)}
    limit = balances["InterimBooked"].credit_limit.amount
    assert limit > 0 and balances["InterimBooked"].credit_line_type == "Pre-Agreed"
    assert -limit <= balances["InterimBooked"].amount.amount < 0
    assert balances["InterimAvailable"].amount.amount >= -limit


def test_dana_has_one_enabled_and_one_disabled_account(uow):
    accounts = accounts_of(uow, "dana")
    assert sorted(a.status for a in accounts) == ["Disabled", "Enabled"]
    disabled = next(a for a in accounts if a.status == "Disabled")
    last_posting = uow.session.scalar(select(func.max(models.Posting.booking_datetime))
                                      .where(models.Posting.account_pk == disabled.id))
    assert last_posting <= disabled.status_updated_at


# the ledger and the bank data -----------------------------------------------------------
def test_the_seeded_ledger_reconciles(uow):
    assert services.reconcile_balances(uow) == []


def test_the_history_holds_salaries_rent_bills_card_spending_and_transfers(uow):
    p = models.Posting
    codes = set(uow.session.execute(select(p.iso_code, p.iso_subcode, p.proprietary_code)
                                    .where(p.iso_code.is_not(None))).all())
    assert {("ReceivedCreditTransfers", "DomesticCreditTransfer", "FPS"),
            ("IssuedCreditTransfers", "StandingOrder", "SO"),
            ("IssuedDirectDebits", "DirectDebitPayment", "DD"),
            ("CustomerCardTransactions", "PointOfSalePaymentDebitCard", "POS"),
            ("IssuedCreditTransfers", "DomesticCreditTransfer", "FPS")} <= codes
    card = uow.session.scalars(select(p).where(p.proprietary_code == "POS").limit(1)).one()
    assert card.amount_minor < 0 and re.fullmatch(r"\d{4}", card.merchant_category_code)
    assert card.merchant_name and set(card.card_instrument) == {
        "CardSchemeName", "AuthorisationType", "Name", "Identification"}
    settlement = services.internal_account_id(uow, services.CARD_SETTLEMENT, "GBP")
    assert {l.account_id for l in services.lines_of(card.entry)} >= {settlement}
    salaries = uow.session.scalar(select(func.count()).select_from(p)
                                  .where(p.transaction_reference.like("SALARY %")))
    assert salaries >= 2 * 5  # two months of pay for each personal customer


def test_bank_data_for_the_ais_api_is_there(uow):
    as_of = AS_OF
    orders = uow.session.scalars(select(models.StandingOrder)).all()
    assert orders and all(FREQUENCY.match(o.frequency) for o in orders)
    assert all(o.next_payment_datetime > as_of for o in orders if o.status == "Active")
    assert uow.session.scalars(select(models.Beneficiary)).all()
    mandates = uow.session.scalars(select(models.DirectDebit)).all()
    assert mandates and {m.frequency for m in mandates} == {"UK.OBIE.Monthly"}
    scheduled = uow.session.scalars(select(models.ScheduledPayment)).all()
    assert scheduled and all(s.scheduled_payment_datetime > as_of for s in scheduled)
    products = uow.session.scalars(select(models.Product)).all()
    assert {p.product_type for p in products} == {"PersonalCurrentAccount", "Other",
                                                  "BusinessCurrentAccount"}
    customer_accounts = uow.session.scalars(select(models.Account).where(
        models.Account.kind == "customer")).all()
    assert all(a.product_pk is not None and a.sort_code.startswith("40")
               and a.iban.startswith("GB") for a in customer_accounts)


def test_every_statement_agrees_with_the_postings_of_its_period(uow):
    p = models.Posting
    statements = uow.session.scalars(select(models.Statement)).all()
    accounts = uow.session.scalar(select(func.count()).select_from(models.Account)
                                  .where(models.Account.kind == "customer"))
    assert len(statements) == 2 * accounts   # April and May 2026 for every account
    for s in statements:
        in_period = [p.account_pk == s.account_pk, p.status == "Booked",
                     p.booking_datetime >= s.start_datetime,
                     p.booking_datetime < s.end_datetime + timedelta(seconds=1)]
        amounts = list(uow.session.scalars(select(p.amount_minor).where(*in_period)))
        before = uow.session.scalar(select(func.coalesce(func.sum(p.amount_minor), 0)).where(
            p.account_pk == s.account_pk, p.status == "Booked",
            p.booking_datetime < s.start_datetime))
        assert s.opening_booked_minor == before
        assert s.total_credits_minor == sum(a for a in amounts if a > 0)
        assert s.total_debits_minor == -sum(a for a in amounts if a < 0)
        assert s.closing_booked_minor == before + sum(amounts)


# the statement PDF ----------------------------------------------------------------------
def _alice_statement(uow) -> tuple[models.Account, models.Statement]:
    current = accounts_of(uow, "alice")[0]
    statement = uow.session.scalars(select(models.Statement).where(
        models.Statement.account_pk == current.id).order_by(models.Statement.start_datetime)
    ).first()
    return current, statement


def test_a_statement_pdf_shows_the_account_period_balances_and_transactions(uow):
    account, statement = _alice_statement(uow)
    pdf = render_statement_pdf(uow, statement.statement_id)
    assert pdf.startswith(b"%PDF-")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Invisible Bank" in text and "Alice Morgan" in text
    assert account.account_number in text and account.iban in text
    assert f"{account.sort_code[:2]}-{account.sort_code[2:4]}-{account.sort_code[4:]}" in text
    assert "1 April 2026 to 30 April 2026" in text
    closing = f"£{Decimal(statement.closing_booked_minor).scaleb(-2):,.2f}"
    assert f"Closing balance {closing}" in text
    salary = uow.session.scalars(select(models.Posting).where(
        models.Posting.account_pk == account.id,
        models.Posting.transaction_reference == "SALARY APR 2026")).one()
    assert "SALARY APR 2026" in text
    assert f"£{Decimal(salary.amount_minor).scaleb(-2):,.2f}" in text


def test_the_same_statement_renders_to_the_same_bytes(uow):
    _account, statement = _alice_statement(uow)
    assert render_statement_pdf(uow, statement.statement_id) == \
        render_statement_pdf(uow, statement.statement_id)


def test_an_unknown_statement_is_a_typed_error(uow):
    from aspsp.ledger.statements import StatementNotFound
    with pytest.raises(StatementNotFound):
        render_statement_pdf(uow, "no-such-statement")

