"""OBIE frequency codes and the execution dates of schedules (aspsp/ledger/frequency.py).

Dates are checked against the calendar: England & Wales bank holidays 2026-2028 are
New Year (2027-01-01, 2028-01-03 substitute), Good Friday and Easter Monday (2027-03-26/29,
2028-04-14/17), early May (2027-05-03, 2028-05-01), spring (2027-05-31, 2028-05-29), summer
(2027-08-30, 2028-08-28) and Christmas (2026-12-25/28, 2027-12-27/28 substitutes).
"""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone

import pytest

from aspsp.ledger.frequency import (FINAL, FIRST, PATTERN, RECURRING, FrequencyError,
                                    Schedule, UK_WORKING_DAYS, day_of_month,
                                    england_and_wales_bank_holidays, next_working_day,
                                    one_off_due, parse, weekday_in_month)
from tests.conftest import OBIE_SPECS

UTC = timezone.utc


def at(day: str, hour: int = 9, minute: int = 0) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(hour, minute), tzinfo=UTC)


def dates(frequency: str, first: str, count: int, **kwargs) -> list[str]:
    schedule = Schedule(parse(frequency), at(first), **kwargs)
    return [d.isoformat() for d in schedule.dates(count)]


# --- parsing -----------------------------------------------------------------------------
def test_our_pattern_is_the_specifications():
    spec = json.loads((OBIE_SPECS / "v3.1.11" / "payment-initiation-openapi.json").read_text())
    initiation = spec["components"]["schemas"]["OBWriteDomesticStandingOrder3"][
        "properties"]["Data"]["properties"]["Initiation"]["properties"]
    assert PATTERN.pattern == initiation["Frequency"]["pattern"]


@pytest.mark.parametrize("code, kind, interval, week, day, quarter", [
    ("EvryDay", "EvryDay", 1, 0, 0, ""),
    ("EvryWorkgDay", "EvryWorkgDay", 1, 0, 0, ""),
    ("IntrvlDay:15", "IntrvlDay", 15, 0, 0, ""),
    ("IntrvlWkDay:01:03", "IntrvlWkDay", 1, 0, 3, ""),
    ("IntrvlWkDay:02:03", "IntrvlWkDay", 2, 0, 3, ""),
    ("WkInMnthDay:02:03", "WkInMnthDay", 1, 2, 3, ""),
    ("IntrvlMnthDay:01:-01", "IntrvlMnthDay", 1, 0, -1, ""),
    ("IntrvlMnthDay:06:15", "IntrvlMnthDay", 6, 0, 15, ""),
    ("IntrvlMnthDay:24:-05", "IntrvlMnthDay", 24, 0, -5, ""),
    ("QtrDay:ENGLISH", "QtrDay", 1, 0, 0, "ENGLISH"),
    ("QtrDay:SCOTTISH", "QtrDay", 1, 0, 0, "SCOTTISH"),
    ("QtrDay:RECEIVED", "QtrDay", 1, 0, 0, "RECEIVED"),
])
def test_the_profiles_examples_parse(code, kind, interval, week, day, quarter):
    frequency = parse(code)
    assert (frequency.kind, frequency.interval, frequency.week, frequency.day,
            frequency.quarter, str(frequency)) == (kind, interval, week, day, quarter, code)


