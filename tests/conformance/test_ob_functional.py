"""The Open Banking functional plans: the manifest interpreter (specs/conformance/fcs.py) read
with the FCS's semantics, on the official manifests and on canned responses (failing ones
too: a runner that cannot fail proves nothing), and `--plan ob-ais` / `--plan ob-pis` against
the live platform (the server of tests/conformance/conftest.py)."""
from __future__ import annotations

import io
import json
import re
import threading
from datetime import datetime, timedelta, timezone

import pytest

from specs.conformance import fcs, openapi
from specs.conformance.__main__ import main
from specs.conformance.plans import PLANS, ob_functional
from tests.conftest import holds_jwt

AIS_MANIFEST = "ob_3.1_accounts_transactions_fca.json"
PIS_MANIFEST = "ob_3.1_payment_fca.json"


def script(script_id: str, manifest: str = AIS_MANIFEST) -> dict:
    return next(s for s in fcs.load_scripts(manifest) if s["id"] == script_id)


def response(status: int, body=None, **headers) -> fcs.Response:
    text = body if isinstance(body, str) else ("" if body is None else json.dumps(body))
    return fcs.Response(status, {k.replace("_", "-"): v for k, v in headers.items()}, text)


# --- the manifests and the plans built from them ---------------------------------------
def test_every_script_of_both_manifests_is_a_check_named_by_its_id_with_its_reference():
    for plan, manifest in (("ob-ais", AIS_MANIFEST), ("ob-pis", PIS_MANIFEST)):
        checks = {c.id: c for c in PLANS[plan]}
        for s in fcs.load_scripts(manifest):
            assert checks[s["id"]].title == s["description"]
            if s["refURI"]:
                assert s["refURI"] in checks[s["id"]].clause
    assert len(fcs.load_scripts(AIS_MANIFEST)) == 95 and len(PLANS["ob-ais"]) == 96


def test_every_named_assertion_and_data_reference_the_manifests_use_exists():
    refs = fcs.references()
    for manifest in (AIS_MANIFEST, PIS_MANIFEST):
        for s in fcs.load_scripts(manifest):
            for name in (s.get("asserts") or []) + (s.get("asserts_one_of") or []) + \
                    (s.get("asserts_last_if_all") or []):
                assert "expect" in refs[name], (s["id"], name)
            post = (s.get("parameters") or {}).get("postData")
            if post:
                assert fcs.body_data(post[1:]) is not None, (s["id"], post)


def test_only_one_payment_script_runs_the_scripts_that_keep_what_it_uses_before_it():
    from specs.conformance.engine import select
    chosen = [c.id for c in select(PLANS["ob-pis"], "OB-301-DOP-100700")]
    # the payment's GET needs the payment (100600), which needs the consent (100300) the
    # customer authorised; the other consent jobs come along with the authorisations step
    assert chosen.index("OB-301-DOP-100300") < chosen.index("ob-pis-authorisations") < \
        chosen.index("OB-301-DOP-100600") < chosen.index("OB-301-DOP-100700")
    assert "OB-301-DOP-100400" not in chosen
    assert [c.id for c in select(PLANS["ob-ais"], "OB-301-BAL-101200")] == \
        ["ob-ais-consents", "OB-301-BAL-101200"]


def test_a_script_runs_after_another_whatever_that_ones_verdict():
    from specs.conformance.engine import Check, Context, expect, run
    order = []

    def keeper(ctx):
        order.append("KEEPER")
        expect(False, "schema problem")

    checks = [Check("KEEPER", "keeps a value", "c", "unit", keeper),
              Check("USER", "uses it", "c", "unit", lambda ctx: order.append("USER"),
                    after=("KEEPER",))]
    results = run(checks, Context("https://bank.example", {}))
    assert [(r.id, r.status) for r in results] == [("KEEPER", "fail"), ("USER", "pass")]
    assert order == ["KEEPER", "USER"]


