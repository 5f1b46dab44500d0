"""How the customer's pages say things: consent states and history in the customer's words,
and times in UK local time with the zone named ("15 June 2026, 13:00 BST").

Pure functions over consent.services' records: no Flask, no database. Status names
(Authorised, Revoked ...) are the standard's words, not the customer's: they never reach a page.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from .domain import (DELETED_BY_TPP, EXPIRY_PASSED, REAUTHENTICATED, REVOKED_BY_BANK,
                     REVOKED_BY_PSU, Actor, ConsentStatus)

UK = ZoneInfo("Europe/London")
S = ConsentStatus

# What a consent's status means to its customer: (badge, css class).
STATUS = {
    S.AWAITING_AUTHORISATION: ("Waiting for your answer", "waiting"),
    S.AWAITING_UPLOAD: ("Waiting for your answer", "waiting"),
    S.AUTHORISED: ("Active", "active"),
    S.REJECTED: ("Refused", "ended"),
    S.REVOKED: ("Access stopped", "ended"),
    S.EXPIRED: ("Expired", "ended"),
    S.CONSUMED: ("Used", "ended"),
}


def uk_time(moment: datetime | None, empty: str = "—") -> str:
    """A moment in UK local time, the zone named: '15 June 2026, 13:00 BST'."""
    if moment is None:
        return empty
    local = moment.astimezone(UK)
    return f"{local.day} {local:%B %Y, %H:%M} {local.tzname()}"


def uk_day(moment: datetime | None, empty: str = "—") -> str:
    """The UK calendar day of a moment: '15 June 2026'."""
    if moment is None:
        return empty
    local = moment.astimezone(UK)
    return f"{local.day} {local:%B %Y}"


def status_badge(status: str) -> tuple[str, str]:
    return STATUS.get(ConsentStatus(status), ("", "ended"))


@dataclass(frozen=True)
class Fact:
    """One line of the consent's summary: 'Access stopped' - '15 June 2026, 13:00 BST'."""
    label: str
    value: str


def end_fact(status: str, expiration: datetime | None, status_updated_at: datetime,
             ended_by_app: bool, app: str) -> Fact:
    """When access ends, or when and how it ended."""
    status = ConsentStatus(status)
    if status == S.REVOKED:
        return Fact(f"Stopped by {app}" if ended_by_app else "You stopped access",
                    uk_time(status_updated_at))
    if status == S.REJECTED:
        return Fact("Refused", uk_time(status_updated_at))
    if status == S.EXPIRED:
        return Fact("Access ended", uk_time(expiration or status_updated_at))
    if status == S.CONSUMED:
        return Fact("Used", uk_time(status_updated_at))
    return Fact("Access ends", uk_time(expiration, "when you stop it (no end date)"))


def stopped_fact(reason: str | None, at: datetime) -> Fact:
    """A VRP consent whose access was stopped, its status kept (until confirmed again)."""
    by_bank = (reason or "").startswith(REVOKED_BY_BANK)
    return Fact("The bank stopped access" if by_bank else "You stopped access", uk_time(at))


def history_line(from_status: str | None, to_status: str, actor: str, reason: str | None,
                 app: str, *, payment: bool = False, funds: bool = False) -> str:
    """One event of a consent's history, as the customer would say it (`payment`: the
    consent asks for a payment, not for account information; `funds`: it asks to check
    whether an account has enough money for a payment)."""
    before = ConsentStatus(from_status) if from_status else None
    after = ConsentStatus(to_status)
    if before is None:
        if funds:
            return f"{app} asked to check whether your account has enough money for payments"
        return f"{app} asked to make a payment" if payment else \
            f"{app} asked to see your account information"
    if after == S.AUTHORISED:
        if before == S.AUTHORISED and (reason or "").startswith(REVOKED_BY_BANK):
            return f"The bank stopped {app}'s access until you confirm it again"
        if before == S.AUTHORISED and reason == REVOKED_BY_PSU:
            return f"You stopped {app}'s access until you confirm it again"
        if payment and reason == REAUTHENTICATED:       # a VRP consent, confirmed again
            return "You confirmed the payments again"
        if payment:
            return "You approved the payment"
        return "You confirmed access again" if reason == REAUTHENTICATED else \
            "You approved access"
    if after == S.REJECTED:
        if actor == Actor.PSU:
            return "You refused the request"
        return "The bank refused the payment" if payment and before == S.AUTHORISED else \
            "The request was not completed, so it was cancelled"
    if after == S.REVOKED:
        if actor == Actor.PSU:
            return "You stopped access"
        if reason == DELETED_BY_TPP and before == S.AWAITING_AUTHORISATION:
            return f"{app} withdrew its request"
        return f"{app} ended its access"
    if after == S.EXPIRED:
        return "The request expired before it was answered" \
            if before in (S.AWAITING_AUTHORISATION, S.AWAITING_UPLOAD) else \
            "Access ended on its end date"
    if after == S.CONSUMED:
        return "The payment was made"
    if after == S.AWAITING_AUTHORISATION:
        return f"{app} sent the payment file"
    return "The request changed"


