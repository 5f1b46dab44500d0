"""The seed's pure parts: the documented demo users, the history window, account numbering,
and customer plans that depend on nothing but the seed."""
from __future__ import annotations

import random
from datetime import date, datetime, timezone

import pyotp
from faker import Faker

from aspsp.ledger.statements import _address_lines, _pounds
from sandbox.history import Frame, account_number, month_starts, plan_business, plan_personal
from sandbox.seed import (DEMO_USERS, SANDBOX_PASSWORD, SeedOptions, customer_keys,
                          demo_users_text, history_window)


def test_the_four_documented_demo_users_share_the_sandbox_password():
    assert [u.username for u in DEMO_USERS] == ["alice", "brightcraft", "owen", "dana"]
    assert {u.password for u in DEMO_USERS} == {SANDBOX_PASSWORD}
    assert len({u.totp_secret for u in DEMO_USERS}) == 4
    for user in DEMO_USERS:
        assert len(pyotp.TOTP(user.totp_secret).now()) == 6   # a valid base32 secret
        assert user.accounts


def test_the_demo_users_text_names_every_login_and_the_password():
    text = demo_users_text()
    assert SANDBOX_PASSWORD in text
    for user in DEMO_USERS:
        assert user.username in text and user.totp_secret in text
        assert all(account in text for account in user.accounts)


def test_demo_users_come_first_then_the_random_customers():
    keys = customer_keys(SeedOptions(customers=2, business=1))
    assert keys == ["alice", "brightcraft", "owen", "dana", "personal-1", "personal-2",
                    "business-1"]


def test_the_history_starts_on_the_first_of_the_month_months_before_the_as_of_day():
    start, end = history_window(date(2026, 6, 15), 12)
    assert start == datetime(2025, 6, 1, tzinfo=timezone.utc)
    assert end == datetime(2026, 6, 15, tzinfo=timezone.utc)
    start, _ = history_window(date(2026, 1, 31), 2)
    assert start == datetime(2025, 11, 1, tzinfo=timezone.utc)
    assert month_starts(date(2025, 11, 1), date(2026, 1, 31)) == [
        date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1)]


def _frame(offset: int) -> Frame:
    moment = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return Frame(seed=1, start=moment, end=moment, internal={}, products={},
                 number_offset=offset)


def test_account_numbers_are_eight_digits_and_never_repeat():
    numbers = [account_number(_frame(12_345), slot) for slot in range(20_000)]
    assert all(len(n) == 8 and n.isdigit() for n in numbers)
    assert len(set(numbers)) == len(numbers)
    assert account_number(_frame(1), 0) != account_number(_frame(2), 0)


def _plans(seed: str):
    fake = Faker("en_GB")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    return plan_personal(rng, fake), plan_business(rng, fake)


def test_a_customer_plan_depends_only_on_its_seed():
    assert _plans("42/personal-1") == _plans("42/personal-1")
    assert _plans("42/personal-1") != _plans("42/personal-2")


def test_a_plan_is_a_plausible_customer():
    personal, business = _plans("7/x")
    assert personal.person.postcode.startswith(personal.person.town.postcode_area)
    assert personal.person.email.endswith("@example.com")
    assert personal.person.mobile.startswith("+44-7700900")
    assert 0 < personal.housing_pence < personal.salary
    assert business.legal_structure.startswith("UK.OBIE.")


def test_statement_amounts_and_addresses_read_as_on_paper():
    assert _pounds(123_456, "GBP") == "£1,234.56"
    assert _pounds(-5, "GBP", signed=True) == "-£0.05"
    assert _pounds(-5, "GBP") == "£0.05"
    assert _address_lines({"AddressLine": ["Unit 7"], "BuildingNumber": "12",
                           "StreetName": "Cumberland Road", "TownName": "Bristol",
                           "PostCode": "BS1 6XN"}) == ["Unit 7", "12 Cumberland Road",
                                                      "Bristol BS1 6XN"]
