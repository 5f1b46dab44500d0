"""The interactive API docs (/open-banking/docs) are served wholly by the platform: every
asset the page references is same-origin and served, under a CSP that allows nothing else.
(A real browser renders them offline: tests/integration/psu_web/test_browser.py.)"""
from __future__ import annotations

import re

DOCS = "/open-banking/docs"


def referenced(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]*)"', page)


def test_the_docs_page_references_only_same_origin_assets_that_are_served(client):
    response = client.get(DOCS)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    urls = referenced(page)
    assert any(u.endswith(".js") for u in urls) and any(u.endswith(".css") for u in urls)
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url       # same origin
        asset = client.get(url)
        assert asset.status_code == 200, url
        if url.endswith(".js"):
            assert asset.mimetype in ("text/javascript", "application/javascript")
            assert len(asset.data) > 200
    bundle = next(u for u in urls if u.endswith("swagger-ui-bundle.js"))
    assert b"SwaggerUIBundle" in client.get(bundle).data
    assert "<script>" not in page                                      # no inline script
    assert "/open-banking/openapi.json" in page


def test_the_docs_page_and_its_assets_carry_a_csp_and_frame_options(client):
    page = client.get(DOCS)
    asset = client.get(next(u for u in referenced(page.get_data(as_text=True))
                            if u.endswith(".js")))
    for response in (page, asset):
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src 'self';" in policy
        assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_only_the_docs_own_assets_are_served_from_the_bundle(client):
    for name in ("index.html", "oauth2-redirect.html", "..%2f__init__.py", "swagger-ui.js.map"):
        assert client.get(f"{DOCS}/assets/{name}").status_code == 404, name
