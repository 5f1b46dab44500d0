"""/metrics counts real calls of every API family, with their latency and their errors, and
shows consents and payments by status as the database holds them."""
from __future__ import annotations

import math

from aspsp.metrics import LATENCY_BUCKETS
from tests.integration.consent.conftest import CONSENTS as AIS_CONSENTS
from tests.integration.pis.conftest import PAYMENTS, domestic_consent_body

REQUESTS = "aspsp_http_requests_total"
DURATION = "aspsp_http_request_duration_seconds"


def moved(before, after, name: str, **labels) -> float:
    return after.value(name, **labels) - before.value(name, **labels)


def test_an_ais_call_moves_the_ais_counter_and_its_latency_histogram(aisp, scrape):
    before = scrape()
    token = aisp.token()
    consent_id = aisp.create_consent(token=token)
    response = aisp.call("GET", f"{AIS_CONSENTS}/{consent_id}", token=token)
    assert response.get_json()["Data"]["ConsentId"] == consent_id
    after = scrape()
    assert moved(before, after, REQUESTS, family="ais", method="POST", status="2xx") == 1
    assert moved(before, after, REQUESTS, family="ais", method="GET", status="2xx") == 1
    assert moved(before, after, f"{DURATION}_count", family="ais") == 2
    assert moved(before, after, f"{DURATION}_bucket", family="ais", le="+Inf") == 2
    assert moved(before, after, f"{DURATION}_sum", family="ais") > 0
    assert moved(before, after, REQUESTS, family="pis") == 0


def test_a_pis_call_moves_the_pis_counter(pisp, create_consent, scrape):
    before = scrape()
    response = create_consent(pisp, domestic_consent_body())
    assert response.get_json()["Data"]["Status"] == "AwaitingAuthorisation"
    after = scrape()
    assert moved(before, after, REQUESTS, family="pis", method="POST", status="2xx") == 1
    assert moved(before, after, f"{DURATION}_count", family="pis") == 1
    assert moved(before, after, REQUESTS, family="ais") == 0


def test_oauth_calls_are_counted_as_oauth_with_their_status(client, scrape):
    before = scrape()
    assert client.get("/jwks").get_json()["keys"]
    refused = client.post("/token", data={"grant_type": "client_credentials"})
    assert refused.status_code in (400, 401) and refused.get_json()["error"]
    after = scrape()
    assert moved(before, after, REQUESTS, family="oauth", method="GET", status="2xx") == 1
    assert moved(before, after, REQUESTS, family="oauth", method="POST", status="4xx") == 1


def test_every_family_is_told_by_its_url_prefix(client, scrape):
    calls = {"cof": ("POST", "/open-banking/v3.1/cbpii/funds-confirmation-consents"),
             "vrp": ("GET", "/open-banking/v3.1/pisp/domestic-vrp-consents/some-id"),
             "events": ("GET", "/open-banking/v3.1/event-subscriptions"),
             "portal": ("GET", "/developers/"),
             "web": ("GET", "/")}
    before = scrape()
    for method, path in calls.values():
        client.open(path, method=method).get_data()
    after = scrape()
    for family, (method, _) in calls.items():
        assert moved(before, after, REQUESTS, family=family, method=method) == 1, family
    # Families are the only path-derived label: no URL, no id in any series.
    assert "some-id" not in after.text and "/open-banking" not in after.text


def test_a_4xx_and_a_5xx_are_counted_by_status_class(app, client, scrape):
    def boom():
        raise RuntimeError("a bug")
    app.add_url_rule("/open-banking/v3.1/aisp/metrics-test-boom", "metrics_test_boom", boom)
    app.config["PROPAGATE_EXCEPTIONS"] = False     # answered as production answers it: a 500
    before = scrape()
    # (a response is counted when the server has taken its last byte: the bodies are read)
    refused = client.get("/open-banking/v3.1/aisp/accounts")
    assert (refused.status_code, refused.get_data()) == (401, b"")
    failed = client.get("/open-banking/v3.1/aisp/metrics-test-boom")
    assert failed.status_code == 500 and failed.get_data()
    after = scrape()
    assert moved(before, after, REQUESTS, family="ais", status="4xx") == 1
    assert moved(before, after, REQUESTS, family="ais", status="5xx") == 1
    assert moved(before, after, REQUESTS, family="ais", status="2xx") == 0


