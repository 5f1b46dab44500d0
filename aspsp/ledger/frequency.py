"""OBIE payment frequencies and the execution dates of a schedule. Pure: no Flask, no database.

The codes are those of the v3.1.11 Payment Initiation API (`OBDomesticStandingOrder3/Frequency`,
pattern in specs/obie/v3.1.11/payment-initiation-openapi.json):

    EvryDay                          every calendar day
    EvryWorkgDay                     every working day
    IntrvlDay:NN                     every NN calendar days (02 to 31)
    IntrvlWkDay:WW:DD                every WW weeks (01 to 09), on day DD of the week
                                     (01 Monday ... 07 Sunday)
    WkInMnthDay:WW:DD                every month, week WW of the month (01 to 05), day DD of the
                                     week: the WW-th such weekday of the month; a month with
                                     only four of them pays on its last (fourth) one
    IntrvlMnthDay:MM:DD              every MM months (01 to 06, 12, 24) on day DD (01 to 31;
                                     a month shorter than DD pays on its last day, so :31 pays
                                     on 28/29 February), or -01 to -05: the last day of the
                                     month, the second last, ... the fifth last
    QtrDay:ENGLISH|SCOTTISH|RECEIVED the quarter days: 25 Mar, 24 Jun, 29 Sep, 25 Dec (English);
                                     2 Feb, 15 May, 1 Aug, 11 Nov (Scottish); 20 Mar, 19 Jun,
                                     24 Sep, 20 Dec (received)

A schedule (`Schedule`) is the first payment date, optionally a first recurring date (the
profile: "populated only if the first recurring date is different to the first payment
date"), then the frequency's dates after it, ending with `NumberOfPayments` payments (the
first and final included) or with the payment on `FinalPaymentDateTime` (the profile: one
or the other, never both; neither is an open-ended order). The frequency counts from the
last explicit date: an interval of days, weeks or months from the first (or first recurring)
payment's day, week or month, and its dates after that one follow, in that same week or month
too (as an iCalendar rule follows its start: a first payment on 5 January with
IntrvlMnthDay:01:-01 is followed by 31 January).

Working days. The profile leaves non-working days to the ASPSP; this bank's practice, as UK
banks do for standing orders, is: a payment whose date is not a working day (a Saturday, a
Sunday or an England & Wales bank holiday) is made on the next working day, and the
schedule's later dates do not move (the next one still counts from the date the frequency
gives, so a month-end order rolled into the next month pays again at that month's end). The
calendar-day codes `EvryDay` and `IntrvlDay` are the exception: they name calendar days and
Faster Payments settle every day, so they pay on the day itself, weekends included.
`EvryWorkgDay` pays on working days only. A date the roll would make fall on or before the
schedule's previous payment is dropped (never two payments of one schedule on one day).
Dates are the UTC dates of the datetimes; each payment keeps the time of day of the datetime
its date came from.
"""
from __future__ import annotations

import calendar
import functools
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterator, Protocol


class FrequencyError(ValueError):
    """A frequency code or a schedule that cannot be paid, with a message a TPP can act on.
    `field` names the OB Initiation field at fault."""

    def __init__(self, message: str, field: str = "Frequency"):
        super().__init__(message)
        self.message = message
        self.field = field


# --- working days ------------------------------------------------------------------------
class WorkingDayCalendar(Protocol):
    def is_working_day(self, day: date) -> bool: ...


@functools.lru_cache(maxsize=64)
def england_and_wales_bank_holidays(year: int) -> frozenset[date]:
    """The bank holidays of England and Wales in `year`, substitute days and one-off
    holidays (jubilees, coronations, state funerals) included, from the `holidays` package
    (imported on first use: a few hundred milliseconds a process need not pay at start)."""
    import holidays

    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


class EnglandAndWales:
    """Working days of England and Wales: Monday to Friday except bank holidays."""

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in england_and_wales_bank_holidays(day.year)