# --- apiVersion ranges and the endpoint filter --------------------------------------------
@pytest.mark.parametrize("version,spec,expected", [
    ("3.1.11", ">=3.1.5", True), ("3.1.4", ">=3.1.5", False), ("3.1.5", ">=3.1.5", True),
    ("3.1.11", ">=3.1.3 <3.1.6", False), ("3.1.4", ">=3.1.3 <3.1.6", True),
    ("4.0.0", "<3.1.6 || >=4.0.0", True), ("3.1.2", "", True)])
def test_api_version_ranges_filter_scripts_as_semver_ranges(version, spec, expected):
    assert fcs.version_in_range(version, spec) is expected


def test_a_script_runs_only_for_an_endpoint_of_the_api_and_foobar_variants_with_theirs():
    templates = openapi.templates(openapi.load(str(openapi.document_path("ais"))), "get")
    assert fcs.endpoint_of(script("OB-301-ACC-100000"), templates) == "/accounts/{AccountId}"
    assert fcs.endpoint_of(script("OB-301-BAL-101701"), templates) == \
        "/accounts/{AccountId}/balances"                       # .../balances/foobar
    assert fcs.endpoint_of(script("OB-301-ACC-001000"), templates) == "/foobar"
    assert fcs.endpoint_of(script("OB-301-PRO-103403"), templates) is None      # "/product"
    assert fcs.endpoint_of(script("OB-301-BAL-101200"), ["/accounts"]) is None  # not discovered


# --- consent grouping ------------------------------------------------------------------
def test_scripts_share_a_consent_unless_one_excludes_what_the_other_needs():
    groups = fcs.group_permissions([
        {"id": "A", "permissions": ["ReadAccountsBasic"]},
        {"id": "B", "permissions": ["ReadAccountsBasic"], "permissions-excluded": ["ReadAccountsDetail"]},
        {"id": "C", "permissions": ["ReadAccountsDetail"]},
        {"id": "D", "permissions": ["ReadBalances"]},
        {"id": "E", "permissions-excluded": ["ReadAccountsBasic"]}])
    assert [(g.ids, g.permissions) for g in groups] == [
        (["A", "B", "D"], ["ReadAccountsBasic", "ReadBalances"]),
        (["C"], ["ReadAccountsDetail"])]                    # E has no permissions: no token


def test_the_ais_manifest_needs_two_consents_and_no_script_gets_a_permission_it_excludes():
    scripts = [s for s in fcs.load_scripts(AIS_MANIFEST)]
    groups = fcs.group_permissions(scripts)
    assert len(groups) == 2
    by_id = {i: g for g in groups for i in g.ids}
    for s in scripts:
        if s.get("permissions"):
            group = by_id[s["id"]]
            assert set(s["permissions"]) <= set(group.permissions)
            assert not set(s.get("permissions-excluded") or []) & set(group.permissions), s["id"]
    assert "ReadBalances" not in by_id["OB-301-BAL-101400"].permissions


# --- parameters, $fn macros, substitution --------------------------------------------------
def test_parameters_resolve_macros_context_and_data_bodies_and_feed_the_run_context():
    context = {"instructedAmountCurrency": "GBP", "instructedAmountValue": "1.00",
               "creditorScheme": "UK.OBIE.SortCodeAccountNumber",
               "creditorIdentification": "20000319470104", "creditorName": "Creditor"}
    params = fcs.resolve_parameters(script("OB-301-DOP-100300", PIS_MANIFEST), context)
    assert re.fullmatch(r"[0-9a-f]{32}", params["instructionIdentification"])
    assert params["tokenScope"] == "payments"
    assert params["thisSchemeName"] == "UK.OBIE.SortCodeAccountNumber"
    body = json.loads(fcs.substitute(params["postData"], {**context, **params}))
    initiation = body["Data"]["Initiation"]
    assert initiation["InstructionIdentification"] == params["instructionIdentification"]
    assert initiation["EndToEndIdentification"] == "e2e-domestic-pay"
    assert initiation["InstructedAmount"] == {"Amount": "1.00", "Currency": "GBP"}
    # A later script reads the value this one kept in the run's context.
    later = fcs.resolve_parameters(script("OB-301-DOP-100600", PIS_MANIFEST), context)
    assert later["instructionIdentification"] == params["instructionIdentification"]
    assert later["consentId"] == "$OB-301-DOP-100300-ConsentId"      # resolved when it runs


