"""Form-posting helpers for the organisation, app and key pages' tests (a signed-in test
client that reads the CSRF token off the page its form is on, as a browser would)."""
from __future__ import annotations

import re

from tests.portal_factories import sign_in

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def signed_in(app, developer, now):
    client = app.test_client()
    sign_in(client, developer, now)
    return client


def token(client, page: str) -> str:
    response = client.get(page)
    assert response.status_code == 200, (page, response.status_code)
    match = CSRF.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {page}"
    return match.group(1)


def post(client, page: str, action: str, data: dict, *, csrf: bool = True):
    """Post the form of `page` to `action` (with the page's CSRF token unless csrf=False)."""
    form = dict(data)
    if csrf:
        form["csrf_token"] = token(client, page)
    return client.post(action, data=form)


def text(response) -> str:
    return response.get_data(as_text=True)