UK_WORKING_DAYS = EnglandAndWales()


def next_working_day(day: date, days: WorkingDayCalendar = UK_WORKING_DAYS) -> date:
    """`day` itself if it is a working day, else the first working day after it."""
    while not days.is_working_day(day):
        day += timedelta(days=1)
    return day


# --- frequency codes ---------------------------------------------------------------------
QUARTER_DAYS = {
    "ENGLISH": ((3, 25), (6, 24), (9, 29), (12, 25)),
    "SCOTTISH": ((2, 2), (5, 15), (8, 1), (11, 11)),
    "RECEIVED": ((3, 20), (6, 19), (9, 24), (12, 20)),
}
MONTH_INTERVALS = (1, 2, 3, 4, 5, 6, 12, 24)
PATTERN = re.compile(
    r"^(EvryDay)$|^(EvryWorkgDay)$|^(IntrvlDay:((0[2-9])|([1-2][0-9])|3[0-1]))$"
    r"|^(IntrvlWkDay:0[1-9]:0[1-7])$|^(WkInMnthDay:0[1-5]:0[1-7])$"
    r"|^(IntrvlMnthDay:(0[1-6]|12|24):(-0[1-5]|0[1-9]|[12][0-9]|3[01]))$"
    r"|^(QtrDay:(ENGLISH|SCOTTISH|RECEIVED))$")
CODES = ("EvryDay", "EvryWorkgDay", "IntrvlDay", "IntrvlWkDay", "WkInMnthDay", "IntrvlMnthDay",
         "QtrDay")
_FORMS = {
    "EvryDay": "EvryDay",
    "EvryWorkgDay": "EvryWorkgDay",
    "IntrvlDay": "IntrvlDay:NN with NN the number of calendar days, 02 to 31",
    "IntrvlWkDay": "IntrvlWkDay:WW:DD with WW the interval in weeks, 01 to 09, and DD the day "
                   "of the week, 01 (Monday) to 07 (Sunday)",
    "WkInMnthDay": "WkInMnthDay:WW:DD with WW the week of the month, 01 to 05, and DD the day "
                   "of the week, 01 (Monday) to 07 (Sunday)",
    "IntrvlMnthDay": "IntrvlMnthDay:MM:DD with MM the interval in months (01 to 06, 12 or 24) "
                     "and DD the day of the month (01 to 31, or -01 for the last day to -05 "
                     "for the fifth last)",
    "QtrDay": "QtrDay:ENGLISH, QtrDay:SCOTTISH or QtrDay:RECEIVED",
}


@dataclass(frozen=True)
class Frequency:
    code: str                 # the text as given, e.g. IntrvlMnthDay:01:-01
    kind: str                 # one of CODES
    interval: int = 1         # days, weeks or months between payments
    day: int = 0              # day of week (1-7) or of month (-5..-1, 1..31)
    week: int = 0             # WkInMnthDay's week of the month (1-5)
    quarter: str = ""         # QtrDay's set of quarter days

    @property
    def counts_calendar_days(self) -> bool:
        """EvryDay and IntrvlDay pay on the day itself, working day or not."""
        return self.kind in ("EvryDay", "IntrvlDay")

    def __str__(self) -> str:
        return self.code


def parse(text: str) -> Frequency:
    """The frequency of an OBIE code, or FrequencyError saying what is wrong and the form
    expected."""
    if not isinstance(text, str) or not text:
        raise FrequencyError("Frequency is required: one of " + ", ".join(_FORMS.values()))
    kind, _, rest = text.partition(":")
    if kind not in _FORMS:
        raise FrequencyError(
            f"Frequency '{_shown(text)}' is not an OBIE frequency code: expected one of "
            + ", ".join(CODES))
    if not PATTERN.match(text):
        raise FrequencyError(f"Frequency '{_shown(text)}' is not valid: expected "
                             f"{_FORMS[kind]}")
    parts = rest.split(":") if rest else []
    if kind in ("EvryDay", "EvryWorkgDay"):
        return Frequency(text, kind)
    if kind == "IntrvlDay":
        return Frequency(text, kind, interval=int(parts[0]))
    if kind == "IntrvlWkDay":
        return Frequency(text, kind, interval=int(parts[0]), day=int(parts[1]))
    if kind == "WkInMnthDay":
        return Frequency(text, kind, week=int(parts[0]), day=int(parts[1]))
    if kind == "IntrvlMnthDay":
        return Frequency(text, kind, interval=int(parts[0]), day=int(parts[1]))
    return Frequency(text, kind, quarter=parts[0])


