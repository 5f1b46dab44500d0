"""Limits over HTTP, to the penny, as the clock moves: a Calendar month pro-rated in the
consent's first month and whole from the 1st at midnight UK time, a Consent week from the
consent's weekday, a Consent month from the 31st of January through a leap February, and a
VRP the ledger rejected giving its amount back to the limits."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.integration.vrp.conftest import limit, vrp_consent_body


def status(response) -> int:
    return response.status_code


def over_path(response) -> str:
    assert response.status_code == 400, response.get_json()
    (error,) = response.get_json()["Errors"]
    assert error["ErrorCode"] == "UK.OBIE.Rules.FailsControlParameters"
    return error["Path"]


def move_to(clock, moment: datetime) -> None:
    clock.advance(moment - clock.now())


def test_a_calendar_month_is_pro_rated_then_whole_from_midnight_on_the_1st_uk_time(
        pisp, make_payer, vrp_journey, clock):
    # created Monday 15 June 2026: 16 of June's 30 days are left, 100.00 x 16/30 = 53.33
    j = vrp_journey(pisp, make_payer("1000.00"),
                    vrp_consent_body("100.00", [limit("100.00", "Month", "Calendar")]))
    assert status(j.pay("53.33")) == 201
    assert over_path(j.pay("0.01")) == "Data.ControlParameters.PeriodicLimits[0]"
    move_to(clock, datetime(2026, 6, 30, 22, 59, 59, tzinfo=timezone.utc))   # 23:59:59 BST
    assert over_path(j.pay("0.01")) == "Data.ControlParameters.PeriodicLimits[0]"
    clock.advance(timedelta(seconds=1))                            # 1 July, 00:00 BST
    assert status(j.pay("100.00")) == 201
    assert over_path(j.pay("0.01")) == "Data.ControlParameters.PeriodicLimits[0]"


def test_a_consent_week_starts_on_the_consents_weekday(pisp, make_payer, vrp_journey, clock):
    move_to(clock, datetime(2026, 6, 17, 9, 0, tzinfo=timezone.utc))      # a Wednesday
    j = vrp_journey(pisp, make_payer("1000.00"),
                    vrp_consent_body("50.00", [limit("50.00", "Week", "Consent"),
                                               limit("80.00", "Week", "Calendar")]))
    assert status(j.pay("50.00")) == 201
    move_to(clock, datetime(2026, 6, 22, 9, 0, tzinfo=timezone.utc))      # Monday: calendar
    # the calendar week is new (80.00), the consent week still holds 50.00 until Wednesday
    assert over_path(j.pay("0.01")) == "Data.ControlParameters.PeriodicLimits[0]"
    move_to(clock, datetime(2026, 6, 23, 23, 0, tzinfo=timezone.utc))     # Wed 00:00 BST
    assert status(j.pay("50.00")) == 201
    assert over_path(j.pay("0.01")) == "Data.ControlParameters.PeriodicLimits[0]"


def test_a_consent_month_from_the_31st_of_january_through_a_leap_february(
        pisp, make_payer, vrp_journey, clock):
    move_to(clock, datetime(2028, 1, 31, 12, 0, tzinfo=timezone.utc))
    j = vrp_journey(pisp, make_payer("1000.00"),
                    vrp_consent_body("100.00", [limit("100.00", "Month", "Consent")],
                                     valid_to=None))
    assert status(j.pay("100.00")) == 201
    move_to(clock, datetime(2028, 2, 28, 23, 59, tzinfo=timezone.utc))   # still January's
    assert over_path(j.pay("0.01")) == "Data.ControlParameters.PeriodicLimits[0]"
    move_to(clock, datetime(2028, 2, 29, 0, 0, tzinfo=timezone.utc))     # GMT: UK midnight
    assert status(j.pay("100.00")) == 201
    # British Summer Time from 26 March 2028: UK midnight is 23:00 UTC
    move_to(clock, datetime(2028, 3, 30, 22, 59, tzinfo=timezone.utc))   # 23:59 BST
    assert over_path(j.pay("0.01")) == "Data.ControlParameters.PeriodicLimits[0]"
    move_to(clock, datetime(2028, 3, 30, 23, 0, tzinfo=timezone.utc))    # 31 March: new
    assert status(j.pay("100.00")) == 201


def test_a_vrp_the_ledger_rejected_uses_none_of_the_limits(pisp, make_payer, vrp_journey):
    j = vrp_journey(pisp, make_payer("20.00"),
                    vrp_consent_body("50.00", [limit("50.00", "Day", "Calendar")]))
    rejected = j.pay("30.00")
    assert status(rejected) == 201
    vrp_id = rejected.get_json()["Data"]["DomesticVRPId"]
    assert j.read(vrp_id).get_json()["Data"]["Status"] == "Rejected"
    assert status(j.pay("20.00")) == 201
    assert over_path(j.pay("30.01")) == "Data.ControlParameters.PeriodicLimits[0]"
    assert status(j.pay("30.00")) == 201          # within the limits (the ledger refuses it)


def test_the_consent_is_not_valid_before_its_valid_from(pisp, payer, vrp_journey):
    j = vrp_journey(pisp, payer, vrp_consent_body(
        ValidFromDateTime="2026-06-16T00:00:00+00:00"))
    assert over_path(j.pay("1.00")) == "Data.ControlParameters.ValidFromDateTime"


def test_a_vrp_the_scheme_rejected_uses_none_of_the_limits(pisp, make_payer, vrp_journey):
    # the sandbox scheme rejects a payee whose account number is 99999999 (closed): the
    # debit is refunded, the VRP reads Rejected, and its amount is back in the limits
    closed = {"SchemeName": "UK.OBIE.SortCodeAccountNumber",
              "Identification": "20000099999999", "Name": "Closed Ltd"}
    j = vrp_journey(pisp, make_payer("100.00"),
                    vrp_consent_body("50.00", [limit("50.00", "Day", "Calendar")],
                                     creditor=closed))
    rejected = j.pay("50.00")
    assert status(rejected) == 201
    vrp_id = rejected.get_json()["Data"]["DomesticVRPId"]
    assert j.read(vrp_id).get_json()["Data"]["Status"] == "Rejected"
    assert status(j.pay("50.00")) == 201