@pytest.mark.parametrize("code, says", [
    ("IntrvlMnthDay:07:15", "interval in months (01 to 06, 12 or 24)"),
    ("IntrvlMnthDay:01:32", "day of the month (01 to 31, or -01"),
    ("IntrvlMnthDay:01:00", "day of the month (01 to 31, or -01"),
    ("IntrvlMnthDay:01:-06", "-05 for the fifth last"),
    ("IntrvlMnthDay:1:15", "IntrvlMnthDay:MM:DD"),
    ("IntrvlWkDay:10:01", "interval in weeks, 01 to 09"),
    ("IntrvlWkDay:01:08", "01 (Monday) to 07 (Sunday)"),
    ("IntrvlWkDay:00:01", "interval in weeks, 01 to 09"),
    ("WkInMnthDay:06:01", "week of the month, 01 to 05"),
    ("IntrvlDay:01", "02 to 31"),
    ("IntrvlDay:32", "02 to 31"),
    ("QtrDay:WELSH", "QtrDay:ENGLISH, QtrDay:SCOTTISH or QtrDay:RECEIVED"),
    ("EvryDay:01", "expected EvryDay"),
    ("evryday", "not an OBIE frequency code"),
    ("Monthly", "not an OBIE frequency code"),
    ("NotKnown", "not an OBIE frequency code"),
    (" EvryDay", "not an OBIE frequency code"),
    ("EvryWorkgDay ", "not an OBIE frequency code"),
    ("IntrvlWkDay:01:03:", "expected IntrvlWkDay:WW:DD"),
    ("", "Frequency is required"),
])
def test_a_bad_code_says_what_is_wrong_and_what_is_expected(code, says):
    with pytest.raises(FrequencyError) as raised:
        parse(code)
    assert says in raised.value.message
    assert raised.value.field == "Frequency"


def test_a_very_long_bad_code_is_not_echoed_whole():
    with pytest.raises(FrequencyError) as raised:
        parse("IntrvlMnthDay:" + "9" * 500)
    assert len(raised.value.message) < 400


# --- working days ------------------------------------------------------------------------
@pytest.mark.parametrize("day", [
    "2026-12-25", "2026-12-28", "2027-01-01", "2027-03-26", "2027-03-29", "2027-05-03",
    "2027-05-31", "2027-08-30", "2027-12-27", "2027-12-28", "2028-01-03", "2028-04-14",
    "2028-04-17", "2028-05-01", "2028-05-29", "2028-08-28", "2028-12-25", "2028-12-26",
    "2022-09-19",   # the Queen's state funeral: a one-off bank holiday
    "2023-05-08",   # the King's coronation: a one-off bank holiday
])
def test_bank_holidays_of_england_and_wales_are_not_working_days(day):
    d = date.fromisoformat(day)
    assert d in england_and_wales_bank_holidays(d.year)
    assert not UK_WORKING_DAYS.is_working_day(d)


@pytest.mark.parametrize("day", [
    "2027-01-04", "2027-03-25", "2027-03-30", "2027-12-29", "2028-02-29", "2028-01-04",
    "2027-03-17",   # St Patrick's Day: a bank holiday in Northern Ireland only
    "2027-11-30",   # St Andrew's Day: Scotland only
    "2027-08-02",   # the first Monday of August: Scotland's summer holiday, not England's
])
def test_other_weekdays_are_working_days(day):
    assert UK_WORKING_DAYS.is_working_day(date.fromisoformat(day))


@pytest.mark.parametrize("day, expected", [
    ("2027-01-02", "2027-01-04"),   # Saturday
    ("2027-01-03", "2027-01-04"),   # Sunday
    ("2027-03-26", "2027-03-30"),   # Good Friday, weekend, Easter Monday
    ("2027-12-24", "2027-12-24"),   # Christmas Eve is a working day
    ("2027-12-25", "2027-12-29"),   # Christmas on Saturday: Monday and Tuesday substitutes
    ("2027-12-31", "2027-12-31"),
    ("2028-01-01", "2028-01-04"),   # New Year on Saturday: Monday 3rd is its substitute
    ("2028-02-29", "2028-02-29"),
])
def test_next_working_day(day, expected):
    assert next_working_day(date.fromisoformat(day)).isoformat() == expected


# --- month arithmetic --------------------------------------------------------------------
@pytest.mark.parametrize("year, month, day, expected", [
    (2027, 2, 31, "2027-02-28"), (2028, 2, 31, "2028-02-29"), (2028, 2, 29, "2028-02-29"),
    (2027, 2, 29, "2027-02-28"), (2027, 4, 31, "2027-04-30"), (2027, 1, 31, "2027-01-31"),
    (2027, 2, -1, "2027-02-28"), (2028, 2, -1, "2028-02-29"), (2027, 2, -2, "2027-02-27"),
    (2028, 2, -5, "2028-02-25"), (2027, 12, -1, "2027-12-31"), (2027, 4, -2, "2027-04-29"),
])
def test_day_of_month(year, month, day, expected):
    assert day_of_month(year, month, day).isoformat() == expected


