"""`/`: the platform's front door says what this is and links what this deployment serves."""
from __future__ import annotations

from bank import create_app
from tests.conftest import TEST_ISSUER


def links_of(page: str) -> set[str]:
    import re
    return set(re.findall(r'<a href="([^"]+)"', page))


def test_the_front_door_says_what_this_is_and_links_what_is_served(client):
    response = client.get("/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "<h1>Invisible Bank Open Banking</h1>" in page
    assert "UK Open Banking standard" in page
    assert {"/open-banking/docs", "/.well-known/openid-configuration", "/psu/consents",
            "/sandbox/directory/jwks"} <= links_of(page)
    for link in links_of(page):                                   # every link leads somewhere
        assert client.get(link).status_code in (200, 303), link
    assert "/developers/" in links_of(page)                       # the developer portal
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_the_sandbox_directory_is_linked_only_while_the_sandbox_is_on(database, clock,
                                                                       tmp_path, redis_url):
    production = create_app({"DATABASE_URL": database.url, "DATABASE": database,
                             "CLOCK": clock, "CELERY_ALWAYS_EAGER": True,
                             "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "test-secret",
                             "TESTING": True, "ISSUER": TEST_ISSUER,
                             "SANDBOX_ENABLED": False, "REDIS_URL": redis_url})
    page = production.test_client().get("/").get_data(as_text=True)
    assert "/open-banking/docs" in links_of(page)
    assert not any(link.startswith("/sandbox") for link in links_of(page))
    assert "test bank with made-up customers" not in page
