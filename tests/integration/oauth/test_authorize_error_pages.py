"""A customer whom an app sent to /authorize with a request that cannot go ahead (and cannot
be sent back to the app) sees a page in the bank's look, in plain words; the OAuth error code
is on a small line for the app's developers."""
from __future__ import annotations

from datetime import timedelta

from markupsafe import escape
from sqlalchemy import select

from aspsp.oauth.models import PushedAuthorizationRequest
from tests.oauth_tpp import pkce_verifier


def push(tpp, consent_id) -> str:
    response = tpp.par(tpp.request_params(consent_id, verifier=pkce_verifier()))
    assert response.status_code == 201, response.json
    return response.json["request_uri"]


def authorize(tpp, **query):
    return tpp.http.get("/authorize", query_string=query)


def assert_customer_page(response, heading: str, developer_code: str):
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert f"<h1>{escape(heading)}</h1>" in page
    assert "Nothing has been shared" in page or "Nothing more has been shared" in page
    assert "/psu/static/psu.css" in page                                # the bank's look
    developer_line = page[page.index('class="developer"'):]
    assert "For the app's developers" in developer_line
    assert f"<code>{developer_code}:" in developer_line                 # the code, kept small
    assert page.index(escape(heading)) < page.index(developer_code)     # words first
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    return page


def test_an_unknown_app_is_named_as_such(tpp):
    response = authorize(tpp, client_id="no-such-client", request_uri="urn:x")
    assert_customer_page(response, "We don't recognise this app", "invalid_client")


def test_a_request_without_parameters_is_called_incomplete(tpp):
    assert_customer_page(authorize(tpp), "This request is incomplete", "invalid_client")


def test_a_request_missing_its_request_uri_is_called_incomplete(tpp):
    response = authorize(tpp, client_id=tpp.client_id)
    assert_customer_page(response, "This request is incomplete", "invalid_request")


def test_an_expired_request_uri_is_a_link_that_expired(tpp, consent_for, clock):
    request_uri = push(tpp, consent_for(tpp))
    clock.advance(timedelta(seconds=91))
    response = authorize(tpp, client_id=tpp.client_id, request_uri=request_uri)
    assert_customer_page(response, "This link has expired", "invalid_request_uri")


def test_a_used_request_uri_is_a_link_already_used(tpp, consent_for, platform, clock):
    request_uri = push(tpp, consent_for(tpp))
    with platform.uow() as uow:
        row = uow.session.scalars(select(PushedAuthorizationRequest).where(
            PushedAuthorizationRequest.request_uri == request_uri)).one()
        row.used_at = clock.now()
        uow.commit()
    response = authorize(tpp, client_id=tpp.client_id, request_uri=request_uri)
    assert_customer_page(response, "This link has already been used", "invalid_request_uri")


def test_an_unknown_request_uri_is_a_link_that_is_not_valid(tpp):
    response = authorize(tpp, client_id=tpp.client_id,
                         request_uri="urn:ietf:params:oauth:request_uri:nothing")
    assert_customer_page(response, "This link isn't valid", "invalid_request_uri")
