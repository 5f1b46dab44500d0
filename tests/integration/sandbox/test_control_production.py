"""Production (SANDBOX_ENABLED off) refuses every sandbox-only endpoint: the control API, the
webhook inspector's receiving URL and its portal page answer 404, whatever the method. The
list they are checked from (sandbox.control.SANDBOX_ONLY_URLS) covers every rule of their
blueprints, so a new endpoint cannot be forgotten; and every other rule the sandbox adds is
checked too, by comparing a sandbox app's URL map with production's."""
from __future__ import annotations

import re

import pytest

from bank import create_app
from sandbox.control import SANDBOX_ONLY_BLUEPRINTS, SANDBOX_ONLY_URLS
from tests.conftest import TEST_ISSUER


@pytest.fixture
def production(database, clock, tmp_path, redis_url):
    return create_app({"DATABASE_URL": database.url, "DATABASE": database, "CLOCK": clock,
                       "CELERY_ALWAYS_EAGER": True, "INSTANCE_PATH": str(tmp_path),
                       "SECRET_KEY": "test-secret", "TESTING": True, "ISSUER": TEST_ISSUER,
                       "SANDBOX_ENABLED": False, "REDIS_URL": redis_url})


def test_the_list_covers_every_rule_of_the_sandbox_only_blueprints(app):
    rules = {(r.rule, tuple(sorted(r.methods - {"HEAD", "OPTIONS"})))
             for r in app.url_map.iter_rules()
             if r.endpoint.split(".")[0] in SANDBOX_ONLY_BLUEPRINTS}
    listed = {(rule, tuple(sorted(methods))) for methods, rule, _ in SANDBOX_ONLY_URLS}
    assert rules == listed
    for blueprint in SANDBOX_ONLY_BLUEPRINTS:             # each is registered in the sandbox
        assert blueprint in app.blueprints


def test_every_sandbox_only_url_answers_404_in_production(production, app, client):
    http = production.test_client()
    for methods, rule, url in SANDBOX_ONLY_URLS:
        for method in methods:
            assert http.open(url, method=method).status_code == 404, (method, url)
            # the same URL exists in the sandbox (so the 404 above is production's refusal)
            assert client.open(url, method=method).status_code != 405, (method, url)
    assert not any(r.endpoint.split(".")[0] in SANDBOX_ONLY_BLUEPRINTS
                   for r in production.url_map.iter_rules())


def test_every_rule_only_the_sandbox_adds_answers_404_in_production(production, app):
    """Beyond the list: whatever the sandbox registers (its directory, its authenticator,
    other engineers' sandbox pages) is absent from production."""
    in_production = {r.rule for r in production.url_map.iter_rules()}
    only_sandbox = [r for r in app.url_map.iter_rules() if r.rule not in in_production]
    assert only_sandbox, "the sandbox app adds no URL?"
    http = production.test_client()
    for rule in only_sandbox:
        url = re.sub(r"<(?:[^:>]+:)?([^>]+)>", "x", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            assert http.open(url, method=method).status_code == 404, (method, rule.rule)
