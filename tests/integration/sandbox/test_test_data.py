"""Test data per app (sandbox/test_data.py and its pages): test customers, accounts, money and
transactions through the ledger, disabling an account, and resetting the app's sandbox; only
the app's organisation sees or changes any of it."""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import select

from aspsp.identity import services as identity
from aspsp.identity.models import PsuUser
from aspsp.identity.passwords import verify_password
from aspsp.ledger import models as ledger_models
from aspsp.ledger import services as ledger
from aspsp.ledger.money import Money
from consent.models import Consent
from developer_portal.models import PortalApp
from sandbox import test_data
from sandbox.seed import SANDBOX_PASSWORD
from sandbox.test_data_models import SCA_FAILS, STANDARD, SandboxTestCustomer
from tests import factories
from tests.integration.psu_web.conftest import Browser
from tests.oauth_factories import make_client
from tests.portal_factories import make_app, make_developer, make_organisation, sign_in
from tests.psu_factories import consent as make_consent


@dataclass
class Portal:
    """A signed-in developer's browser on one app's test-data page."""
    browser: Browser
    app_id: str
    platform: object
    clock: object

    def url(self, suffix: str = "") -> str:
        return f"/developers/apps/{self.app_id}/sandbox/test-data{suffix}"

    def open(self):
        return self.browser.get(self.url())

    def post(self, suffix: str, data: dict | None = None, **kw):
        self.open()
        return self.browser.submit(self.url(suffix), data or {}, **kw)

    def app_row(self, uow) -> PortalApp:
        return uow.session.scalars(select(PortalApp).where(
            PortalApp.app_id == self.app_id)).one()

    def customers(self):
        with self.platform.uow() as uow:
            return test_data.customers(uow, self.app_row(uow), now=self.clock.now())

    def new_customer(self, name: str = "Tess Tester", behaviour: str = STANDARD) -> str:
        response = self.post("/customers", {"name": name, "behaviour": behaviour})
        assert response.status_code == 200, self.browser.html
        return self.customers()[0].username

    def new_account(self, username: str, kind: str = "current") -> str:
        response = self.post(f"/customers/{username}/accounts", {"kind": kind})
        assert response.status_code == 200, self.browser.html
        return next(c for c in self.customers() if c.username == username).accounts[-1].account_id


def make_portal(app, platform, clock, *, org_name: str = "Acme Payments Ltd") -> Portal:
    now = clock.now()
    with platform.uow() as uow:
        developer = make_developer(uow, now)
        org = make_organisation(uow, now, developer, name=org_name)
        portal_app = make_app(uow, now, org)
        uow.commit()
    http = app.test_client()
    sign_in(http, developer, now)
    return Portal(Browser(http), portal_app.app_id, platform, clock)


@pytest.fixture
def portal(app, platform, clock) -> Portal:
    return make_portal(app, platform, clock)


@pytest.fixture
def other_portal(app, platform, clock) -> Portal:
    return make_portal(app, platform, clock, org_name="Other Corp")


def balances(platform, clock, account_id: str) -> dict[str, Money]:
    with platform.uow() as uow:
        return {b.type: b.amount for b in ledger.balances(uow, account_id, now=clock.now())}


def assert_books_balance(platform) -> None:
    """Every journal entry sums to zero per currency, and every cached balance equals its
    postings."""
    with platform.uow() as uow:
        totals = defaultdict(int)
        for entry_pk, currency, amount in uow.session.execute(select(
                ledger_models.Posting.entry_pk, ledger_models.Posting.currency,
                ledger_models.Posting.amount_minor)):
            totals[(entry_pk, currency)] += amount
        assert totals and all(total == 0 for total in totals.values())
        assert ledger.reconcile_balances(uow) == []


def gbp(amount: str) -> Money:
    return Money.of(amount, "GBP")


