"""The pure header rules of aspsp.obapi (the HTTP behaviour is in the integration tests)."""
from datetime import datetime, timezone

import pytest

from aspsp.obapi import (http_date, is_idempotency_key, is_interaction_id, is_ip_address,
                         parse_auth_date)


@pytest.mark.parametrize("value, ok", [
    ("93bac548-d2de-4546-b106-880a5018460d", True),
    ("93BAC548-D2DE-4546-B106-880A5018460D", True),
    ("93bac548d2de4546b106880a5018460d", False),
    ("not-a-uuid", False),
    ("93bac548-d2de-4546-b106-880a5018460d\n", False),
    ("", False),
    (None, False),
])
def test_interaction_ids_are_rfc_4122_uuids(value, ok):
    assert is_interaction_id(value) is ok


def test_auth_date_in_the_obie_format():
    assert parse_auth_date("Sun, 10 Sep 2017 19:43:31 GMT") == \
        datetime(2017, 9, 10, 19, 43, 31, tzinfo=timezone.utc)
    assert parse_auth_date("Sun, 10 Sep 2017 19:43:31 UTC") is not None


@pytest.mark.parametrize("value", [
    "Mon, 10 Sep 2017 19:43:31 GMT",        # 10 Sep 2017 was a Sunday
    "Sun, 31 Feb 2017 19:43:31 GMT",        # no such day
    "Sun, 10 Sep 2017 25:43:31 GMT",
    "2017-09-10T19:43:31Z",
    "Sun, 10 Sep 2017 19:43:31 +0000",
    "",
])
def test_other_auth_dates_are_invalid(value):
    assert parse_auth_date(value) is None


@pytest.mark.parametrize("value, ok", [
    ("104.25.212.99", True), ("2001:db8::1", True), (" 10.0.0.1 ", True),
    ("104.25.212.999", False), ("localhost", False), ("", False), (None, False),
])
def test_customer_ip_addresses(value, ok):
    assert is_ip_address(value) is ok


@pytest.mark.parametrize("value, ok", [
    ("FRESCO.21302.GFX.20", True), ("a", True), ("x" * 40, True), ("x" * 41, False),
    (" leading", False), ("trailing ", False), ("", False), (None, False),
])
def test_idempotency_keys(value, ok):
    assert is_idempotency_key(value) is ok


def test_http_date_is_an_imf_fixdate_in_gmt():
    assert http_date(datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)) == \
        "Mon, 15 Jun 2026 12:00:00 GMT"
