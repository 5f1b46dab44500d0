"""The periods of a VRP consent's PeriodicLimits and the limit in each (aspsp.vrp.domain):
the OBIE resource docs' four examples to the penny, month ends, leap years, Calendar against
Consent alignment, and UK days (midnight in London, in winter and in summer)."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from aspsp.vrp import domain


def period(kind: str, alignment: str, created: date, today: date, amount: str = "300.00"):
    return domain.period_of({"PeriodType": kind, "PeriodAlignment": alignment,
                             "Amount": amount, "Currency": "GBP"}, created, today)


# The examples of OBDomesticVRPControlParameters (domestic-vrp-consents, v3.1.10/11).
def test_a_calendar_month_is_pro_rated_in_the_consents_first_month():
    first = period("Month", "Calendar", date(2021, 6, 6), date(2021, 6, 30), "300.00")
    assert (first.start, first.end, first.limit) == (date(2021, 6, 1), date(2021, 7, 1),
                                                     Decimal("250.00"))
    second = period("Month", "Calendar", date(2021, 6, 6), date(2021, 7, 1), "300.00")
    assert (second.start, second.end, second.limit) == (date(2021, 7, 1), date(2021, 8, 1),
                                                        Decimal("300.00"))


def test_a_consent_month_runs_from_the_consents_day():
    p = period("Month", "Consent", date(2021, 6, 5), date(2021, 7, 4), "500.00")
    assert (p.start, p.end, p.limit) == (date(2021, 6, 5), date(2021, 7, 5), Decimal("500.00"))
    p = period("Month", "Consent", date(2021, 6, 5), date(2021, 7, 5), "500.00")
    assert (p.start, p.end) == (date(2021, 7, 5), date(2021, 8, 5))


def test_a_calendar_year_is_pro_rated_by_days_and_rounded_down():
    p = period("Year", "Calendar", date(2021, 6, 5), date(2021, 12, 31), "500.00")
    assert p.limit == Decimal("287.67")          # 500 x 210 / 365 = 287.671...
    assert period("Year", "Calendar", date(2021, 6, 5), date(2022, 1, 1), "500.00").limit \
        == Decimal("500.00")


def test_a_consent_year_runs_to_the_day_before_its_anniversary():
    p = period("Year", "Consent", date(2021, 6, 5), date(2022, 6, 4), "500.00")
    assert (p.start, p.end) == (date(2021, 6, 5), date(2022, 6, 5))


# Month ends and leap years.
@pytest.mark.parametrize("today, start, end", [
    (date(2024, 2, 28), date(2024, 1, 31), date(2024, 2, 29)),
    (date(2024, 2, 29), date(2024, 2, 29), date(2024, 3, 31)),    # the 31st, not the 29th
    (date(2024, 3, 30), date(2024, 2, 29), date(2024, 3, 31)),
    (date(2024, 3, 31), date(2024, 3, 31), date(2024, 4, 30)),
    (date(2025, 2, 28), date(2025, 2, 28), date(2025, 3, 31)),    # no 29th in 2025
])
def test_a_consent_month_from_the_31st_ends_on_each_months_last_day(today, start, end):
    p = period("Month", "Consent", date(2024, 1, 31), today)
    assert (p.start, p.end) == (start, end)


def test_a_consent_year_from_the_29th_of_february():
    p = period("Year", "Consent", date(2024, 2, 29), date(2025, 3, 1))
    assert (p.start, p.end) == (date(2025, 2, 28), date(2026, 2, 28))
    p = period("Year", "Consent", date(2024, 2, 29), date(2028, 2, 29))
    assert (p.start, p.end) == (date(2028, 2, 29), date(2029, 2, 28))


def test_a_leap_february_pro_rates_over_29_days():
    p = period("Month", "Calendar", date(2024, 2, 15), date(2024, 2, 20), "290.00")
    assert p.limit == Decimal("150.00")          # 15 of 29 days
    p = period("Month", "Calendar", date(2023, 2, 15), date(2023, 2, 20), "280.00")
    assert p.limit == Decimal("140.00")          # 14 of 28 days


def test_a_leap_calendar_year_has_366_days():
    p = period("Year", "Calendar", date(2024, 12, 31), date(2024, 12, 31), "366.00")
    assert p.limit == Decimal("1.00")


@pytest.mark.parametrize("kind, today, start, end", [
    ("Day", date(2026, 6, 17), date(2026, 6, 17), date(2026, 6, 18)),
    ("Week", date(2026, 6, 17), date(2026, 6, 15), date(2026, 6, 22)),      # Monday
    ("Month", date(2026, 6, 17), date(2026, 6, 1), date(2026, 7, 1)),
    ("Half-year", date(2026, 6, 30), date(2026, 1, 1), date(2026, 7, 1)),
    ("Half-year", date(2026, 7, 1), date(2026, 7, 1), date(2027, 1, 1)),
    ("Year", date(2026, 12, 31), date(2026, 1, 1), date(2027, 1, 1)),
])
def test_the_calendars_periods(kind, today, start, end):
    p = period(kind, "Calendar", date(2020, 1, 1), today)
    assert (p.start, p.end, p.limit) == (start, end, Decimal("300.00"))


@pytest.mark.parametrize("kind, today, start, end", [
    ("Day", date(2026, 6, 17), date(2026, 6, 17), date(2026, 6, 18)),
    ("Week", date(2026, 6, 17), date(2026, 6, 12), date(2026, 6, 19)),      # from a Friday
    ("Fortnight", date(2026, 6, 26), date(2026, 6, 26), date(2026, 7, 10)),
    ("Fortnight", date(2026, 6, 25), date(2026, 6, 12), date(2026, 6, 26)),
    ("Half-year", date(2026, 12, 11), date(2026, 6, 12), date(2026, 12, 12)),
    ("Half-year", date(2026, 12, 12), date(2026, 12, 12), date(2027, 6, 12)),
])
def test_consent_aligned_periods_from_a_friday(kind, today, start, end):
    p = period(kind, "Consent", date(2026, 6, 12), today)
    assert (p.start, p.end) == (start, end)


def test_a_period_starts_at_midnight_uk_time():
    summer = domain.Period(date(2026, 7, 1), date(2026, 8, 1), Decimal(1)).bounds_utc()
    assert summer == (datetime(2026, 6, 30, 23, tzinfo=timezone.utc),
                      datetime(2026, 7, 31, 23, tzinfo=timezone.utc))
    winter = domain.Period(date(2026, 12, 1), date(2027, 1, 1), Decimal(1)).bounds_utc()
    assert winter[0] == datetime(2026, 12, 1, 0, tzinfo=timezone.utc)


def test_late_evening_utc_in_summer_is_already_tomorrow_in_the_uk():
    assert domain.uk_day(datetime(2026, 6, 30, 23, 30, tzinfo=timezone.utc)) == date(2026, 7, 1)
    assert domain.uk_day(datetime(2026, 12, 31, 23, 30, tzinfo=timezone.utc)) == \
        date(2026, 12, 31)


def test_a_fortnight_has_no_calendar():
    with pytest.raises(ValueError):
        domain.calendar_period("Fortnight", date(2026, 6, 1))