@dataclass(frozen=True)
class HistoryLine:
    when: str
    text: str


def history(events, *, status: str, expiration: datetime | None, app: str,
            payment: bool = False, funds: bool = False) -> list[HistoryLine]:
    """The consent's history, oldest first; an expiry that has passed but is not recorded
    yet (nobody touched the consent since) is shown too."""
    lines = [HistoryLine(uk_time(e.at), history_line(e.from_status, e.to_status, e.actor,
                                                     e.reason, app, payment=payment,
                                                     funds=funds))
             for e in events]
    recorded_expiry = any(e.to_status == S.EXPIRED or e.reason == EXPIRY_PASSED for e in events)
    if ConsentStatus(status) == S.EXPIRED and not recorded_expiry and events:
        lines.append(HistoryLine(uk_time(expiration), history_line(
            events[-1].to_status, S.EXPIRED, Actor.SYSTEM, EXPIRY_PASSED, app,
            payment=payment)))
    return lines


# --- payments: money, accounts and schedules in the customer's words ------------------------

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ORDINAL_WORDS = ("first", "second", "third", "fourth", "fifth")
QUARTER_DAYS = {   # OBIE's QtrDay definitions
    "ENGLISH": "25 March, 24 June, 29 September and 25 December (the English quarter days)",
    "SCOTTISH": "2 February, 15 May, 1 August and 11 November (the Scottish quarter days)",
    "RECEIVED": "20 March, 19 June, 24 September and 20 December",
}


def money(amount: str | None, currency: str | None) -> str:
    """An amount as the customer reads it: '£12.50', '€1,000.00', '-£3.20'; an amount or a
    currency the formatter does not know is shown as sent, the currency code after it."""
    from decimal import Decimal, InvalidOperation

    from babel.numbers import format_currency, get_currency_precision, is_currency

    if amount is None:
        return "—"
    as_sent = f"{amount} {currency or ''}".strip()
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return as_sent
    if not value.is_finite() or not isinstance(currency, str) or not is_currency(currency) \
            or -value.as_tuple().exponent > max(get_currency_precision(currency), 0):
        return as_sent                   # never rounded: the customer sees what was asked
    return format_currency(value, currency, locale="en_GB")


def account_number(scheme: str | None, identification: str | None) -> str:
    """A payee's or payer's account as printed on a cheque book or statement:
    sort code and account number '12-34-56 12345678', an IBAN in groups of four."""
    ident = "".join(str(identification or "").split())
    scheme = str(scheme or "")
    if scheme.endswith("SortCodeAccountNumber") and len(ident) == 14 and ident.isdigit():
        return f"{ident[0:2]}-{ident[2:4]}-{ident[4:6]} {ident[6:]}"
    if scheme.endswith("IBAN"):
        ident = ident.upper()
        return " ".join(ident[i:i + 4] for i in range(0, len(ident), 4))
    return ident


def _day_of_month(value: int) -> str:
    if value < 0:
        return "last day" if value == -1 else f"{_ordinal(-value)} to last day"
    return _ordinal(value)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _every(count: int, unit: str) -> str:
    return f"Every {unit}" if count == 1 else f"Every {count} {unit}s"


def frequency(code: str | None) -> str:
    """An OBIE Frequency code in words: 'EvryWorkgDay' -> 'Every working day',
    'IntrvlWkDay:02:05' -> 'Every 2 weeks on Friday', 'IntrvlMnthDay:01:-01' -> 'Every month
    on the last day'. A code that does not parse is shown as it is."""
    import re

    code = str(code or "")
    if code == "EvryDay":
        return "Every day"
    if code == "EvryWorkgDay":
        return "Every working day"
    if m := re.fullmatch(r"IntrvlDay:(\d\d)", code):
        return _every(int(m.group(1)), "day")
    if m := re.fullmatch(r"IntrvlWkDay:(0[1-9]):(0[1-7])", code):
        return f"{_every(int(m.group(1)), 'week')} on {WEEKDAYS[int(m.group(2)) - 1]}"
    if m := re.fullmatch(r"WkInMnthDay:(0[1-5]):(0[1-7])", code):
        return (f"Every month on the {ORDINAL_WORDS[int(m.group(1)) - 1]} "
                f"{WEEKDAYS[int(m.group(2)) - 1]}")
    if m := re.fullmatch(r"IntrvlMnthDay:(0[1-6]|12|24):(-0[1-5]|0[1-9]|[12][0-9]|3[01])", code):
        return (f"{_every(int(m.group(1)), 'month')} on the "
                f"{_day_of_month(int(m.group(2)))}")
    if m := re.fullmatch(r"QtrDay:(ENGLISH|SCOTTISH|RECEIVED)", code):
        return f"Every quarter on {QUARTER_DAYS[m.group(1)]}"
    return code
