"""What a person sees when a page is not there, cannot be opened that way, or fails: a page in
the bank's look and plain words, with the pages' security headers. The JSON APIs keep their
own error formats (OB error body under /open-banking, RFC 6749 bodies on the OAuth and other
JSON endpoints)."""
from __future__ import annotations

import pytest
from markupsafe import escape


def assert_bank_page(response, status: int, heading: str):
    page = response.get_data(as_text=True)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert f"<h1>{escape(heading)}</h1>" in page
    assert "/psu/static/psu.css" in page and 'class="bank"' in page     # the bank's look
    assert "Not Found" not in page and "Method Not Allowed" not in page  # no bare server page
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    return page


@pytest.mark.parametrize("path", ["/no-such-page", "/psu/no-such-page", "/portal",
                                  "/psu/static/no-such.css", "/sandbox/nothing-here"])
def test_an_unknown_page_is_a_bank_page_in_plain_words(client, path):
    page = assert_bank_page(client.get(path), 404, "We can't find that page")
    assert 'href="/"' in page                                             # a way home


def test_a_page_opened_the_wrong_way_is_a_bank_page(client):
    response = client.post("/authorize")
    assert_bank_page(response, 405, "We can't find that page")
    assert "GET" in response.headers["Allow"]


def test_a_failure_on_a_page_is_a_bank_page_that_shows_no_details(app):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def explode():
        raise RuntimeError("secret-internal-detail")
    app.add_url_rule("/psu/explode", "explode", explode)
    page = assert_bank_page(app.test_client().get("/psu/explode"), 500,
                            "Something went wrong on our side")
    assert "secret-internal-detail" not in page and "Traceback" not in page


@pytest.mark.parametrize("method,path,allowed", [
    ("GET", "/token", "POST"), ("GET", "/par", "POST"), ("GET", "/introspect", "POST"),
    ("GET", "/revoke", "POST"), ("GET", "/register", "POST"), ("POST", "/jwks", "GET"),
    ("POST", "/.well-known/openid-configuration", "GET"), ("PATCH", "/userinfo", "GET")])
def test_oauth_endpoints_refuse_a_wrong_method_in_rfc6749_json(client, method, path, allowed):
    response = client.open(path, method=method)
    assert response.status_code == 405
    assert response.mimetype == "application/json"
    assert response.json["error"] == "invalid_request"
    assert allowed in response.json["error_description"]
    assert allowed in response.headers["Allow"]


@pytest.mark.parametrize("path", ["/.well-known/no-such-document", "/jwks/extra",
                                  "/health/nothing", "/sandbox/directory/nothing"])
def test_unknown_paths_under_json_endpoints_answer_json(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json == {"error": "invalid_request", "error_description": "no such endpoint"}


def test_open_banking_paths_keep_the_open_banking_error_format(client):
    response = client.get("/open-banking/v3.1/aisp/no-such-resource")
    assert response.status_code == 404
    assert response.json["Code"] == "404 Not Found" and response.json["Errors"]
    odd = client.open("/open-banking/v3.1/aisp/accounts", method="TRACE")
    assert odd.status_code == 405 and odd.json["Errors"]
