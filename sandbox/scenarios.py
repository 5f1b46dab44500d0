"""Scenario users and magic values: what a TPP developer can make the sandbox do, in one table.

SCENARIOS is the single source of truth: the portal page /developers/sandbox/scenarios renders
it, README.md's "Sandbox magic values" section is generated from it (`python -m
sandbox.scenarios` prints the section; tests/unit/test_sandbox_scenarios_readme.py fails when
they differ), and each row names the code that makes it true and is driven by a test
(tests/integration/sandbox/test_scenarios.py).

The behaviour the sandbox adds lives here and is wired in by sandbox.init_app only while
SANDBOX_ENABLED, through hooks the platform exposes; production never meets it:
- ScenarioScheme wraps the platform's payment scheme (Platform.scheme): the magic amounts are
  rejected, or held undecided (the ledger leaves a held payment in process);
- the consent expiring in a minute: a mapper hook on new consents, active only in an app the
  sandbox marked (app.extensions[EXTENSION]);
- the customer whose SCA always fails: identity's SandboxCustomers (sandbox/test_data.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

from flask import Blueprint, Flask, current_app, has_app_context, render_template
from markupsafe import Markup, escape

from aspsp import web_pages
from aspsp.ledger.scheme import SchemeResult, SchemeSubmission, SimulatedFasterPayments

EXTENSION = "sandbox.scenarios"

REJECTED_AMOUNT = Decimal("666.66")
HELD_AMOUNT = Decimal("777.77")
ONE_MINUTE_EXPIRY = datetime(2099, 1, 1, 0, 1, tzinfo=timezone.utc)
ONE_MINUTE = timedelta(seconds=60)
REJECTED_REASON = f"Rejected by the receiving bank (sandbox amount {REJECTED_AMOUNT})"


@dataclass(frozen=True)
class Scenario:
    key: str
    api: str           # where the developer meets it
    trigger: str       # what the developer does (`code` in backticks)
    outcome: str       # what happens
    code: str          # where the behaviour is implemented


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("sca-fails", "customer login (any consent)",
             "log in as a test customer made with the behaviour *SCA always fails* (your app's "
             "Sandbox test data page)",
             "every one-time code is refused (the right one and `123456` alike, and a "
             "payment's signed code too): the consent is never authorised; after five tries "
             "the login locks for 15 minutes from that address",
             "aspsp/identity/services.py sandbox_sca_refused, sandbox/test_data.py"),
    Scenario("creditor-rejects", "payments to another bank",
             "`CreditorAccount` a `UK.OBIE.SortCodeAccountNumber` ending "
             f"`{SimulatedFasterPayments.REJECTED_ACCOUNT_NUMBER}`, or an IBAN ending in it",
             "the simulated Faster Payments scheme rejects it (\"Beneficiary account closed\"): "
             "the payment ends `Rejected` and a reversing entry gives the money back",
             "aspsp/ledger/scheme.py SimulatedFasterPayments"),
    Scenario("amount-rejected", "payments to another bank",
             f"`InstructedAmount` `{REJECTED_AMOUNT}` to a creditor at another bank",
             "the scheme rejects it (\"Rejected by the receiving bank\"): the payment ends "
             "`Rejected` and a reversing entry gives the money back",
             "sandbox/scenarios.py ScenarioScheme"),
    Scenario("amount-pending", "payments to another bank",
             f"`InstructedAmount` `{HELD_AMOUNT}` to a creditor at another bank",
             "the scheme never answers: the payment stays `AcceptedSettlementInProcess` "
             "(StatusReason `PendingSettlement`), its debit pending on the account",
             "sandbox/scenarios.py ScenarioScheme, aspsp/ledger/tasks.py"),
    Scenario("insufficient-funds", "payments (PIS)",
             "an amount above the debtor account's available balance plus its arranged "
             "overdraft",
             "the payment order is `Rejected` when it executes, reason \"Insufficient funds in "
             "the debtor account\"; nothing is posted",
             "aspsp/ledger/domain.py AccountRules.ensure_affordable"),
    Scenario("debtor-disabled", "payments (PIS)",
             "pay from an account that is not `Enabled` (disable it on the Sandbox test data "
             "page after the consent is authorised)",
             "`Rejected`, reason \"The debtor account is not enabled\"",
             "aspsp/ledger/domain.py AccountRules.ensure_can_post"),
    Scenario("consent-expires-in-a-minute", "account-access consents",
             f"`ExpirationDateTime` `{ONE_MINUTE_EXPIRY.isoformat()}` in the consent request",
             "the consent expires 60 seconds after it is created (the response's "
             "`ExpirationDateTime` says when): from then on its tokens get a bare 401 "
             "`invalid_token`, and v3.1 shows it `Authorised` with its expiry past (`Rejected` "
             "if it was never authorised)",
             "sandbox/scenarios.py one_minute_consents"),
)


# the README section and the page --------------------------------------------------------
README_HEADING = "## Sandbox magic values"
README_INTRO = ("Generated from `sandbox/scenarios.py` (`python -m sandbox.scenarios`; a unit "
                "test\nkeeps them equal); the portal shows the same table at\n"
                "`/developers/sandbox/scenarios`. Sandbox only: production has none of them.")


def readme_table() -> str:
    rows = ["| where | what you do | what happens |", "|---|---|---|"]
    rows += [f"| {s.api} | {s.trigger} | {s.outcome} |" for s in SCENARIOS]
    return "\n".join(rows)


def readme_section() -> str:
    return f"{README_HEADING}\n\n{README_INTRO}\n\n{readme_table()}\n"


_MARKS = re.compile(r"`([^`]+)`|\*([^*]+)\*")


def rich(text: str) -> Markup:
    """The table's `code` and *emphasis* as HTML, everything else escaped."""
    out, last = [], 0
    for match in _MARKS.finditer(text):
        out.append(escape(text[last:match.start()]))
        if match.group(1) is not None:
            out.append(Markup("<code>%s</code>") % match.group(1))
        else:
            out.append(Markup("<em>%s</em>") % match.group(2))
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