def test_a_variable_nothing_defines_is_an_error_not_a_literal_dollar_in_the_request():
    with pytest.raises(fcs.Unresolved, match=r"\$OB-301-DOP-100600-DomesticPaymentId"):
        fcs.substitute("/domestic-payments/$OB-301-DOP-100600-DomesticPaymentId", {})
    assert fcs.substitute("/accounts/$accountId/balances", {"accountId": "a1"}) == \
        "/accounts/a1/balances"


def test_date_macros_follow_go_reference_layouts_in_utc():
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).date().isoformat()
    assert fcs.call_macro("$fn:nextDayDate(2006-01-02T15:04:05-07:00)") == \
        f"{tomorrow}T00:00:00+00:00"
    assert fcs.call_macro("$fn:nextDayDate(2006-01-02T15:04:05Z07:00)") == f"{tomorrow}T00:00:00Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",
                        fcs.call_macro("$fn:currentDateTime(2006-01-02T15:04:05Z07:00)"))
    with pytest.raises(fcs.ManifestError):
        fcs.call_macro("$fn:noSuchMacro()")


# --- gjson paths and assertions on canned responses --------------------------------------------
def test_gjson_paths_select_fields_array_queries_and_counts():
    body = {"Data": {"Account": [{"AccountId": "a1"}, {"AccountId": "a2"}]},
            "Errors": [{"ErrorCode": "UK.OBIE.Field.Invalid"}, {"ErrorCode": "UK.OBIE.Resource.NotFound"}]}
    assert fcs.json_get(body, "Data.Account.1.AccountId") == "a2"
    assert fcs.json_get(body, "Data.Account.#") == 2
    assert fcs.json_get(body, "Data.Account.#.AccountId") == ["a1", "a2"]
    assert fcs.json_get(body, 'Errors.#[ErrorCode="UK.OBIE.Resource.NotFound"].ErrorCode') == \
        "UK.OBIE.Resource.NotFound"
    assert fcs.json_get(body, 'Errors.#[ErrorCode="UK.OBIE.Signature.Missing"].ErrorCode') is \
        fcs._MISSING
    assert fcs.as_string(True) == "true"


def test_status_and_fapi_header_assertions_pass_and_fail_on_what_the_bank_sent():
    s = script("OB-301-ACC-100000")
    ok = response(200, {"Data": {}}, x_fapi_interaction_id="abc")
    assert fcs.evaluate(s, ok, {}) == []
    assert fcs.evaluate(s, response(403, {"Data": {}}, x_fapi_interaction_id="abc"), {}) == \
        ["status 403, expected 200"]
    assert fcs.evaluate(s, response(200, {"Data": {}}), {}) == \
        ["header x-fapi-interaction-id is missing"]


def test_interaction_id_playback_must_echo_the_value_sent():
    s = script("OB-301-ACC-100700")
    sent = {"x-fapi-interaction-id": s["parameters"]["x-fapi-interaction-id"]}
    echoed = response(200, {}, x_fapi_interaction_id=sent["x-fapi-interaction-id"])
    assert fcs.evaluate(s, echoed, sent) == []
    other = response(200, {}, x_fapi_interaction_id="93bac548-0000-0000-0000-000000000000")
    assert "expected 'f5a10e5e-0c46-41c5-a7b7-c8f56020520c'" in fcs.evaluate(s, other, sent)[0]


def test_asserts_one_of_needs_one_error_shape_and_reports_all_when_none_holds():
    s = script("OB-301-BEN-102200")            # 400 Field.Invalid | 400 Resource.NotFound | 403
    not_found = response(400, {"Errors": [{"ErrorCode": "UK.OBIE.Resource.NotFound"}]})
    assert fcs.evaluate(s, not_found, {}) == []
    assert fcs.evaluate(s, response(403, {}), {}) == []
    wrong_code = fcs.evaluate(s, response(400, {"Errors": [{"ErrorCode": "UK.OBIE.Header.Invalid"}]}), {})
    assert len(wrong_code) == 1 and wrong_code[0].startswith("none of OB3IPAssertResourceFieldInvalid")
    assert "status 200, expected 403" in fcs.evaluate(s, response(200, {"Data": {}}), {})[0]


