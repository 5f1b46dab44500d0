"""Rate-limit tiers as values (aspsp.ratelimit.tiers): the settings' syntax, the burst, the
family of a path; and README.md's tier table is the settings' defaults."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from aspsp.config import PREMIUM_TIER, SANDBOX_TIER, STANDARD_TIER, load_config
from aspsp.ratelimit import TierError, build
from aspsp.ratelimit.tiers import Family, Tier, family_of, parse_tier, with_burst

README = Path(__file__).resolve().parents[2] / "README.md"


def test_a_tier_names_every_family_with_its_windows_shortest_first():
    tier = parse_tier("ais: 600 per minute, 20 per second; pis: 1/second; cof: 2/second; "
                      "vrp: 3/second; events: 4 per hour; oauth: 5/second", Tier.STANDARD)
    assert [(i.amount, i.get_expiry()) for i in tier[Family.AIS]] == [(20, 1), (600, 60)]
    assert [(i.amount, i.get_expiry()) for i in tier[Family.EVENTS]] == [(4, 3600)]


@pytest.mark.parametrize("text, problem", [
    ("ais: 1/second", "no limits for pis, cof, vrp, events, oauth"),
    ("ais: 1/second; gold: 1/second", "unknown API family 'gold'"),
    ("ais 1/second", "write each family as 'ais: N per second, M per minute'"),
    ("ais: 1/second; ais: 2/second", "ais is named more than once"),
    ("ais: often", "tier standard, ais: couldn't parse rate limit string"),
    ("ais: ; pis: 1/second", "ais: no window"),
])
def test_a_tier_setting_that_cannot_be_read_is_refused_with_the_reason(text, problem):
    with pytest.raises(TierError, match=re.escape(problem)):
        parse_tier(text, "standard")


def test_the_burst_adds_to_the_shortest_window_only():
    items = parse_tier(STANDARD_TIER)[Family.AIS]
    limits = with_burst(items, Family.AIS, 50)
    assert [(w.amount, w.seconds) for w in limits.windows] == [(100, 1), (1500, 60)]
    assert [w.text for w in limits.windows] == ["100 per second", "1500 per minute"]
    assert limits.windows[1].item is items[1]


@pytest.mark.parametrize("path, family", [
    ("/open-banking/v3.1/aisp/accounts/abc/transactions", Family.AIS),
    ("/open-banking/v3.1/aisp/account-access-consents", Family.AIS),
    ("/open-banking/v3.1/pisp/domestic-payments", Family.PIS),
    ("/open-banking/v3.1/pisp/domestic-payment-consents/x/funds-confirmation", Family.PIS),
    ("/open-banking/v3.1/pisp/domestic-vrp-consents", Family.VRP),
    ("/open-banking/v3.1/pisp/domestic-vrps/x", Family.VRP),
    ("/open-banking/v4.0/pisp/domestic-vrps", Family.VRP),
    ("/open-banking/v3.1/cbpii/funds-confirmations", Family.COF),
    ("/open-banking/v3.1/events", Family.EVENTS),
    ("/open-banking/v3.1/event-subscriptions/x", Family.EVENTS),
    ("/open-banking/v3.1/callback-urls", Family.EVENTS),
    ("/token", Family.OAUTH), ("/par", Family.OAUTH), ("/revoke", Family.OAUTH),
    ("/open-banking/v3.1/nothing-here", None), ("/open-banking/openapi.json", None),
    ("/developers/apps", None), ("/authorize", None), ("/tokens", None),
])
def test_the_family_of_a_path(path, family):
    assert family_of(path) is family


def test_the_sandbox_gives_new_clients_the_sandbox_tier_and_production_the_standard(tmp_path):
    sandbox = load_config({"INSTANCE_PATH": str(tmp_path)}, environ={})
    production = load_config({"INSTANCE_PATH": str(tmp_path), "SANDBOX_ENABLED": False},
                             environ={})
    assert build(sandbox).default_tier is Tier.SANDBOX
    assert build(production).default_tier is Tier.STANDARD
    assert build({**production, "RATELIMIT_DEFAULT_TIER": "premium"}).default_tier \
        is Tier.PREMIUM
    with pytest.raises(TierError, match="RATELIMIT_DEFAULT_TIER: 'gold'"):
        build({**production, "RATELIMIT_DEFAULT_TIER": "gold"})


def test_each_tier_is_above_the_one_below_it_in_every_window_but_sandbox_is_for_testing():
    standard, premium = parse_tier(STANDARD_TIER), parse_tier(PREMIUM_TIER)
    for family in Family:
        assert all(p.amount > s.amount for s, p in zip(standard[family], premium[family]))
    parse_tier(SANDBOX_TIER)


def test_readme_tier_table_is_the_default_tiers():
    text = README.read_text()
    rows = {line.split("|")[1].strip(" `"): [c.strip() for c in line.split("|")[2:-1]]
            for line in text.splitlines()
            if re.match(r"\| `(sandbox|standard|premium)` \|", line)}
    for tier, setting in ((Tier.SANDBOX, SANDBOX_TIER), (Tier.STANDARD, STANDARD_TIER),
                          (Tier.PREMIUM, PREMIUM_TIER)):
        parsed = parse_tier(setting)
        expected = [", ".join(f"{i.amount}/{'s' if i.get_expiry() == 1 else 'min'}"
                              for i in parsed[f]) for f in Family]
        assert rows[tier.value] == expected, tier