bp = Blueprint("sandbox_scenarios", __name__, url_prefix="/developers/sandbox",
               template_folder="templates")
web_pages.protect_pages(bp)


@bp.get("/scenarios")
def page():
    """Public: the table holds no secrets, and a developer reads it before signing up."""
    return render_template("sandbox/scenarios.html", scenarios=SCENARIOS, rich=rich)


# the payment scheme's magic amounts ------------------------------------------------------
class ScenarioScheme:
    """The platform's scheme with the sandbox's magic amounts in front: REJECTED_AMOUNT is
    rejected, HELD_AMOUNT held undecided (None: the payment stays in process); anything else
    goes to the scheme it wraps. Same answer for the same payment every time."""

    def __init__(self, inner):
        self.inner = inner
        self.name = getattr(inner, "name", "scheme")

    def submit(self, submission: SchemeSubmission) -> SchemeResult | None:
        try:
            amount = Decimal(submission.amount)
        except InvalidOperation:
            amount = None
        if amount == REJECTED_AMOUNT:
            return SchemeResult(False, reason=REJECTED_REASON)
        if amount == HELD_AMOUNT:
            return None
        return self.inner.submit(submission)

    def __getattr__(self, name):           # the wrapped scheme's own record, for tools
        return getattr(self.inner, name)


# the consent that expires in a minute ----------------------------------------------------
def _one_minute_expiry(mapper, connection, consent) -> None:
    """A new consent asking for ONE_MINUTE_EXPIRY expires a minute after its creation, in an
    app the sandbox is wired into (and nowhere else)."""
    if not (has_app_context() and current_app.extensions.get(EXTENSION)):
        return
    expiry = consent.expiration_datetime
    if expiry is not None and expiry.astimezone(timezone.utc) == ONE_MINUTE_EXPIRY:
        consent.expiration_datetime = consent.created_at + ONE_MINUTE


_listening = False


def one_minute_consents() -> None:
    global _listening
    if _listening:
        return
    from sqlalchemy import event

    from consent.models import Consent
    event.listen(Consent, "before_insert", _one_minute_expiry)
    _listening = True


def init_app(app: Flask) -> None:
    """Only while SANDBOX_ENABLED (sandbox.init_app)."""
    from aspsp.identity.services import SANDBOX_CUSTOMERS

    from .test_data import SandboxCustomersPolicy
    platform = app.extensions["aspsp"]
    if not isinstance(platform.scheme, ScenarioScheme):
        platform.scheme = ScenarioScheme(platform.scheme)
    app.extensions[EXTENSION] = True
    app.extensions[SANDBOX_CUSTOMERS] = SandboxCustomersPolicy()
    one_minute_consents()
    app.register_blueprint(bp)
    from developer_portal import add_nav
    add_nav(app, "Sandbox scenarios", "sandbox_scenarios.page")


if __name__ == "__main__":
    print(readme_section())