def _shown(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def day_of_month(year: int, month: int, day: int) -> date:
    """Day `day` of the month (1..31, capped at the month's last day) or, negative, counted
    from its end: -1 the last day, -2 the second last..."""
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day, last) if day > 0 else last + 1 + day)


def weekday_in_month(year: int, month: int, week: int, weekday: int) -> date:
    """The `week`-th `weekday` (1 Monday .. 7 Sunday) of the month; the last one if the month
    has fewer."""
    first = date(year, month, 1)
    day = first + timedelta(days=(weekday - 1 - first.weekday()) % 7 + 7 * (week - 1))
    while day.month != month:
        day -= timedelta(days=7)
    return day


def occurrences(frequency: Frequency, anchor: date,
                days: WorkingDayCalendar = UK_WORKING_DAYS) -> Iterator[date]:
    """The frequency's (unrolled) dates strictly after `anchor`, counting intervals from
    `anchor`'s day, week or month. Endless."""
    kind = frequency.kind
    if kind == "EvryDay" or kind == "IntrvlDay":
        step = timedelta(days=frequency.interval)
        day = anchor + step
        while True:
            yield day
            day += step
    elif kind == "EvryWorkgDay":
        day = anchor
        while True:
            day = next_working_day(day + timedelta(days=1), days)
            yield day
    elif kind == "IntrvlWkDay":
        monday = anchor - timedelta(days=anchor.weekday())
        while True:
            day = monday + timedelta(days=frequency.day - 1)
            if day > anchor:
                yield day
            monday += timedelta(weeks=frequency.interval)
    elif kind in ("WkInMnthDay", "IntrvlMnthDay"):
        year, month = anchor.year, anchor.month
        while True:
            day = (weekday_in_month(year, month, frequency.week, frequency.day)
                   if kind == "WkInMnthDay" else day_of_month(year, month, frequency.day))
            if day > anchor:
                yield day
            year, month = _add_months(year, month, frequency.interval)
    else:  # QtrDay
        year = anchor.year
        while True:
            for month, day_number in QUARTER_DAYS[frequency.quarter]:
                day = date(year, month, day_number)
                if day > anchor:
                    yield day
            year += 1


def execution_date(nominal: date, frequency: Frequency | None = None,
                   days: WorkingDayCalendar = UK_WORKING_DAYS) -> date:
    """The day a payment due on `nominal` is made: the next working day unless the frequency
    counts calendar days. A one-off (frequency None) rolls like a standing order."""
    if frequency is not None and frequency.counts_calendar_days:
        return nominal
    return next_working_day(nominal, days)


# --- schedules ---------------------------------------------------------------------------
FIRST, RECURRING, FINAL = "first", "recurring", "final"


@dataclass(frozen=True)
class Instalment:
    number: int               # 1 for the first payment
    due: datetime             # when it is paid: its execution date at its time of day (UTC)
    nominal: date             # the date the schedule gives, before any roll
    role: str                 # first, recurring or final (the amount it pays)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise FrequencyError("a payment date-time needs its time zone offset",
                             "FirstPaymentDateTime")
    return value.astimezone(timezone.utc)