@pytest.mark.parametrize("year, month, week, weekday, expected", [
    (2027, 1, 2, 3, "2027-01-13"),   # second Wednesday
    (2027, 2, 1, 1, "2027-02-01"),   # first Monday on the 1st
    (2027, 1, 5, 1, "2027-01-25"),   # no fifth Monday in January 2027: the last one
    (2027, 3, 5, 1, "2027-03-29"),   # March 2027 has five
    (2028, 2, 5, 2, "2028-02-29"),   # leap February 2028 has a fifth Tuesday, the 29th
    (2027, 2, 5, 7, "2027-02-28"),
])
def test_weekday_in_month(year, month, week, weekday, expected):
    assert weekday_in_month(year, month, week, weekday).isoformat() == expected


# --- schedules ---------------------------------------------------------------------------
def test_last_day_of_the_month_through_a_leap_year():
    assert dates("IntrvlMnthDay:01:-01", "2027-12-31", 7) == [
        "2027-12-31", "2028-01-31", "2028-02-29", "2028-03-31",
        "2028-05-02",                       # 30 April a Sunday, 1 May the early May holiday
        "2028-05-31", "2028-06-30"]


def test_day_31_pays_on_shorter_months_last_day_and_rolls_off_weekends():
    assert dates("IntrvlMnthDay:01:31", "2027-01-29", 6) == [
        "2027-01-29",
        "2027-02-01",   # 31 January a Sunday
        "2027-03-01",   # 28 February (the last) a Sunday
        "2027-03-31", "2027-04-30",
        "2027-06-01",   # 31 May the spring bank holiday
    ]


def test_the_29th_in_february_of_leap_and_other_years():
    assert dates("IntrvlMnthDay:01:29", "2027-01-29", 3) == [
        "2027-01-29", "2027-03-01",          # 28 Feb 2027 a Sunday
        "2027-03-30"]                        # 29 March Easter Monday
    assert dates("IntrvlMnthDay:01:29", "2028-01-31", 3)[1] == "2028-02-29"
    assert dates("IntrvlMnthDay:12:29", "2028-02-29", 5) == [
        "2028-02-29", "2029-02-28", "2030-02-28", "2031-02-28",
        "2032-03-01"]                        # 29 Feb 2032 a Sunday


def test_second_last_and_fifth_last_days():
    assert dates("IntrvlMnthDay:01:-02", "2028-01-28", 4) == [
        "2028-01-28",
        "2028-01-31",   # the 30th, second last, a Sunday
        "2028-02-28", "2028-03-30"]
    assert dates("IntrvlMnthDay:03:-05", "2027-01-27", 3) == [
        "2027-01-27", "2027-04-26", "2027-07-27"]


def test_every_six_months_counts_from_the_first_payments_month():
    assert dates("IntrvlMnthDay:06:15", "2027-03-10", 4) == [
        "2027-03-10", "2027-03-15", "2027-09-15", "2028-03-15"]


def test_every_second_wednesday():
    assert dates("IntrvlWkDay:02:03", "2027-01-06", 4) == [
        "2027-01-06", "2027-01-20", "2027-02-03", "2027-02-17"]


def test_weekly_on_a_friday_over_easter():
    assert dates("IntrvlWkDay:01:05", "2027-03-19", 3) == [
        "2027-03-19",
        "2027-03-30",   # Good Friday, the weekend, Easter Monday
        "2027-04-02"]


def test_weekly_on_a_saturday_pays_on_monday():
    assert dates("IntrvlWkDay:01:06", "2027-01-09", 3) == [
        "2027-01-11", "2027-01-18", "2027-01-25"]


