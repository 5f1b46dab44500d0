"""/metrics read as Prometheus reads it: the text parsed into samples, and the TPPs, customers
and event receivers of the AIS, PIS and events tests that make the calls it counts."""
from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bank import create_app
from tests.conftest import TEST_ISSUER, UNLIMITED_RATES
from tests.integration.consent.conftest import (  # noqa: F401  (fixtures used here)
    aisp, customer, decide, make_customer, make_tpp)
from tests.integration.events.conftest import (  # noqa: F401
    make_events_tpp, make_receiver, receiver, tpp)
from tests.integration.pis.conftest import (  # noqa: F401
    approve, create_consent, journey, make_payer, payer, pisp)
from tests.integration.vrp.conftest import create_vrp_consent, vrp_journey  # noqa: F401


@pytest.fixture
def app(database, clock, tmp_path):
    """The test app, its database figures read afresh at every scrape (no cache)."""
    return create_app({"DATABASE_URL": database.url, "DATABASE": database, "CLOCK": clock,
                       "CELERY_ALWAYS_EAGER": True, "INSTANCE_PATH": str(tmp_path),
                       "SECRET_KEY": "test-secret", "TESTING": True, "ISSUER": TEST_ISSUER,
                       "METRICS_CACHE_SECONDS": 0, **UNLIMITED_RATES})


class Samples:
    """One scrape: every sample by name and labels."""

    def __init__(self, text: str):
        self.text = text
        self.samples = [s for family in text_string_to_metric_families(text)
                        for s in family.samples]

    def value(self, name: str, **labels) -> float:
        """The sum of the samples of `name` whose labels include `labels` (0 if none)."""
        return sum(s.value for s in self.samples if s.name == name
                   and all(s.labels.get(k) == v for k, v in labels.items()))

    def labelled(self, name: str) -> list[dict]:
        return [s.labels for s in self.samples if s.name == name]


def scrape_text(http, **kw) -> Samples:
    response = http.get("/metrics", **kw)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain; version=")
    return Samples(response.get_data(as_text=True))


@pytest.fixture
def scrape(client):
    return lambda **kw: scrape_text(client, **kw)