def _at(day: date, clock_time: time) -> datetime:
    return datetime.combine(day, clock_time, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Schedule:
    """A standing order's dates. `number_of_payments` and `final_payment` exclude each other;
    with neither it never ends."""
    frequency: Frequency
    first_payment: datetime
    recurring_payment: datetime | None = None
    final_payment: datetime | None = None
    number_of_payments: int | None = None
    days: WorkingDayCalendar = UK_WORKING_DAYS

    def __post_init__(self):
        first = _utc(self.first_payment)
        if self.number_of_payments is not None and self.final_payment is not None:
            raise FrequencyError("give NumberOfPayments or FinalPaymentDateTime, not both",
                                 "NumberOfPayments")
        if self.number_of_payments is not None and self.number_of_payments < 1:
            raise FrequencyError("NumberOfPayments must be a whole number of at least 1",
                                 "NumberOfPayments")
        if self.recurring_payment is not None and \
                _utc(self.recurring_payment).date() <= first.date():
            raise FrequencyError("RecurringPaymentDateTime must be a day after "
                                 "FirstPaymentDateTime", "RecurringPaymentDateTime")
        if self.final_payment is not None:
            final = _utc(self.final_payment).date()
            if final < first.date():
                raise FrequencyError("FinalPaymentDateTime must not be before "
                                     "FirstPaymentDateTime", "FinalPaymentDateTime")
            if self.recurring_payment is not None and \
                    final < _utc(self.recurring_payment).date():
                raise FrequencyError("FinalPaymentDateTime must not be before "
                                     "RecurringPaymentDateTime", "FinalPaymentDateTime")

    @property
    def open_ended(self) -> bool:
        return self.number_of_payments is None and self.final_payment is None

    def _roll(self, nominal: date) -> date:
        return execution_date(nominal, self.frequency, self.days)

    def _candidates(self) -> Iterator[tuple[date, datetime]]:
        """(nominal date, datetime whose time of day it keeps) of the first payment, the
        first recurring one, then the frequency's dates: before any end is applied."""
        first = _utc(self.first_payment)
        yield first.date(), first
        anchor = first
        if self.recurring_payment is not None:
            anchor = _utc(self.recurring_payment)
            yield anchor.date(), anchor
        for nominal in occurrences(self.frequency, anchor.date(), self.days):
            yield nominal, anchor

    def instalments(self) -> Iterator[Instalment]:
        """Every payment in date order, each with its execution date-time. Endless when the
        schedule is open-ended."""
        final = _utc(self.final_payment) if self.final_payment is not None else None
        final_day = self._roll(final.date()) if final is not None else None
        number, previous = 0, None
        for nominal, source in self._candidates():
            day = self._roll(nominal)
            if previous is not None and day <= previous:
                continue
            if final_day is not None and day >= final_day:
                break
            number += 1
            last = self.number_of_payments is not None and number == self.number_of_payments
            role = FIRST if number == 1 else FINAL if last and number > 1 else RECURRING
            yield Instalment(number, _at(day, source.time()), nominal,
                             role)
            previous = day
            if last:
                return
        if final is not None:
            yield Instalment(number + 1, _at(final_day, final.time()),
                             final.date(), FIRST if number == 0 else FINAL)

    def instalment(self, number: int) -> Instalment | None:
        """The `number`-th payment (1-based), or None past the schedule's end."""
        for instalment in self.instalments():
            if instalment.number == number:
                return instalment
            if instalment.number > number:
                break
        return None

    def dates(self, limit: int) -> list[date]:
        """The first `limit` execution dates (fewer if the schedule ends first)."""
        out = []
        for instalment in self.instalments():
            if len(out) >= limit:
                break
            out.append(instalment.due.date())
        return out


def one_off_due(requested: datetime, days: WorkingDayCalendar = UK_WORKING_DAYS) -> datetime:
    """When a scheduled payment requested for `requested` is made: its date rolled to the
    next working day, at its time of day."""
    requested = _utc(requested)
    return _at(execution_date(requested.date(), None, days), requested.time())
