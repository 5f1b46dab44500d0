"""OBIE filter date-times: ISO 8601, the time zone ignored, a date alone is midnight."""
from datetime import datetime, timezone

import pytest
from hypothesis import given, strategies as st

from aspsp.ais.filters import Window, naive_text, parse_filter_datetime

UTC = timezone.utc


@pytest.mark.parametrize("text, expected", [
    ("2026-05-10", datetime(2026, 5, 10, tzinfo=UTC)),
    ("2026-05-10T10:43:07", datetime(2026, 5, 10, 10, 43, 7, tzinfo=UTC)),
    ("2026-05-10T10:43:07.250", datetime(2026, 5, 10, 10, 43, 7, 250000, tzinfo=UTC)),
    ("2026-05-10T10:43", datetime(2026, 5, 10, 10, 43, tzinfo=UTC)),
    ("2026-05-10T10:43:07Z", datetime(2026, 5, 10, 10, 43, 7, tzinfo=UTC)),
    ("2026-05-10T10:43:07+05:00", datetime(2026, 5, 10, 10, 43, 7, tzinfo=UTC)),
    ("2026-05-10T10:43:07-0800", datetime(2026, 5, 10, 10, 43, 7, tzinfo=UTC)),
    ("2026-05-10T10:43:07+01", datetime(2026, 5, 10, 10, 43, 7, tzinfo=UTC)),
    ("2026-05-10T10:43:07 01:00", datetime(2026, 5, 10, 10, 43, 7, tzinfo=UTC)),  # '+' as ' '
    (" 2026-05-10T00:00:00 ", datetime(2026, 5, 10, tzinfo=UTC)),
    ("20260510T104307", datetime(2026, 5, 10, 10, 43, 7, tzinfo=UTC)),       # basic format
    ("2026-05-10T10:43:07,25", datetime(2026, 5, 10, 10, 43, 7, 250000, tzinfo=UTC)),
])
def test_the_time_zone_is_ignored(text, expected):
    assert parse_filter_datetime(text) == expected


@pytest.mark.parametrize("text", ["", "  ", "yesterday", "2026-13-01", "2026-02-30",
                                  "2026-05-10T24:30:00", "2026-05-10T", "2026-05-10TZ",
                                  "10/05/2026", "2026-05-10T10:00:00+05:00:00:00", "x" * 65,
                                  "２０２６-05-10", "2026-05-10T10:00\x00"])
def test_anything_else_is_refused(text):
    with pytest.raises(ValueError):
        parse_filter_datetime(text)


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2999, 12, 31)))
def test_naive_text_reads_back_to_the_same_instant(moment):
    aware = moment.replace(tzinfo=UTC)
    assert parse_filter_datetime(naive_text(aware)) == aware


def test_a_window_is_only_ever_narrowed():
    consent = Window(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 5, 31, tzinfo=UTC))
    wider = consent.narrowed(datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))
    assert wider == consent
    inside = consent.narrowed(datetime(2026, 4, 1, tzinfo=UTC), None)
    assert inside == Window(datetime(2026, 4, 1, tzinfo=UTC), consent.end)
    assert Window().narrowed(None, None) == Window()
    assert consent.narrowed(datetime(2026, 6, 1, tzinfo=UTC), None).is_empty


def test_covers_means_completely_inside():
    window = Window(datetime(2026, 4, 1, tzinfo=UTC), None)
    assert window.covers(datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 4, 30, tzinfo=UTC))
    assert not window.covers(datetime(2026, 3, 31, tzinfo=UTC), datetime(2026, 4, 30, tzinfo=UTC))
    assert Window().covers(datetime(1990, 1, 1, tzinfo=UTC), datetime(2090, 1, 1, tzinfo=UTC))