# test customers ----------------------------------------------------------------------------
def test_a_test_customer_gets_an_app_prefixed_login_and_the_sandbox_shortcuts(portal, platform,
                                                                             app):
    username = portal.new_customer("Tess <b>Tester</b>")
    assert re.fullmatch(rf"test-{portal.app_id[:8].lower()}-[0-9a-f]{{6}}", username)
    page = portal.browser.html
    assert f"Test customer {username} created." in page
    assert "Tess &lt;b&gt;Tester&lt;/b&gt;" in page and "<b>Tester" not in page
    assert SANDBOX_PASSWORD in page
    with platform.uow() as uow:
        psu = identity.find_by_username(uow, username)
        assert verify_password(psu.password_hash, SANDBOX_PASSWORD)
        with app.app_context():
            assert identity.sandbox_sca_allowed(psu, app.config)
            assert not identity.sandbox_sca_refused(psu)
            assert not identity.sandbox_sca_allowed(psu, {**app.config,
                                                          "SANDBOX_ENABLED": False})


def test_a_customer_made_to_fail_sca_has_no_shortcut_and_is_refused(portal, platform, app):
    username = portal.new_customer(behaviour=SCA_FAILS)
    assert "SCA always fails" in portal.browser.html
    with platform.uow() as uow, app.app_context():
        psu = identity.find_by_username(uow, username)
        assert not identity.sandbox_sca_allowed(psu, app.config)
        assert identity.sandbox_sca_refused(psu)


def test_other_customers_get_no_shortcut_from_the_sandbox_customers(app, platform, clock):
    with platform.uow() as uow, app.app_context():
        stranger = identity.create_psu(uow, username="test-stranger-abcdef", password="x" * 12,
                                       party=factories.party(uow, now=clock.now()),
                                       now=clock.now())
        assert not identity.sandbox_sca_allowed(stranger, app.config)
        assert not identity.sandbox_sca_refused(stranger)


def test_accounts_are_opened_funded_and_given_transactions_through_the_ledger(portal, platform,
                                                                            clock):
    username = portal.new_customer()
    current = portal.new_account(username, "current")
    saver = portal.new_account(username, "savings")
    accounts = {a.account_id: a for a in portal.customers()[0].accounts}
    assert accounts[current].sub_type == "CurrentAccount"
    assert accounts[saver].sub_type == "Savings" and accounts[saver].status == "Enabled"
    assert accounts[current].sort_code == test_data.SORT_CODE

    assert portal.post(f"/accounts/{current}/fund", {"amount": "250.00"}).status_code == 200
    assert "Funded" in portal.browser.html
    portal.post(f"/accounts/{current}/card-payment", {"amount": "12.34",
                                                       "merchant": "Corner <Shop>"})
    portal.post(f"/accounts/{current}/incoming-transfer", {
        "amount": "100.00", "payer": "Jo Bloggs", "payer_account": "20-00-00 12345678",
        "reference": "Rent share"})
    assert balances(platform, clock, current)["InterimBooked"] == gbp("337.66")
    assert balances(platform, clock, saver)["InterimBooked"] == gbp("0.00")
    assert "337.66 GBP" in portal.open().get_data(as_text=True)
    with platform.uow() as uow:
        account = uow.session.scalars(select(ledger_models.Account).where(
            ledger_models.Account.account_id == current)).one()
        postings = {p.amount_minor: p for p in uow.session.scalars(select(
            ledger_models.Posting).where(ledger_models.Posting.account_pk == account.id))}
        assert set(postings) == {25000, -1234, 10000}
        assert postings[-1234].merchant_name == "Corner <Shop>"
        assert postings[10000].transaction_reference == "Rent share"
        assert postings[10000].counterparty["DebtorAccount"] == {
            "SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "20000012345678",
            "Name": "Jo Bloggs"}
        funding = uow.session.scalars(select(ledger_models.Account).where(
            ledger_models.Account.internal_code == "SANDBOX-FUNDING-GBP")).one()
        assert [p.amount_minor for p in uow.session.scalars(select(ledger_models.Posting)
                .where(ledger_models.Posting.account_pk == funding.id))] == [-25000]
    assert_books_balance(platform)


