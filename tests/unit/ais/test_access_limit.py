"""The customer-not-present count, in process (the Redis one is an integration test)."""
from datetime import datetime, timedelta, timezone

from aspsp.ais.access_limit import InProcessAccessCounter, UnattendedLimit, next_midnight

NOON = datetime(2026, 6, 15, 12, tzinfo=timezone.utc)


def test_four_a_day_then_seconds_to_midnight():
    limit = UnattendedLimit(4, InProcessAccessCounter())
    assert [limit.retry_after("c1", "/accounts", NOON) for _ in range(4)] == [None] * 4
    assert limit.retry_after("c1", "/accounts", NOON) == 12 * 3600
    late = NOON + timedelta(hours=11, minutes=59, seconds=59, microseconds=500_000)
    assert limit.retry_after("c1", "/accounts", late) == 1


def test_each_consent_and_resource_counts_apart_and_a_new_day_starts_again():
    limit = UnattendedLimit(1, InProcessAccessCounter())
    assert limit.retry_after("c1", "/accounts", NOON) is None
    assert limit.retry_after("c2", "/accounts", NOON) is None
    assert limit.retry_after("c1", "/balances", NOON) is None
    assert limit.retry_after("c1", "/accounts", NOON) is not None
    assert limit.retry_after("c1", "/accounts", NOON + timedelta(days=1)) is None


def test_a_full_counter_forgets_the_windows_that_ended():
    counter = InProcessAccessCounter(max_keys=3)
    ends = next_midnight(NOON)
    for key in "abc":
        counter.hit(key, now=NOON, until=ends)
    tomorrow = NOON + timedelta(days=1)
    assert counter.hit("d", now=tomorrow, until=next_midnight(tomorrow)) == 1
    assert counter.hit("a", now=tomorrow, until=next_midnight(tomorrow)) == 1


def test_next_midnight_is_utc():
    east = datetime(2026, 6, 15, 23, 30, tzinfo=timezone(timedelta(hours=2)))   # 21:30 UTC
    assert next_midnight(east) == datetime(2026, 6, 16, tzinfo=timezone.utc)
