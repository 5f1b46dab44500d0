"""The rules of variable recurring payments, pure: what a VRP consent's ControlParameters may
say, the periods its PeriodicLimits run over, and whether one more VRP fits them.

No Flask, no SQLAlchemy. Problems come back as values (aspsp.pis.domain.Problem, all of
them); the API layer gives each kind its OB code. What a period is, from the OBIE VRP
resource docs (domestic-vrp-consents, OBDomesticVRPControlParameters, v3.1.10/v3.1.11):

- periods are whole days: "the time element of the date should be disregarded in computing
  the date range and pro-rating"; the bank's days are UK days (Europe/London), so a period
  starts at midnight UK time, 23:00 or 00:00 UTC depending on the season;
- `Consent` alignment: the periods start on the day the consent was created and follow each
  other (a Month from 5 June runs to 4 July; from 31 January the next starts on 28 or 29
  February, then 31 March: each start is counted from the consent's day, never chained);
- `Calendar` alignment: the periods are the calendar's (a Week from Monday, a Month from the
  1st, a Half-year from 1 January or 1 July, a Year from 1 January) and the first one, the
  one the consent was created in, has its limit pro-rated to the days left in it, the
  consent's day included (Month from 6 June, 300.00: 250.00; Year from 5 June 2021, 500.00:
  500 x 210 / 365 = 287.67). Pro-rated amounts are rounded down to the currency's minor
  unit: the limit never allows more than the profile's arithmetic does;
- a `Fortnight` has no calendar ("the ISO calendar does not ... say when a fortnight should
  start"): its alignment must be `Consent`.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_DOWN, Decimal
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo

from ..ledger.money import Money, minor_units
from ..pis.domain import (DOMESTIC_CURRENCIES, DOMESTIC_LOCAL_INSTRUMENTS, Problem,
                          ProblemKind, account_problems, amount_problems,
                          normalised_identification)

UK = ZoneInfo("Europe/London")
PERIOD_TYPES = ("Day", "Week", "Fortnight", "Month", "Half-year", "Year")
ALIGNMENTS = ("Consent", "Calendar")
SWEEPING, OTHER = "UK.OBIE.VRPType.Sweeping", "UK.OBIE.VRPType.Other"
VRP_TYPES = (SWEEPING, OTHER)
SCA, SCA_NOT_REQUIRED = "UK.OBIE.SCA", "UK.OBIE.SCANotRequired"
AUTHENTICATION_METHODS = (SCA, SCA_NOT_REQUIRED)
INTERACTION_TYPES = ("InSession", "OffSession")
CONTROLS = "Data.ControlParameters"
# (start, end) in UTC -> what the consent's VRPs (not rejected) used in it
UsedIn = Callable[[datetime, datetime], Decimal]


class FailsControlParameters(Exception):
    """One more VRP would break a control parameter (`field`, its path in the consent)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


# --- periods ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    """[start, end) in UK days, and the limit that applies in it."""
    start: date
    end: date                 # the first day of the next period
    limit: Decimal

    def bounds_utc(self) -> tuple[datetime, datetime]:
        """The period as UTC instants: from midnight UK time on `start` to midnight on
        `end`."""
        return uk_midnight(self.start), uk_midnight(self.end)


def uk_day(moment: datetime) -> date:
    return moment.astimezone(UK).date()


def uk_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UK).astimezone(timezone.utc)