@pytest.mark.parametrize("suffix,form,message", [
    ("/fund", {"amount": "abc"}, "Enter an amount such as 250.00."),
    ("/fund", {"amount": "-5"}, "Enter an amount above 0.00"),
    ("/fund", {"amount": "1.234"}, "at most two decimals"),
    ("/fund", {"amount": "NaN"}, "Enter an amount above 0.00"),
    ("/fund", {"amount": "2000000"}, "Enter an amount above 0.00"),
    ("/card-payment", {"amount": "5.00", "merchant": ""}, "Enter the merchant."),
    ("/card-payment", {"amount": "900.00", "merchant": "Big Shop"}, "insufficient funds"),
    ("/incoming-transfer", {"amount": "5.00", "payer": "Jo", "payer_account": "12",
                            "reference": "x"}, "6-digit sort code"),
    ("/incoming-transfer", {"amount": "5.00", "payer": "Jo", "payer_account": "20000012345678",
                            "reference": "r" * 19}, "at most 18 characters"),
])
def test_bad_input_shows_the_page_again_with_the_reason_and_moves_nothing(
        portal, platform, clock, suffix, form, message):
    username = portal.new_customer()
    account = portal.new_account(username)
    portal.post(f"/accounts/{account}/fund", {"amount": "100.00"})
    response = portal.post(f"/accounts/{account}{suffix}", form)
    assert response.status_code == 400
    assert message.lower() in portal.browser.html.lower()
    assert balances(platform, clock, account)["InterimBooked"] == gbp("100.00")


def test_an_unknown_behaviour_or_account_kind_is_refused(portal):
    assert portal.post("/customers", {"name": "X", "behaviour": "god-mode"}).status_code == 400
    assert "Choose one of the behaviours" in portal.browser.html
    username = portal.new_customer()
    assert portal.post(f"/customers/{username}/accounts", {"kind": "isa"}).status_code == 400
    assert portal.customers()[0].accounts == ()


def test_disabling_an_account_goes_through_the_ledger(portal, platform, clock):
    username = portal.new_customer()
    account = portal.new_account(username)
    assert portal.post(f"/accounts/{account}/disable").status_code == 200
    with platform.uow() as uow:
        row = uow.session.scalars(select(ledger_models.Account).where(
            ledger_models.Account.account_id == account)).one()
        assert row.status == "Disabled" and row.status_updated_at == clock.now()
    assert portal.post(f"/accounts/{account}/fund", {"amount": "1.00"}).status_code == 400
    assert f"Account {account} is Disabled." in portal.browser.html
    assert portal.post(f"/accounts/{account}/disable").status_code == 400
    assert "The account is Disabled already." in portal.browser.html
    assert balances(platform, clock, account)["InterimBooked"] == gbp("0.00")


# reset -------------------------------------------------------------------------------------
def test_reset_removes_the_apps_customers_revokes_its_consents_and_leaves_the_bank_alone(
        portal, other_portal, platform, clock):
    now = clock.now()
    with platform.uow() as uow:                      # the seeded bank, and another app's data
        seeded = factories.account(uow, now=now, funded="80.00")
        tpp = make_client(uow, now=now, name="Acme Money")
        portal.app_row(uow).client_id = tpp.client_id
        stranger_tpp = make_client(uow, now=now, name="Someone Else")
        mine = make_consent(uow, now=now, client=tpp, status="Authorised")
        theirs = make_consent(uow, now=now, client=stranger_tpp, status="Authorised")
        uow.commit()
    old = portal.new_customer()
    old_account = portal.new_account(old)
    portal.post(f"/accounts/{old_account}/fund", {"amount": "40.00"})
    kept = other_portal.new_customer()
    kept_account = other_portal.new_account(kept)

    assert portal.post("/reset").status_code == 200
    assert ("1 test customer(s) removed, 1 account(s) closed, 1 consent(s) revoked"
            in portal.browser.html)
    customers = portal.customers()
    assert len(customers) == 1 and customers[0].username != old
    new = customers[0]
    assert [(a.sub_type, a.booked) for a in new.accounts] == [
        ("CurrentAccount", gbp("1500.00")), ("Savings", gbp("5000.00"))]
    assert new.username in portal.browser.html and old not in portal.browser.html
    with platform.uow() as uow:
        statuses = dict(uow.session.execute(select(ledger_models.Account.account_id,
                                                   ledger_models.Account.status)).all())
        assert statuses[old_account] == "Deleted"
        assert statuses[kept_account] == statuses[seeded.account_id] == "Enabled"
        gone = identity.find_by_username(uow, old)
        assert not verify_password(gone.password_hash, SANDBOX_PASSWORD)
        assert uow.session.scalars(select(SandboxTestCustomer.removed_at).where(
            SandboxTestCustomer.psu_pk == gone.id)).one() == now
        consents = dict(uow.session.execute(select(Consent.consent_id, Consent.status)).all())
        assert consents[mine.consent_id] == "Revoked"
        assert consents[theirs.consent_id] == "Authorised"
    assert balances(platform, clock, seeded.account_id)["InterimBooked"] == gbp("80.00")
    assert balances(platform, clock, old_account)["InterimBooked"] == gbp("40.00")  # journal kept
    assert [c.username for c in other_portal.customers()] == [kept]
    assert_books_balance(platform)


