"""A conformance run from one client never meets the sandbox tier's rate limits: the suite
runs against the platform with its own defaults (the sandbox tier, RATELIMIT_OAUTH_PER_ADDRESS,
in-process counts), every response's status is recorded, and none is 429. The plans are the
densest ones: ob-ais (the most calls of one family in a second, measured: 45) and fapi2 (token
and PAR calls of one client and one address)."""
from __future__ import annotations

import io
import json

from aspsp.config import SANDBOX_TIER, SETTINGS
from aspsp.ratelimit.tiers import Tier, parse_tier
from specs.conformance.__main__ import main

DEFAULTS = {s.name: s.default for s in SETTINGS}


def test_a_conformance_run_passes_within_the_sandbox_tiers_default_limits(platform_server,
                                                                         tmp_path):
    base, config_path, weakening = platform_server
    app = weakening.app
    limits = app.extensions["aspsp-rate-limits"]
    assert limits.default_tier is Tier.SANDBOX
    assert limits.tiers[Tier.SANDBOX] == parse_tier(SANDBOX_TIER)
    assert app.config["RATELIMIT_OAUTH_PER_ADDRESS"] == DEFAULTS["RATELIMIT_OAUTH_PER_ADDRESS"]

    statuses: list[tuple[str, str]] = []

    def recording(environ, start_response):
        def start(status, headers, exc_info=None):
            statuses.append((status, environ["PATH_INFO"]))
            return start_response(status, headers, exc_info)
        return app(environ, start)

    weakening.app = recording
    try:
        stream = io.StringIO()
        status = main(["--issuer", base, "--config", str(config_path), "--report-dir",
                       str(tmp_path), "--plan", "fapi2,ob-ais"], stream=stream)
    finally:
        weakening.app = app
    report = json.loads((tmp_path / "report.json").read_text())
    assert [(s, p) for s, p in statuses if s.startswith("429")] == []
    assert len(statuses) > 100
    failed = {r["id"]: r["message"] for r in report["results"] if r["status"] == "fail"}
    assert failed == {}, stream.getvalue()
    assert status == 0
