"""/metrics is not public: without METRICS_TOKEN only a loopback peer reads it; with one, only
its bearer; everybody else, a client behind the trusted proxy included, gets 404. The broker's
queue lengths come from Redis."""
from __future__ import annotations

import uuid

import redis

from aspsp import metrics
from bank import create_app
from tests.conftest import TEST_ISSUER
from tests.integration.metrics.conftest import Samples

TOKEN = "metrics-" + uuid.uuid4().hex
OUTSIDER = {"REMOTE_ADDR": "203.0.113.9"}


def test_a_loopback_peer_reads_it_and_an_outsider_gets_404(client):
    assert client.get("/metrics").status_code == 200
    refused = client.get("/metrics", environ_base=OUTSIDER)
    assert refused.status_code == 404
    assert b"aspsp_" not in refused.get_data()


def test_a_client_behind_the_trusted_proxy_is_an_outsider(app, client):
    app.extensions["aspsp"].config["TRUSTED_PROXIES"] = "127.0.0.1"    # what the proxy reads
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.7"})
    assert proxied.status_code == 404
    assert client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200


def test_with_a_token_only_its_bearer_reads_it_from_anywhere(app, client):
    app.config["METRICS_TOKEN"] = TOKEN
    assert client.get("/metrics").status_code == 404                  # loopback, no token
    for wrong in (f"Bearer {TOKEN}x", f"Basic {TOKEN}", "Bearer", TOKEN):
        assert client.get("/metrics", headers={"Authorization": wrong},
                          environ_base=OUTSIDER).status_code == 404, wrong
    granted = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"},
                         environ_base=OUTSIDER)
    assert granted.status_code == 200
    assert Samples(granted.get_data(as_text=True)).value("aspsp_db_pool_size") >= 1
    assert granted.headers["Cache-Control"] == "no-store"


def test_queue_lengths_are_read_from_the_redis_broker(redis_url):
    queue = f"metrics-test-{uuid.uuid4().hex}"
    r = redis.Redis.from_url(redis_url)
    r.rpush(queue, b"one", b"two", b"three")
    try:
        families = {f.name: f for f in metrics.read_queues(redis_url, (queue, "empty-" + queue))()}
    finally:
        r.delete(queue)
    lengths = {s.labels["queue"]: s.value for s in families["aspsp_celery_queue_length"].samples}
    assert lengths == {queue: 3, "empty-" + queue: 0}
    assert families["aspsp_metrics_broker_up"].samples[0].value == 1


def test_an_app_with_a_redis_broker_shows_its_queue(database, clock, tmp_path, redis_url):
    app = create_app({"DATABASE_URL": database.url, "DATABASE": database, "CLOCK": clock,
                      "CELERY_ALWAYS_EAGER": True, "INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "test-secret", "TESTING": True, "ISSUER": TEST_ISSUER,
                      "REDIS_URL": redis_url, "CELERY_BROKER_URL": redis_url})
    response = app.test_client().get("/metrics")
    samples = Samples(response.get_data(as_text=True))
    assert samples.labelled("aspsp_celery_queue_length") == [{"queue": "celery"}]
    assert samples.value("aspsp_metrics_broker_up") == 1


def test_an_unreachable_broker_is_reported_not_raised():
    families = {f.name: f for f in metrics.read_queues("redis://127.0.0.1:1/0", ("celery",))()}
    assert set(families) == {"aspsp_metrics_broker_up"}
    assert families["aspsp_metrics_broker_up"].samples[0].value == 0
