"""The `ob-vrp` plan: the official FCS v3.1 VRP manifest as checks (pure), and every script of
it against the live platform (the session's server of tests/conformance/conftest.py, with the
sandbox's fixed one-time code so that no approval waits for a TOTP step; the payment's
signed code comes from the sandbox authenticator, as for ob-pis)."""
from __future__ import annotations

from specs.conformance import fcs
from specs.conformance.plans import PLANS
from tests.conformance.test_ob_functional import run_plan, sandbox_config

MANIFEST = "ob_3.1_variable_recurring_payments.json"
# the manifest's scripts for API versions before 3.1.11 (the bank's is 3.1.11)
BEFORE_3_1_11 = {"OB-301-VRP-100100", "OB-301-VRP-100600", "OB-301-VRP-100700"}


def test_every_script_is_a_check():
    scripts = fcs.load_scripts(MANIFEST)
    checks = [c for c in PLANS["ob-vrp"] if c.id != "ob-vrp-authorisations"]
    assert [c.id for c in checks] == [s["id"] for s in scripts
                                      if (s.get("parameters") or {}).get("requestConsent")
                                      == "true"] + \
        [s["id"] for s in scripts if (s.get("parameters") or {}).get("requestConsent") != "true"]
    assert len(checks) == 14


def test_every_vrp_script_of_the_fcs_manifest_passes_against_the_platform(platform_server,
                                                                          tmp_path):
    base, config_path, _ = platform_server
    status, results, output = run_plan(base, sandbox_config(config_path, tmp_path), tmp_path,
                                       "--plan", "ob-vrp")
    failed = {i: r["message"] for i, r in results.items() if r["status"] == "fail"}
    assert failed == {}, output
    skipped = {i for i, r in results.items() if r["status"] == "skip"}
    assert status == 0 and len(results) == 15 and skipped == BEFORE_3_1_11
    made = results["OB-301-VRP-100701"]["evidence"][0]["response"]
    assert made["status"] == 201 and made["body"]["Data"]["Status"] in (
        "Pending", "AcceptedSettlementInProcess", "AcceptedSettlementCompleted")
    funds = results["OB-301-VRP-100650"]["evidence"][0]["response"]["body"]
    assert funds["Data"]["FundsAvailableResult"]["FundsAvailable"] == "Available"