def test_signature_error_codes_are_checked_alongside_the_status():
    s = script("OB-316-DOP-100310", PIS_MANIFEST)
    missing = response(400, {"Errors": [{"ErrorCode": "UK.OBIE.Signature.Missing"}]})
    assert fcs.evaluate(s, missing, {}) == []
    malformed = response(400, {"Errors": [{"ErrorCode": "UK.OBIE.Signature.Malformed"}]})
    assert fcs.evaluate(s, malformed, {}) == [
        'JSON Errors.#[ErrorCode="UK.OBIE.Signature.Missing"].ErrorCode is not in the body']


def test_json_value_assertions_compare_gjson_strings_and_keep_the_consent_id():
    s = script("OB-301-DOP-100300", PIS_MANIFEST)
    created = response(201, {"Data": {"ConsentId": "pdc-1", "Status": "AwaitingAuthorisation"}},
                       x_fapi_interaction_id="i")
    assert fcs.evaluate(s, created, {}) == []
    assert fcs.kept_value(s, created) == ("OB-301-DOP-100300-ConsentId", "pdc-1")
    authorised = response(201, {"Data": {"ConsentId": "pdc-1", "Status": "Authorised"}},
                          x_fapi_interaction_id="i")
    assert fcs.evaluate(s, authorised, {}) == \
        ["JSON Data.Status is 'Authorised', expected 'AwaitingAuthorisation'"]
    funds = script("OB-301-DOP-100500", PIS_MANIFEST)
    assert fcs.evaluate(funds, response(200, {"Data": {"FundsAvailableResult": {
        "FundsAvailable": True}}}), {}) == []
    assert fcs.evaluate(funds, response(200, {"Data": {"FundsAvailableResult": {
        "FundsAvailable": False}}}), {}) != []


def test_asserts_last_if_all_binds_the_last_only_when_the_others_hold():
    s = script("OB-301-DOP-1015001", PIS_MANIFEST)   # NumberOfPayments and FinalPaymentDateTime -> 403
    both = {"Data": {"Initiation": {"NumberOfPayments": "3", "FinalPaymentDateTime": "x"}}}
    assert fcs.evaluate(s, response(403, both), {}) == []
    assert "must" in fcs.evaluate(s, response(200, both), {})[0]
    assert fcs.evaluate(s, response(200, {"Data": {"Initiation": {"NumberOfPayments": "3"}}}), {}) == []


def test_an_open_ended_standing_order_passes_the_final_amount_rule_one_with_a_final_amount_not():
    s = script("OB-301-DOP-1015002", PIS_MANIFEST)
    amount = {"Amount": "1.00", "Currency": "GBP"}
    open_ended = {"Data": {"Initiation": {"Frequency": "EvryDay", "FirstPaymentAmount": amount}}}
    assert fcs.evaluate(s, response(200, open_ended), {}) == []
    final_only = {"Data": {"Initiation": {"FirstPaymentAmount": amount,
                                          "FinalPaymentAmount": amount}}}
    assert fcs.evaluate(s, response(403, final_only), {}) == []
    assert "so OB3GLOAssertOn403 must: status 200" in \
        fcs.evaluate(s, response(200, final_only), {})[0]
    # The official assertion, uncorrected, would have looked at FirstPaymentAmount.
    assert fcs.references()["OB3GLOAssertFinalPaymentAmount"]["expect"]["matches"][0]["JSON"] \
        == "Data.Initiation.FinalPaymentAmount"
    raw = json.loads((fcs.MANIFESTS / "assertions.json").read_text())["references"]
    assert raw["OB3GLOAssertFinalPaymentAmount"]["expect"]["matches"][0]["JSON"] == \
        "Data.Initiation.FirstPaymentAmount"
    assert fcs.corrected_assertions(s) == ["OB3GLOAssertFinalPaymentAmount"]
    assert fcs.corrected_assertions(script("OB-301-DOP-1015001", PIS_MANIFEST)) == []