def test_week_in_month():
    assert dates("WkInMnthDay:02:03", "2027-01-13", 3) == [
        "2027-01-13", "2027-02-10", "2027-03-10"]
    assert dates("WkInMnthDay:05:01", "2027-01-25", 4) == [
        "2027-01-25", "2027-02-22",
        "2027-03-30",   # fifth Monday the 29th, Easter Monday
        "2027-04-26"]


@pytest.mark.parametrize("code, expected", [
    ("QtrDay:ENGLISH", ["2027-03-25", "2027-06-24", "2027-09-29",
                        "2027-12-29",          # 25 Dec a Saturday; 27th, 28th substitutes
                        "2028-03-27"]),        # 25 March 2028 a Saturday
    ("QtrDay:SCOTTISH", ["2027-02-02", "2027-05-17", "2027-08-02", "2027-11-11",
                         "2028-02-02"]),
    ("QtrDay:RECEIVED", ["2027-03-22", "2027-06-21", "2027-09-24", "2027-12-20",
                         "2028-03-20"]),
])
def test_quarter_days(code, expected):
    assert dates(code, "2027-01-04", 6)[1:] == expected


def test_every_working_day_over_christmas_and_new_year():
    assert dates("EvryWorkgDay", "2027-12-23", 7) == [
        "2027-12-23", "2027-12-24", "2027-12-29", "2027-12-30", "2027-12-31", "2028-01-04",
        "2028-01-05"]


def test_every_working_day_from_a_saturday_starts_monday_once():
    assert dates("EvryWorkgDay", "2027-01-02", 3) == ["2027-01-04", "2027-01-05",
                                                      "2027-01-06"]


def test_calendar_day_codes_pay_on_weekends_and_holidays():
    assert dates("EvryDay", "2027-12-24", 5) == [
        "2027-12-24", "2027-12-25", "2027-12-26", "2027-12-27", "2027-12-28"]
    assert dates("IntrvlDay:15", "2027-12-11", 3) == ["2027-12-11", "2027-12-26",
                                                      "2028-01-10"]


def test_number_of_payments_first_recurring_final():
    schedule = Schedule(parse("IntrvlMnthDay:01:01"), at("2027-02-01", 7, 30),
                        number_of_payments=4)
    got = [(i.number, i.due, i.role) for i in schedule.instalments()]
    assert got == [(1, at("2027-02-01", 7, 30), FIRST), (2, at("2027-03-01", 7, 30), RECURRING),
                   (3, at("2027-04-01", 7, 30), RECURRING), (4, at("2027-05-04", 7, 30), FINAL)]
    assert schedule.instalment(5) is None
    assert schedule.instalment(2).nominal == date(2027, 3, 1)


def test_one_payment_is_the_first_and_only():
    schedule = Schedule(parse("EvryDay"), at("2027-02-01"), number_of_payments=1)
    assert [(i.number, i.role) for i in schedule.instalments()] == [(1, FIRST)]


def test_a_final_date_off_the_frequency_is_paid_on_that_date():
    schedule = Schedule(parse("IntrvlMnthDay:01:15"), at("2027-01-15"),
                        final_payment=at("2027-04-20", 16))
    got = [(i.due, i.role) for i in schedule.instalments()]
    assert got == [(at("2027-01-15"), FIRST), (at("2027-02-15"), RECURRING),
                   (at("2027-03-15"), RECURRING), (at("2027-04-15"), RECURRING),
                   (at("2027-04-20", 16), FINAL)]


def test_a_final_date_on_the_frequency_is_not_paid_twice():
    schedule = Schedule(parse("IntrvlMnthDay:01:15"), at("2027-01-15"),
                        final_payment=at("2027-03-15"))
    assert [(i.due.date().isoformat(), i.role) for i in schedule.instalments()] == [
        ("2027-01-15", FIRST), ("2027-02-15", RECURRING), ("2027-03-15", FINAL)]


def test_a_final_date_on_a_bank_holiday_rolls_like_the_others():
    schedule = Schedule(parse("IntrvlWkDay:01:01"), at("2027-05-17"),
                        final_payment=at("2027-05-31"))
    assert [i.due.date().isoformat() for i in schedule.instalments()] == [
        "2027-05-17", "2027-05-24", "2027-06-01"]


