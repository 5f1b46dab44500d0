"""The events domain as pure rules: SET claims, subscription checks, the retry schedule and
the polling checks."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from aspsp.events import domain
from aspsp.events.domain import RetryPolicy, Subject

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)
HTTPS = ("https",)
GOOD = "https://tpp.example/open-banking/v3.1/event-notifications"


def test_resource_update_claims_as_the_profile_shows():
    link = "https://bank.example/open-banking/v3.1/pisp/domestic-payments/p1"
    claims = domain.set_claims(issuer="https://bank.example", audience="client-1", jti="j1",
                               txn="t1", subject=Subject("p1", "domestic-payment",
                                                         (("v3.1", link),)),
                               event_type=domain.RESOURCE_UPDATE, toe=T0, iat=T0)
    assert claims == {"iss": "https://bank.example", "iat": int(T0.timestamp()), "jti": "j1",
                      "aud": "client-1", "sub": link, "txn": "t1", "toe": int(T0.timestamp()),
                      "events": {domain.RESOURCE_UPDATE: {"subject": {
                          "subject_type": domain.SUBJECT_TYPE,
                          "http://openbanking.org.uk/rid": "p1",
                          "http://openbanking.org.uk/rty": "domestic-payment",
                          "http://openbanking.org.uk/rlk": [{"version": "v3.1",
                                                             "link": link}]}}}}


def test_linked_account_update_carries_its_own_subject():
    subject = Subject("aac-1", "account-access-consent", (("v3.1", "https://b/x"),))
    events = domain.set_claims(issuer="i", audience="a", jti="j", txn="t", subject=subject,
                               event_type=domain.LINKED_ACCOUNT_UPDATE, toe=T0, iat=T0)["events"]
    assert events == {domain.LINKED_ACCOUNT_UPDATE: {"subject": subject.claim()}}


def test_resources_of_consents_and_payments():
    assert domain.consent_resource("account-access", "c1") == (
        "account-access-consent", "/aisp/account-access-consents/c1")
    assert domain.consent_resource("domestic-payment", "c2") == (
        "domestic-payment-consent", "/pisp/domestic-payment-consents/c2")
    assert domain.consent_resource("funds-confirmation", "c3")[1] == \
        "/cbpii/funds-confirmation-consents/c3"
    assert domain.payment_resource("domestic-standing-order", "p") == (
        "domestic-standing-order", "/pisp/domestic-standing-orders/p")


def test_version_3_1_1_receives_resource_updates_only():
    assert domain.wanted(domain.RESOURCE_UPDATE, "3.1.1", None)
    assert not domain.wanted(domain.CONSENT_AUTHORIZATION_REVOKED, "3.1.1", None)
    assert domain.wanted(domain.CONSENT_AUTHORIZATION_REVOKED, "3.1", None)
    assert not domain.wanted(domain.RESOURCE_UPDATE, "3.1.11",
                             [domain.CONSENT_AUTHORIZATION_REVOKED])


@pytest.mark.parametrize("url", [
    "http://tpp.example/open-banking/v3.1/event-notifications",
    "https://tpp.example/open-banking/v3.1/elsewhere",
    "https://u:p@tpp.example/open-banking/v3.1/event-notifications",
    "https://tpp.example/open-banking/v3.1/event-notifications#f",
    "https:///event-notifications",
    "https://tpp.example:99999/event-notifications",
    "https://tpp.example/" + "a" * 500 + "/event-notifications",
])
def test_bad_callback_urls(url):
    assert domain.callback_problem(url, HTTPS)


def test_good_callback_and_the_sandbox_scheme():
    assert domain.callback_problem(GOOD, HTTPS) is None
    assert domain.callback_problem(GOOD.replace("https", "http"), ("https", "http")) is None


def test_subscription_problems_name_each_path():
    problems = domain.subscription_problems("ftp://x/event-notifications", "4.0",
                                            ["urn:nope", domain.RESOURCE_UPDATE,
                                             domain.RESOURCE_UPDATE], schemes=HTTPS)
    assert [(p.code, p.path) for p in problems] == [
        ("invalid", "Data.Version"), ("unsupported_type", "Data.EventTypes[0]"),
        ("invalid", "Data.EventTypes"), ("invalid", "Data.CallbackUrl")]


def test_backoff_doubles_with_jitter_and_stops_at_the_window():
    policy = RetryPolicy(first_delay=5, max_delay=3600, window=timedelta(hours=24))
    rng = random.Random(7)
    for attempts, low, high in ((1, 2.5, 5), (2, 5, 10), (3, 10, 20), (20, 1800, 3600)):
        at = policy.next_attempt(T0, attempts, T0, rng)
        assert timedelta(seconds=low) <= at - T0 <= timedelta(seconds=high)
    late = T0 + timedelta(hours=23, minutes=59)
    assert policy.next_attempt(T0, 30, late, rng) is None


def test_poll_problems():
    assert domain.poll_problems({"maxEvents": 5, "ack": ["a"]}, max_events_cap=10) == []
    assert [p.path for p in domain.poll_problems({"maxEvents": 11}, max_events_cap=10)] == [
        "maxEvents"]
    both = domain.poll_problems({"ack": ["a"], "setErrs": {"a": {"err": "x",
                                                                "description": "y"}}},
                                max_events_cap=10)
    assert [p.path for p in both] == ["setErrs.a"]
