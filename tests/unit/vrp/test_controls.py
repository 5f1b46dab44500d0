"""Whether one more VRP fits its consent's control parameters (aspsp.vrp.domain), with what
the consent's VRPs already used given as a plain function: the FailsControlParameters Path
names the control parameter broken."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from aspsp.ledger.money import Money
from aspsp.vrp import domain

CREATED = datetime(2026, 6, 12, 9, 0, tzinfo=timezone.utc)
CONTROLS = {"PSUAuthenticationMethods": ["UK.OBIE.SCANotRequired"],
            "VRPType": ["UK.OBIE.VRPType.Sweeping"],
            "MaximumIndividualAmount": {"Amount": "250.00", "Currency": "GBP"},
            "ValidFromDateTime": "2026-06-12T00:00:00+00:00",
            "ValidToDateTime": "2027-06-01T00:00:00+00:00",
            "PeriodicLimits": [
                {"PeriodType": "Day", "PeriodAlignment": "Calendar", "Amount": "300.00",
                 "Currency": "GBP"},
                {"PeriodType": "Month", "PeriodAlignment": "Consent", "Amount": "1000.00",
                 "Currency": "GBP"}]}
REQUEST = {"VRPType": "UK.OBIE.VRPType.Sweeping",
           "PSUAuthenticationMethod": "UK.OBIE.SCANotRequired"}


def check(amount: str, now: datetime, used=lambda start, end: Decimal(0), request=REQUEST):
    domain.check_controls(CONTROLS, request, Money.of(amount, "GBP"), now, CREATED, used)


def refused(*args, **kw) -> str:
    with pytest.raises(domain.FailsControlParameters) as caught:
        check(*args, **kw)
    return caught.value.field


NOW = datetime(2026, 6, 20, 12, 0, tzinfo=timezone.utc)


def test_up_to_the_maximum_individual_amount_to_the_penny():
    check("250.00", NOW)
    assert refused("250.01", NOW) == "Data.ControlParameters.MaximumIndividualAmount"


def test_a_periodic_limit_counts_what_was_used_in_its_period():
    check("50.00", NOW, lambda s, e: Decimal("250.00"))          # 300.00 a day exactly
    assert refused("50.01", NOW, lambda s, e: Decimal("250.00")) == \
        "Data.ControlParameters.PeriodicLimits[0]"


def test_the_used_amount_is_asked_for_each_limits_own_period():
    asked = []

    def used(start, end):
        asked.append((start, end))
        return Decimal(0)
    check("10.00", NOW, used)
    assert asked == [(datetime(2026, 6, 19, 23, tzinfo=timezone.utc),     # 20 June, UK day
                      datetime(2026, 6, 20, 23, tzinfo=timezone.utc)),
                     (datetime(2026, 6, 11, 23, tzinfo=timezone.utc),     # from 12 June
                      datetime(2026, 7, 11, 23, tzinfo=timezone.utc))]


def test_the_month_limit_breaks_when_its_sum_would_pass_it():
    def used(start, end):
        return Decimal("900.00") if (end - start).days > 1 else Decimal(0)
    check("100.00", NOW, used)
    assert refused("100.01", NOW, used) == "Data.ControlParameters.PeriodicLimits[1]"


def test_the_validity_window():
    assert refused("1.00", datetime(2026, 6, 11, 23, 59, tzinfo=timezone.utc)) == \
        "Data.ControlParameters.ValidFromDateTime"
    assert refused("1.00", datetime(2027, 6, 1, 0, 0, tzinfo=timezone.utc)) == \
        "Data.ControlParameters.ValidToDateTime"


def test_the_vrp_type_and_authentication_method_must_be_the_consents():
    assert refused("1.00", NOW, request={**REQUEST, "VRPType": "UK.OBIE.VRPType.Other"}) == \
        "Data.ControlParameters.VRPType"
    assert refused("1.00", NOW, request={**REQUEST, "PSUAuthenticationMethod": "UK.OBIE.SCA"}) \
        == "Data.ControlParameters.PSUAuthenticationMethods"


def test_the_consent_rules_list_every_problem_with_its_path():
    data = {"ControlParameters": {
        **CONTROLS, "ValidFromDateTime": None, "ValidToDateTime": None,
        "VRPType": ["UK.OBIE.VRPType.Sweeping", "UK.OBIE.VRPType.Lottery"],
        "MaximumIndividualAmount": {"Amount": "0.00", "Currency": "GBP"},
        "PeriodicLimits": [{"PeriodType": "Fortnight", "PeriodAlignment": "Calendar",
                            "Amount": "10.00", "Currency": "EUR"}]},
        "Initiation": {}}
    problems = {(p.kind, p.path) for p in domain.consent_problems(data, NOW)}
    K = domain.ProblemKind
    assert problems == {
        (K.INVALID, "Data.ControlParameters.MaximumIndividualAmount.Amount"),
        (K.UNSUPPORTED_CURRENCY, "Data.ControlParameters.PeriodicLimits[0].Currency"),
        (K.INVALID, "Data.ControlParameters.PeriodicLimits[0].PeriodAlignment"),
        (K.INVALID, "Data.ControlParameters.VRPType"),
        (K.EXPECTED, "Data.Initiation.CreditorAccount")}