def test_schema_check_accepts_a_conforming_body_and_names_what_breaks_the_document():
    spec = openapi.document_path("ais")
    good = {"Data": {"Account": [{"AccountId": "a1", "Status": "Enabled", "Currency": "GBP",
                                  "AccountType": "Personal", "AccountSubType": "CurrentAccount"}]},
            "Links": {"Self": "https://bank.example/open-banking/v3.1/aisp/accounts"},
            "Meta": {"TotalPages": 1}}
    assert openapi.check_response(spec, "/accounts", "GET", 200, json.dumps(good)) == []
    bad = json.loads(json.dumps(good))
    bad["Data"]["Account"][0]["Currency"] = "pounds"
    bad["Links"] = {}
    problems = openapi.check_response(spec, "/accounts", "GET", 200, json.dumps(bad))
    assert problems == ["schema: Data/Account/0/Currency: 'pounds' does not match '^[A-Z]{3,3}$'",
                        "schema: Links: 'Self' is a required property"]
    assert openapi.check_response(spec, "/accounts", "GET", 418, "{}") == \
        ["GET /accounts documents no 418 response (200, 400, 401, 403, 405, 406, 429, 500)"]


def pis_context(remove=()):
    from jwcrypto import jwk as _jwk
    from specs.conformance.engine import Context
    from specs.conformance.tpp import Client
    key = _jwk.JWK.generate(kty="EC", crv="P-256", kid="tpp-key-1")
    ctx = Context("https://bank.example", {})
    ctx.state["pis_client"] = Client("client-1", key, "ES256")
    ctx.state["jws_signer"] = ("org-1/software-1", "bank.example")
    return ctx, key


def test_payment_requests_carry_a_detached_ob_jws_of_the_exact_body():
    from jwcrypto import jws as _jws
    ctx, key = pis_context()
    body = b'{"Data": {"Initiation": {}}, "Risk": {}}'
    signature = ob_functional.PIS.jws_signature(ctx, body, [])
    head, empty, _ = signature.split(".")
    assert empty == ""                                            # detached
    header = json.loads(__import__("base64").urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    assert header["crit"] == ["http://openbanking.org.uk/iat", "http://openbanking.org.uk/iss",
                              "http://openbanking.org.uk/tan"]
    assert (header["http://openbanking.org.uk/iss"], header["http://openbanking.org.uk/tan"],
            header["kid"], header["typ"], header["cty"]) == \
        ("org-1/software-1", "bank.example", "tpp-key-1", "JOSE", "application/json")
    assert "b64" not in header                                    # v3.1.4+: payload encoded
    verifier = _jws.JWS(header_registry=ob_functional.HEADER_REGISTRY)
    verifier.deserialize(signature)
    verifier.verify(key, detached_payload=body)
    with pytest.raises(_jws.InvalidJWSSignature):
        other = _jws.JWS(header_registry=ob_functional.HEADER_REGISTRY)
        other.deserialize(signature)
        other.verify(key, detached_payload=body.replace(b"{}", b"[]"))


def test_remove_signature_claims_takes_the_claim_out_of_the_signed_header():
    ctx, _ = pis_context()
    signature = ob_functional.PIS.jws_signature(ctx, b"{}", ["iss"])
    head = signature.split(".")[0]
    header = json.loads(__import__("base64").urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    assert "http://openbanking.org.uk/iss" not in header
    assert "http://openbanking.org.uk/iss" in header["crit"]     # still declared critical


@pytest.fixture
def bank_refusing_payments():
    """A bank (a WSGI app, no platform) whose registration refuses the payments software:
    every payment script must fail saying so, and the suite must not ask again each time."""
    from werkzeug.serving import make_server
    from werkzeug.wrappers import Request, Response
    hits = []

    def app(environ, start_response):
        request = Request(environ)
        base = request.host_url.rstrip("/")
        hits.append(request.path)
        if request.path == "/.well-known/openid-configuration":
            response = Response(json.dumps({
                "issuer": base, "registration_endpoint": f"{base}/register",
                "token_endpoint": f"{base}/token", "jwks_uri": f"{base}/jwks"}),
                content_type="application/json")
        elif request.path.endswith("/ssa"):
            response = Response("eyJhbGciOiJFUzI1NiJ9.eyJzb2Z0d2FyZV9pZCI6InN3In0.c2ln",
                                content_type="application/jwt")
        elif request.path == "/register":
            response = Response(json.dumps({"error": "invalid_client_metadata",
                                            "error_description": "no PISP role"}),
                                status=400, content_type="application/json")
        else:
            response = Response("not found", status=404)
        return response(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", hits
    server.shutdown()


def test_a_bank_without_payments_fails_every_payment_script_with_the_reason(
        bank_refusing_payments, tmp_path):
    from jwcrypto import jwk as _jwk
    base, hits = bank_refusing_payments
    key = _jwk.JWK.generate(kty="EC", crv="P-256", kid="sw-key")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"directory": {"software_id": "sw", "alg": "ES256",
                                                "software_key": json.loads(key.export_private())},
                                  "redirect_uri": "https://tpp.example/cb"}))
    status, results, _ = run_plan(base, config, tmp_path, "--plan", "ob-pis")
    assert status == 1
    assert {r["status"] for r in results.values()} == {"fail"}
    first = results["OB-301-DOP-100300"]["message"]
    assert "registration answered 400" in first and "no PISP role" in first
    assert "first seen by an earlier check" in results["OB-301-DOP-100100"]["message"]
    assert "OB-301-DOP-100300 did not pass" in results["ob-pis-authorisations"]["message"]
    assert "$OB-301-DOP-100300-ConsentId is not set" in results["OB-301-DOP-100400"]["message"]
    assert hits.count("/register") == 1
    assert not any(h.startswith("/open-banking/") for h in hits)   # no request without a client