def test_a_final_date_equal_to_the_first_is_one_payment():
    schedule = Schedule(parse("EvryDay"), at("2027-02-01"), final_payment=at("2027-02-01"))
    assert [(i.number, i.role) for i in schedule.instalments()] == [(1, FIRST)]


def test_a_first_recurring_date_starts_the_frequency_from_it():
    """Like an iCalendar rule from its start: the frequency's dates after the last explicit
    one, in the same month too."""
    schedule = Schedule(parse("IntrvlMnthDay:01:-01"), at("2027-01-05"),
                        recurring_payment=at("2027-03-24", 11), number_of_payments=4)
    assert [(i.due, i.role) for i in schedule.instalments()] == [
        (at("2027-01-05"), FIRST), (at("2027-03-24", 11), RECURRING),
        (at("2027-03-31", 11), RECURRING), (at("2027-04-30", 11), FINAL)]
    without = Schedule(parse("IntrvlMnthDay:01:-01"), at("2027-01-05"), number_of_payments=3)
    assert [i.due.date().isoformat() for i in without.instalments()] == [
        "2027-01-05", "2027-02-01", "2027-03-01"]   # 31 Jan and 28 Feb Sundays


def test_an_open_ended_order_goes_on():
    schedule = Schedule(parse("IntrvlMnthDay:01:01"), at("2027-02-01"))
    assert schedule.open_ended
    assert schedule.instalment(121).due.date() == date(2037, 2, 2)   # 1 Feb 2037 a Sunday


def test_the_first_payment_on_a_holiday_rolls_and_keeps_its_time():
    schedule = Schedule(parse("IntrvlMnthDay:01:01"), at("2027-01-01", 6, 45))
    assert schedule.instalment(1).due == at("2027-01-04", 6, 45)
    assert schedule.instalment(2).due == at("2027-02-01", 6, 45)


def test_dates_are_taken_in_utc():
    first = datetime(2027, 3, 1, 0, 30, tzinfo=timezone(timedelta(hours=2)))  # 28 Feb UTC
    schedule = Schedule(parse("EvryDay"), first)
    assert schedule.instalment(1).due == datetime(2027, 2, 28, 22, 30, tzinfo=UTC)


@pytest.mark.parametrize("kwargs, field, says", [
    ({"number_of_payments": 3, "final_payment": at("2027-06-01")}, "NumberOfPayments",
     "not both"),
    ({"number_of_payments": 0}, "NumberOfPayments", "at least 1"),
    ({"final_payment": at("2027-01-31")}, "FinalPaymentDateTime", "not be before"),
    ({"recurring_payment": at("2027-02-01", 18)}, "RecurringPaymentDateTime",
     "a day after"),
    ({"recurring_payment": at("2027-03-01"), "final_payment": at("2027-02-15")},
     "FinalPaymentDateTime", "RecurringPaymentDateTime"),
])
def test_a_schedule_that_cannot_be_paid_is_refused(kwargs, field, says):
    with pytest.raises(FrequencyError) as raised:
        Schedule(parse("IntrvlMnthDay:01:01"), at("2027-02-01"), **kwargs)
    assert raised.value.field == field and says in raised.value.message


def test_a_date_time_without_offset_is_refused():
    with pytest.raises(FrequencyError):
        Schedule(parse("EvryDay"), datetime(2027, 2, 1, 9))


@pytest.mark.parametrize("requested, due", [
    (at("2027-02-06", 10), at("2027-02-08", 10)),      # Saturday
    (at("2027-03-26", 8), at("2027-03-30", 8)),        # Good Friday
    (at("2028-02-29", 23, 59), at("2028-02-29", 23, 59)),
    (at("2027-12-25", 0), at("2027-12-29", 0)),
])
def test_a_one_off_payment_on_a_non_working_day_is_paid_on_the_next(requested, due):
    assert one_off_due(requested) == due