def test_a_removed_customer_can_no_longer_log_in(portal, platform, clock):
    old = portal.new_customer()
    portal.post("/reset")
    with platform.uow() as uow:
        with pytest.raises(identity.InvalidCredentials):
            identity.authenticate_password(uow, old, SANDBOX_PASSWORD, "127.0.0.1", clock.now())
    assert portal.post(f"/customers/{old}/accounts", {"kind": "current"}).status_code == 404


# who may see it ----------------------------------------------------------------------------
def test_another_organisation_gets_404_for_every_page_and_form(portal, other_portal, platform):
    username = portal.new_customer()
    account = portal.new_account(username)
    outsider = other_portal.browser
    other_portal.open()                                   # a page with the outsider's token
    token = re.search(r'name="csrf_token" value="([^"]+)"', outsider.html).group(1)
    base = portal.url()
    assert outsider.http.get(base).status_code == 404
    for suffix, form in [("/customers", {"name": "Mallory"}),
                         (f"/customers/{username}/accounts", {"kind": "current"}),
                         (f"/accounts/{account}/fund", {"amount": "999.00"}),
                         (f"/accounts/{account}/card-payment", {"amount": "1", "merchant": "M"}),
                         (f"/accounts/{account}/incoming-transfer", {"amount": "1"}),
                         (f"/accounts/{account}/disable", {}), ("/reset", {})]:
        response = outsider.http.post(base + suffix, data={**form, "csrf_token": token})
        assert response.status_code == 404, suffix
        # nor through their own app's pages: the account is not theirs
        if suffix.startswith("/accounts"):
            own = outsider.http.post(other_portal.url(suffix), data={**form,
                                                                     "csrf_token": token})
            assert own.status_code == 404, suffix
    assert [c.username for c in portal.customers()] == [username]
    assert portal.customers()[0].accounts[0].status == "Enabled"
    assert balances(platform, portal.clock, account)["InterimBooked"] == gbp("0.00")
    assert other_portal.customers() == []


def test_a_visitor_is_sent_to_sign_in(app, portal):
    response = app.test_client().get(portal.url())
    assert response.status_code == 303 and "/developers/login" in response.headers["Location"]


def test_every_form_refuses_a_post_without_its_csrf_token(portal, platform):
    username = portal.new_customer()
    account = portal.new_account(username)
    before = portal.customers()
    for suffix, form in [("/customers", {"name": "X"}),
                         (f"/customers/{username}/accounts", {"kind": "current"}),
                         (f"/accounts/{account}/fund", {"amount": "1.00"}),
                         (f"/accounts/{account}/card-payment", {"amount": "1", "merchant": "M"}),
                         (f"/accounts/{account}/incoming-transfer", {"amount": "1"}),
                         (f"/accounts/{account}/disable", {}), ("/reset", {})]:
        response = portal.post(suffix, form, csrf=False, follow=False)
        assert response.status_code == 400, suffix
        assert "did not come from this site" in portal.browser.html
    assert portal.customers() == before


def test_the_default_customer_of_a_reset_is_funded_in_one_entry_per_account(portal, platform):
    portal.post("/reset")
    new = portal.customers()[0]
    with platform.uow() as uow:
        for account in new.accounts:
            row = uow.session.scalars(select(ledger_models.Account).where(
                ledger_models.Account.account_id == account.account_id)).one()
            entries = uow.session.scalars(select(ledger_models.JournalEntry).join(
                ledger_models.Posting).where(ledger_models.Posting.account_pk == row.id)).all()
            assert [e.kind for e in entries] == ["sandbox-funding"]
            assert len(entries[0].postings) == 2
        psu = uow.session.scalars(select(PsuUser).where(PsuUser.username == new.username)).one()
        assert psu.party.name == "Sam Sandbox"
    assert sum((a.booked.amount for a in new.accounts), Decimal(0)) == Decimal("6500.00")
    assert_books_balance(platform)