# --- against the live platform --------------------------------------------------------------
def run_plan(base, config_path, report_dir, *args) -> tuple[int, dict, str]:
    stream = io.StringIO()
    status = main(["--issuer", base, "--config", str(config_path), "--report-dir",
                   str(report_dir), *args], stream=stream)
    report = json.loads((report_dir / "report.json").read_text())
    return status, {r["id"]: r for r in report["results"]}, stream.getvalue()


def sandbox_config(config_path, tmp_path):
    config = json.loads(config_path.read_text())
    config["psu"] = {**config["psu"], "one_time_code": "123456"}  # no wait for a TOTP step
    path = tmp_path / "ob-config.json"
    path.write_text(json.dumps(config))
    return path


# Scripts of the v3.1 AIS manifest the FCS itself does not run: their URI is no endpoint of
# the API (a trailing slash; the singular /product).
NOT_RUN_BY_THE_FCS = {"OB-301-BEN-102204", "OB-301-PRO-103403"}


def test_every_ais_script_of_the_fcs_manifest_passes_against_the_platform(platform_server, tmp_path):
    base, config_path, weakening = platform_server
    with weakening.recording() as answered:
        status, results, output = run_plan(base, sandbox_config(config_path, tmp_path),
                                           tmp_path, "--plan", "ob-ais")
    failed = {i: r["message"] for i, r in results.items() if r["status"] == "fail"}
    skipped = {i for i, r in results.items() if r["status"] == "skip"}
    assert failed == {}, output
    assert skipped == NOT_RUN_BY_THE_FCS
    assert status == 0
    weakening.assert_never_rate_limited(answered)
    assert len(results) == 96
    account = results["OB-301-ACC-100200"]
    assert account["clause"].startswith("https://openbanking.atlassian.net/")
    assert account["title"] == script("OB-301-ACC-100200")["description"]
    assert account["evidence"][0]["response"]["status"] == 200
    # No secret of the run reaches the reports (tokens, the customer's password and codes).
    psu = json.loads(config_path.read_text())["psu"]
    for report in ("report.json", "junit.xml", "report.html"):
        text = (tmp_path / report).read_text()
        assert psu["password"] not in text and psu["totp_secret"] not in text
        assert not holds_jwt(text)
        assert "OB-301-ACC-100200" in text