def test_the_latency_histogram_has_its_buckets_for_every_family(scrape):
    samples = scrape()
    for family in ("ais", "pis", "cof", "vrp", "events", "oauth", "portal", "web", "other"):
        bounds = [s["le"] for s in samples.labelled(f"{DURATION}_bucket")
                  if s["family"] == family]
        assert [float(b) for b in bounds] == [*LATENCY_BUCKETS, math.inf], family
        counts = [samples.value(f"{DURATION}_bucket", family=family, le=b) for b in bounds]
        assert counts == sorted(counts)       # cumulative


def test_consents_and_payments_by_status_come_from_the_database(
        aisp, decide, customer, pisp, payer, journey, scrape):
    first, second = aisp.create_consent(), aisp.create_consent()
    samples = scrape()
    assert samples.value("aspsp_consents", type="account-access",
                         status="AwaitingAuthorisation") == 2
    decide(first, customer)
    decide(second, customer, approve=False)
    paid = journey(pisp, payer)
    response = paid.submit()
    assert response.status_code == 201, response.get_json()
    payment_id = response.get_json()["Data"]["DomesticPaymentId"]
    status = paid.tpp.call("GET", f"{PAYMENTS}/{payment_id}",
                           token=pisp.token(scope="payments")).get_json()["Data"]["Status"]
    samples = scrape()
    assert samples.value("aspsp_consents", type="account-access",
                         status="AwaitingAuthorisation") == 0
    assert samples.value("aspsp_consents", type="account-access", status="Authorised") == 1
    assert samples.value("aspsp_consents", type="account-access", status="Rejected") == 1
    assert samples.value("aspsp_consents", type="domestic-payment") == 1
    assert samples.value("aspsp_payments", type="domestic-payment", status=status) == 1
    assert samples.value("aspsp_payments") == 1
    assert samples.value("aspsp_metrics_database_up") == 1


def test_database_figures_are_cached_between_scrapes(app, aisp, scrape):
    database_collector = app.extensions["metrics"]["collectors"][0]
    database_collector.ttl = 3600
    aisp.create_consent()
    assert scrape().value("aspsp_consents", status="AwaitingAuthorisation") == 1
    aisp.create_consent()
    assert scrape().value("aspsp_consents", status="AwaitingAuthorisation") == 1   # cached
    database_collector.ttl = 0
    assert scrape().value("aspsp_consents", status="AwaitingAuthorisation") == 2


def test_the_database_pool_is_shown(scrape):
    samples = scrape()
    assert samples.value("aspsp_db_pool_size") >= 1
    # The test's own connection (every unit of work runs in it) is checked out.
    assert samples.value("aspsp_db_pool_checked_out") >= 1


def test_webhook_outcomes_and_lag_are_counted(app, platform, tpp, make_receiver, scrape):
    from tests.integration.events.test_delivery import raise_event
    receiver = make_receiver(statuses=[500])
    tpp.subscribe(receiver.url)
    before = scrape()
    raise_event(app, platform, tpp, "pay-1")           # the receiver answers 500
    raise_event(app, platform, tpp, "pay-2")           # then 202 (and pay-1 waits its retry)
    after = scrape()
    assert len(receiver.answered) == 2
    assert moved(before, after, "aspsp_webhook_deliveries_total", outcome="refused") == 1
    assert moved(before, after, "aspsp_webhook_deliveries_total", outcome="delivered") == 1
    assert moved(before, after, "aspsp_webhook_delivery_lag_seconds_count") == 1


def test_vrp_payments_are_shown_by_the_status_the_api_answers(pisp, payer, vrp_journey, scrape):
    paid = vrp_journey(pisp, payer)
    response = paid.pay("12.00")
    assert response.status_code == 201, response.get_json()
    vrp_id = response.get_json()["Data"]["DomesticVRPId"]
    status = paid.read(vrp_id).get_json()["Data"]["Status"]
    samples = scrape()
    assert samples.value("aspsp_payments", type="domestic-vrp", status=status) == 1
    assert samples.value("aspsp_consents", type="domestic-vrp") == 1
    assert samples.value("aspsp_metrics_database_up") == 1


def test_calls_the_request_log_cannot_keep_are_counted(aisp, scrape, monkeypatch):
    """The KPI report reads the request log: a call it dropped is one the report misses."""
    from aspsp import request_log
    monkeypatch.setattr(request_log, "BUFFER_ROWS", 0)         # its buffer is full
    before = scrape()
    aisp.create_consent()
    after = scrape()
    assert moved(before, after, "aspsp_request_log_dropped_total") == 1
    assert moved(before, after, REQUESTS, family="ais", status="2xx") == 1
