"""A conformance run from one client never meets the sandbox tier's rate limits. The platform
the conformance tests run against has the platform's own defaults (the sandbox tier,
RATELIMIT_OAUTH_PER_ADDRESS, in-process counts), checked here; the tests that run the densest
plans against it record every answer and assert that none is 429: ob-ais (the most calls of
one family in a second, measured: 45) in test_ob_functional.py, fapi2 (token and PAR calls of
one client and one address) with discovery and dcr in test_suite_against_platform.py. They
are not run a second time here: each run costs a minute and a half."""
from __future__ import annotations

import requests

from aspsp.config import SANDBOX_TIER, SETTINGS
from aspsp.ratelimit.tiers import Tier, parse_tier

DEFAULTS = {s.name: s.default for s in SETTINGS}


def test_the_conformance_runs_meet_the_sandbox_tiers_default_limits(platform_server):
    base, _, weakening = platform_server
    app = weakening.app
    limits = app.extensions["aspsp-rate-limits"]
    assert limits.default_tier is Tier.SANDBOX
    assert limits.tiers[Tier.SANDBOX] == parse_tier(SANDBOX_TIER)
    assert app.config["RATELIMIT_OAUTH_PER_ADDRESS"] == DEFAULTS["RATELIMIT_OAUTH_PER_ADDRESS"]
    # The recording those tests use sees every answer the server gives, 429s included.
    with weakening.recording() as answered:
        assert requests.get(base + "/.well-known/openid-configuration",
                            timeout=10).status_code == 200
    assert answered == [("200 OK", "/.well-known/openid-configuration")]
