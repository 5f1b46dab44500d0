"""The customer's words for consents (consent.wording): UK local time with the zone named,
history and end-of-access lines without the standard's state names."""
from datetime import datetime, timezone

from consent.domain import DELETED_BY_TPP, REAUTHENTICATED
from consent.services import EventRecord
from consent.wording import end_fact, history, history_line, uk_day, uk_time


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def test_times_are_uk_local_time_with_the_zone_named():
    assert uk_time(utc(2026, 6, 15, 12, 0)) == "15 June 2026, 13:00 BST"
    assert uk_time(utc(2026, 12, 5, 9, 5)) == "5 December 2026, 09:05 GMT"
    assert uk_time(utc(2026, 3, 29, 0, 59)) == "29 March 2026, 00:59 GMT"   # clocks go forward
    assert uk_time(utc(2026, 3, 29, 1, 0)) == "29 March 2026, 02:00 BST"
    assert uk_time(None, "never") == "never"


def test_days_are_uk_calendar_days():
    assert uk_day(utc(2026, 6, 30, 23, 30)) == "1 July 2026"        # already July in London
    assert uk_day(utc(2026, 12, 31, 23, 30)) == "31 December 2026"


def test_history_lines_name_who_did_what_in_plain_words():
    app = "Budget Buddy"
    assert history_line(None, "AwaitingAuthorisation", "tpp", None, app) == \
        "Budget Buddy asked to see your account information"
    assert history_line("Authorised", "Authorised", "psu", REAUTHENTICATED, app) == \
        "You confirmed access again"
    assert history_line("AwaitingAuthorisation", "Rejected", "system", None, app) == \
        "The request was not completed, so it was cancelled"
    assert history_line("AwaitingAuthorisation", "Revoked", "tpp", DELETED_BY_TPP, app) == \
        "Budget Buddy withdrew its request"
    assert history_line("Authorised", "Revoked", "tpp", DELETED_BY_TPP, app) == \
        "Budget Buddy ended its access"
    assert history_line("Authorised", "Expired", "system", None, app) == \
        "Access ended on its end date"


def test_an_expiry_not_yet_recorded_still_shows_in_the_history():
    events = [EventRecord(utc(2026, 1, 1, 10), None, "AwaitingAuthorisation", "tpp", None, None),
              EventRecord(utc(2026, 1, 1, 10, 5), "AwaitingAuthorisation", "Authorised", "psu",
                          "u1", None)]
    lines = history(events, status="Expired", expiration=utc(2026, 2, 1, 0, 0), app="X")
    assert [(l.when, l.text) for l in lines][-1] == ("1 February 2026, 00:00 GMT",
                                                    "Access ended on its end date")


def test_an_ended_consent_says_when_it_ended_not_when_access_ends():
    at = utc(2026, 6, 15, 12)
    assert end_fact("Revoked", None, at, False, "X").label == "You stopped access"
    assert end_fact("Revoked", None, at, True, "X").label == "Stopped by X"
    assert end_fact("Authorised", None, at, False, "X").value == "when you stop it (no end date)"
    assert end_fact("Expired", utc(2026, 6, 1), at, False, "X").value == \
        "1 June 2026, 01:00 BST"