def scripts_asserting(*names: str) -> set[str]:
    return {s["id"] for s in fcs.load_scripts(AIS_MANIFEST)
            if set(names) & set(s.get("asserts") or [])} - NOT_RUN_BY_THE_FCS


def test_calibration_a_bank_that_breaks_playback_and_the_schema_fails_exactly_those_scripts(
        platform_server, tmp_path):
    base, config_path, weakening = platform_server
    weakening.weaknesses = {"ob-own-interaction-id", "ob-lowercase-currency"}
    try:
        status, results, _ = run_plan(base, sandbox_config(config_path, tmp_path), tmp_path,
                                      "--plan", "ob-ais")
    finally:
        weakening.weaknesses = set()
    assert status == 1
    failed = {i: r["message"] for i, r in results.items() if r["status"] == "fail"}
    playback = scripts_asserting("OB3GLOAssertFAPIPlayBack")
    account_schema = {s["id"] for s in fcs.load_scripts(AIS_MANIFEST) if s["schemaCheck"]
                      and s["uri"] in ("/accounts", "/accounts/$accountId")}
    assert len(playback) == 24 and len(account_schema) == 5
    assert set(failed) == playback | account_schema
    for script_id in playback:
        assert "header x-fapi-interaction-id is '00000000-0000-4000-8000-000000000000'" in \
            failed[script_id]
    for script_id in account_schema:
        assert "schema: Data/Account/0/Currency: 'gbp' does not match" in failed[script_id]


# How the engine reports a check that crashed: the exception and the end of its traceback.
CRASH = re.compile(r'File "[^"]+", line \d+')


def test_the_pis_plan_gives_every_payment_script_a_verdict_and_all_pass_against_the_platform(
        platform_server, tmp_path):
    """Also issue 9's functional bar: every script of the OBIE FCS v3.1 payment manifest
    passes against the platform (the manifest has no international standing order script;
    tests/integration/pis/test_international_schedules.py covers those)."""
    base, config_path, _ = platform_server
    status, results, output = run_plan(base, sandbox_config(config_path, tmp_path), tmp_path,
                                       "--plan", "ob-pis")
    print(output)   # the counts and every failure, for the record of the run
    assert set(results) == {s["id"] for s in fcs.load_scripts(PIS_MANIFEST)} | \
        {"ob-pis-authorisations"}
    failed = {i: r["message"] for i, r in results.items() if r["status"] == "fail"}
    assert status == (1 if failed else 0)
    # A failure is the bank's answer (or a value an earlier failure did not keep), never a
    # crash of the suite.
    assert {i: m for i, m in failed.items() if CRASH.search(m)} == {}
    consent = results["OB-301-DOP-100100"]["evidence"]
    sent = next(e["request"] for e in consent if "request" in e
                and e["request"]["url"].endswith("/domestic-payment-consents"))
    assert {"x-jws-signature", "x-idempotency-key"} <= set(sent["headers"])
    unsigned = next(e["request"] for e in results["OB-316-DOP-100310"]["evidence"]
                    if "request" in e and e["request"]["method"] == "POST")
    assert "x-jws-signature" not in unsigned["headers"]
    assert failed == {}, output
    # The one script judged on a corrected assertion says so in its evidence; no other does.
    corrected = {i for i, r in results.items()
                 if any("corrected for this run" in e.get("note", "") for e in r["evidence"])}
    assert corrected == {"OB-301-DOP-1015002"}
    passed = {i for i, r in results.items() if r["status"] == "pass"}
    assert {"OB-301-DOP-101600", "OB-301-DOP-101700", "OB-301-DOP-101800",
            "OB-301-DOP-101900",                       # the international payment scripts
            "OB-301-DOP-102000", "OB-301-DOP-102100", "OB-301-DOP-102200",
            "OB-301-DOP-102300",                       # the international scheduled ones
            "ob-pis-authorisations"} <= passed, output
    assert len(passed) == len(results) == 32, output
