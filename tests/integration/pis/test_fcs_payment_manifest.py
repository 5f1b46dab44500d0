"""The functional bar of issue 9: the OBIE Functional Conformance Suite's v3.1 payment
manifest (`ob_3.1_payment_fca.json`, the repository's copy in specs/conformance/manifests),
replayed by the project's conformance suite (`python -m specs.conformance --plan ob-pis`)
against a live platform over HTTP: the scripts of the families built pass; the international
scheduled ones are the ones left (issue 9, not built yet)."""
from __future__ import annotations

from tests.conformance.conftest import platform_server  # noqa: F401  (the live platform)
from tests.conformance.test_suite_against_platform import run_suite

# International scheduled payments: not built yet.
NOT_BUILT = {"OB-301-DOP-102000", "OB-301-DOP-102100", "OB-301-DOP-102200",
             "OB-301-DOP-102300"}


def test_the_fcs_payment_manifest_passes_against_the_platform(platform_server,  # noqa: F811
                                                              tmp_path):
    base, config_path, _ = platform_server
    status, results, output = run_suite(base, config_path, tmp_path, "--plan", "ob-pis")
    failed = {i: r["message"] for i, r in results.items() if r["status"] != "pass"}
    # The customer's authorisation of the consents fails only for the consents not built.
    authorisations = failed.pop("ob-pis-authorisations", "")
    assert authorisations == "consent job OB-301-DOP-102000 did not pass", output
    assert set(failed) == NOT_BUILT, output
    passed = {i for i, r in results.items() if r["status"] == "pass"}
    assert {"OB-301-DOP-101600", "OB-301-DOP-101700", "OB-301-DOP-101800",
            "OB-301-DOP-101900"} <= passed, output     # the international payment scripts
    assert len(passed) == 27 and len(results) == 32, output
