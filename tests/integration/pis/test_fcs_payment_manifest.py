"""The functional bar of issue 9: the OBIE Functional Conformance Suite's v3.1 payment
manifest (`ob_3.1_payment_fca.json`, the repository's copy in specs/conformance/manifests),
replayed by the project's conformance suite (`python -m specs.conformance --plan ob-pis`)
against a live platform over HTTP: every script passes (the manifest has no international
standing order script; tests/integration/pis/test_international_schedules.py covers them)."""
from __future__ import annotations

from tests.conformance.conftest import platform_server  # noqa: F401  (the live platform)
from tests.conformance.test_suite_against_platform import run_suite


def test_the_fcs_payment_manifest_passes_against_the_platform(platform_server,  # noqa: F811
                                                              tmp_path):
    base, config_path, _ = platform_server
    status, results, output = run_suite(base, config_path, tmp_path, "--plan", "ob-pis")
    failed = {i: r["message"] for i, r in results.items() if r["status"] != "pass"}
    assert failed == {}, output
    passed = {i for i, r in results.items() if r["status"] == "pass"}
    assert {"OB-301-DOP-101600", "OB-301-DOP-101700", "OB-301-DOP-101800",
            "OB-301-DOP-101900",                       # the international payment scripts
            "OB-301-DOP-102000", "OB-301-DOP-102100", "OB-301-DOP-102200",
            "OB-301-DOP-102300",                       # the international scheduled ones
            "ob-pis-authorisations"} <= passed, output
    assert len(passed) == len(results) == 32, output
    assert status == 0
