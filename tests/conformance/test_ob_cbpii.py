"""The `ob-cbpii` plan: the official FCS v3.1 CBPII manifest as checks (pure), and every
script of it against the live platform (the session's server of tests/conformance/conftest.py,
with the sandbox's fixed one-time code so that no approval waits for a TOTP step)."""
from __future__ import annotations

from specs.conformance import fcs
from specs.conformance.plans import PLANS
from tests.conformance.test_ob_functional import run_plan, sandbox_config

MANIFEST = "ob_3.1_cbpii_fca.json"
SET_UP = {"ob-cbpii-account", "ob-cbpii-authorisations"}


def test_every_script_is_a_check_and_the_duplicate_id_gets_its_own():
    scripts = fcs.load_scripts(MANIFEST)
    checks = [c for c in PLANS["ob-cbpii"] if c.id not in SET_UP]
    assert len(scripts) == len(checks) == 14
    assert [c.title for c in checks if c.id.startswith("OB-301-CBPII-000009")] == \
        [s["description"] for s in scripts if s["id"] == "OB-301-CBPII-000009"]
    assert len({c.id for c in PLANS["ob-cbpii"]}) == len(PLANS["ob-cbpii"])
    assert "OB-301-CBPII-000009#2" in {c.id for c in checks}


def test_every_cbpii_script_of_the_fcs_manifest_passes_against_the_platform(
        platform_server, tmp_path):
    base, config_path, _ = platform_server
    status, results, output = run_plan(base, sandbox_config(config_path, tmp_path), tmp_path,
                                       "--plan", "ob-cbpii")
    failed = {i: r["message"] for i, r in results.items() if r["status"] != "pass"}
    assert failed == {}, output
    assert status == 0 and len(results) == 16
    answer = results["OB-301-CBPII-000004"]["evidence"][0]
    assert answer["response"]["status"] == 201
    assert answer["response"]["body"]["Data"]["FundsAvailable"] is True
    # the customer's account was found through an account-access consent and named
    notes = [e["note"] for e in results["ob-cbpii-account"]["evidence"] if "note" in e]
    assert any("the customer's account" in n for n in notes)


def test_calibration_a_bank_answering_funds_available_as_a_string_fails_that_script_only(
        platform_server, tmp_path):
    base, config_path, weakening = platform_server
    weakening.weaknesses = {"cof-string-answer"}
    try:
        status, results, _ = run_plan(base, sandbox_config(config_path, tmp_path), tmp_path,
                                      "--plan", "ob-cbpii")
    finally:
        weakening.weaknesses = set()
    failed = {i: r["message"] for i, r in results.items() if r["status"] == "fail"}
    assert status == 1 and set(failed) == {"OB-301-CBPII-000004"}
    assert "Data/FundsAvailable: 'true' is not of type 'boolean'" in \
        failed["OB-301-CBPII-000004"]