def add_months(day: date, months: int) -> date:
    """`day` moved by `months` whole months, on the same day of the month or, when that month
    is shorter, its last day (31 January + 1 month = 28 or 29 February)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


_MONTHS = {"Month": 1, "Half-year": 6, "Year": 12}
_DAYS = {"Day": 1, "Week": 7, "Fortnight": 14}


def consent_period(period_type: str, anchor: date, today: date) -> tuple[date, date]:
    """The period of `period_type` counted from `anchor` (the consent's day) holding
    `today`."""
    if period_type in _DAYS:
        length = _DAYS[period_type]
        start = anchor + timedelta(days=((today - anchor).days // length) * length)
        return start, start + timedelta(days=length)
    step = _MONTHS[period_type]
    months = ((today.year - anchor.year) * 12 + today.month - anchor.month) // step * step
    start = add_months(anchor, months)
    if start > today:                  # not yet this month's day: the period before
        months -= step
        start = add_months(anchor, months)
    return start, add_months(anchor, months + step)


def calendar_period(period_type: str, today: date) -> tuple[date, date]:
    """The calendar period of `period_type` holding `today` (Fortnight has none)."""
    if period_type == "Day":
        return today, today + timedelta(days=1)
    if period_type == "Week":                       # ISO weeks: Monday to Sunday
        start = today - timedelta(days=today.weekday())
        return start, start + timedelta(days=7)
    if period_type == "Month":
        start = today.replace(day=1)
        return start, add_months(start, 1)
    if period_type == "Half-year":
        start = date(today.year, 1 if today.month <= 6 else 7, 1)
        return start, add_months(start, 6)
    if period_type == "Year":
        start = date(today.year, 1, 1)
        return start, date(today.year + 1, 1, 1)
    raise ValueError(f"a {period_type} has no calendar alignment")


def period_of(limit: Mapping[str, Any], created: date, today: date) -> Period:
    """The period of one PeriodicLimit holding `today` for a consent created on `created`
    (UK days), with the limit that applies in it (pro-rated in a Calendar limit's first
    period)."""
    amount = Decimal(str(limit["Amount"]))
    if limit["PeriodAlignment"] == "Consent":
        start, end = consent_period(limit["PeriodType"], created, today)
        return Period(start, end, amount)
    start, end = calendar_period(limit["PeriodType"], today)
    if start <= created < end:                      # the first period: pro-rated
        left, days = (end - created).days, (end - start).days
        quantum = Decimal(1).scaleb(-minor_units(str(limit["Currency"])))
        amount = (amount * left / days).quantize(quantum, rounding=ROUND_DOWN)
    return Period(start, end, amount)


# --- the consent -----------------------------------------------------------------------------
def consent_problems(data: Mapping[str, Any], now: datetime) -> list[Problem]:
    """A domestic VRP consent's Data (as sent; the schema has checked shapes and enums):
    every problem of its ControlParameters and Initiation."""
    controls = data["ControlParameters"]
    problems = amount_problems(controls["MaximumIndividualAmount"],
                               f"{CONTROLS}.MaximumIndividualAmount", DOMESTIC_CURRENCIES)
    for i, limit in enumerate(controls["PeriodicLimits"]):
        path = f"{CONTROLS}.PeriodicLimits[{i}]"
        problems += amount_problems(limit, path, DOMESTIC_CURRENCIES)
        if limit["PeriodType"] == "Fortnight" and limit["PeriodAlignment"] != "Consent":
            problems.append(Problem(ProblemKind.INVALID, f"{path}.PeriodAlignment",
                                    "a Fortnight limit must be aligned to the Consent: the "
                                    "calendar has no fortnights"))
    kinds = [(limit["PeriodType"], limit["PeriodAlignment"])
             for limit in controls["PeriodicLimits"]]
    if len(set(kinds)) != len(kinds):
        problems.append(Problem(ProblemKind.INVALID, f"{CONTROLS}.PeriodicLimits",
                                "each PeriodType and PeriodAlignment may be given once"))
    for name, allowed in (("VRPType", VRP_TYPES),
                          ("PSUAuthenticationMethods", AUTHENTICATION_METHODS),
                          ("PSUInteractionTypes", INTERACTION_TYPES)):
        for value in controls.get(name) or []:
            if value not in allowed:
                problems.append(Problem(ProblemKind.INVALID, f"{CONTROLS}.{name}",
                                        f"{value!r} is not one of {', '.join(allowed)}"))
    if controls.get("SupplementaryData"):
        problems.append(Problem(ProblemKind.UNEXPECTED, f"{CONTROLS}.SupplementaryData",
                                "the bank processes no SupplementaryData"))
    problems += _window_problems(controls, now)
    initiation = data["Initiation"]
    if "CreditorAccount" not in initiation:
        problems.append(Problem(ProblemKind.EXPECTED, "Data.Initiation.CreditorAccount",
                                "the bank has no contract for VRPs whose payee is given only "
                                "with each payment: name the CreditorAccount in the consent"))
    else:
        problems += account_problems(initiation["CreditorAccount"],
                                     "Data.Initiation.CreditorAccount")
    if "DebtorAccount" in initiation:
        problems += account_problems(initiation["DebtorAccount"],
                                     "Data.Initiation.DebtorAccount")
    return problems


def _window_problems(controls: Mapping[str, Any], now: datetime) -> list[Problem]:
    start, end = controls.get("ValidFromDateTime"), controls.get("ValidToDateTime")
    if end is not None and end <= now:
        return [Problem(ProblemKind.INVALID_DATE, f"{CONTROLS}.ValidToDateTime",
                        "ValidToDateTime has passed")]
    if start is not None and end is not None and end <= start:
        return [Problem(ProblemKind.INVALID_DATE, f"{CONTROLS}.ValidToDateTime",
                        "ValidToDateTime must be after ValidFromDateTime")]
    return []


# --- one VRP -----------------------------------------------------------------------------------
def submission_problems(consent_data: Mapping[str, Any],
                        submitted: Mapping[str, Any]) -> list[Problem]:
    """The VRP request (as sent) against its consent: the Initiation and Risk exactly the
    consent's, an Instruction that pays the consent's payee an amount the bank can pay."""
    data = submitted["Data"]
    problems = []
    if data["Initiation"] != consent_data["Initiation"]:
        problems.append(Problem(ProblemKind.MISMATCH, "Data.Initiation",
                                "the Initiation differs from the consent's"))
    if submitted.get("Risk") != consent_data.get("Risk"):
        problems.append(Problem(ProblemKind.MISMATCH, "Risk",
                                "the Risk differs from the consent's"))
    instruction = data["Instruction"]
    path = "Data.Instruction"
    problems += amount_problems(instruction["InstructedAmount"], f"{path}.InstructedAmount",
                                DOMESTIC_CURRENCIES)
    creditor = instruction["CreditorAccount"]
    named = consent_data["Initiation"].get("CreditorAccount") or {}
    if not _same_account(creditor, named):
        problems.append(Problem(ProblemKind.MISMATCH, f"{path}.CreditorAccount",
                                "the CreditorAccount is not the consent's payee"))
    reference = (consent_data["Initiation"].get("RemittanceInformation") or {}).get("Reference")
    given = (instruction.get("RemittanceInformation") or {}).get("Reference")
    if reference is not None and given != reference:
        problems.append(Problem(ProblemKind.MISMATCH,
                                f"{path}.RemittanceInformation.Reference",
                                "the Reference must be the consent's"))
    instrument = instruction.get("LocalInstrument")
    if instrument is not None and instrument not in DOMESTIC_LOCAL_INSTRUMENTS:
        problems.append(Problem(ProblemKind.UNSUPPORTED_LOCAL_INSTRUMENT,
                                f"{path}.LocalInstrument",
                                f"domestic VRPs go by {', '.join(DOMESTIC_LOCAL_INSTRUMENTS)}, "
                                f"not {instrument!r}"))
    if instruction.get("SupplementaryData"):
        problems.append(Problem(ProblemKind.UNEXPECTED, f"{path}.SupplementaryData",
                                "the bank processes no SupplementaryData"))
    return problems


def _same_account(given: Mapping[str, Any], named: Mapping[str, Any]) -> bool:
    if given.get("SchemeName") != named.get("SchemeName"):
        return False
    try:
        return normalised_identification(given["SchemeName"], given["Identification"]) == \
            normalised_identification(named["SchemeName"], named["Identification"])
    except (KeyError, ValueError):
        return False


def check_controls(controls: Mapping[str, Any], request_data: Mapping[str, Any],
                   amount: Money, now: datetime, created: datetime,
                   used_in: UsedIn) -> None:
    """FailsControlParameters for the first control parameter one more VRP of `amount` at
    `now` would break: its VRPType, authentication method and interaction type among the
    consent's, within the validity window, at most the MaximumIndividualAmount, and within
    every PeriodicLimit given what the consent's VRPs already use in that period
    (`used_in(start_utc, end_utc)`, read under the consent's row lock)."""
    for name, given in (("VRPType", request_data.get("VRPType")),
                        ("PSUAuthenticationMethods", request_data.get("PSUAuthenticationMethod")),
                        ("PSUInteractionTypes", request_data.get("PSUInteractionType"))):
        allowed = controls.get(name)
        if given is not None and allowed and given not in allowed:
            raise FailsControlParameters(f"{CONTROLS}.{name}",
                                         f"{given} is not one the consent allows")
    start, end = _moment(controls.get("ValidFromDateTime")), \
        _moment(controls.get("ValidToDateTime"))
    if start is not None and now < start:
        raise FailsControlParameters(f"{CONTROLS}.ValidFromDateTime",
                                     "the consent is not valid yet")
    if end is not None and now >= end:
        raise FailsControlParameters(f"{CONTROLS}.ValidToDateTime",
                                     "the consent is no longer valid")
    maximum = controls["MaximumIndividualAmount"]
    if amount.currency != maximum["Currency"] or \
            amount.amount > Decimal(str(maximum["Amount"])):
        raise FailsControlParameters(f"{CONTROLS}.MaximumIndividualAmount",
                                     f"the amount is more than the {maximum['Amount']} "
                                     f"{maximum['Currency']} a payment the consent allows")
    for i, limit in enumerate(controls["PeriodicLimits"]):
        period = period_of(limit, uk_day(created), uk_day(now))
        used = used_in(*period.bounds_utc())
        if used + amount.amount > period.limit:
            raise FailsControlParameters(
                f"{CONTROLS}.PeriodicLimits[{i}]",
                f"the payment would take the {limit['PeriodType']} ({limit['PeriodAlignment']}"
                f"-aligned) total to {used + amount.amount} {amount.currency}, over its "
                f"{period.limit} limit")


def _moment(value) -> datetime | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else \
        datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
