"""The platform's front door: `/` says what this is and links what a visitor can use here.

A link is shown only when this deployment serves its target (the sandbox directory only with
SANDBOX_ENABLED, the developer portal once it exists), checked against the URL map.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Flask, current_app, render_template
from werkzeug.exceptions import HTTPException

from . import web_pages

bp = Blueprint("landing", __name__)
web_pages.protect_pages(bp)


@dataclass(frozen=True)
class Link:
    audience: str
    label: str
    path: str
    text: str
    only_with: str | None = None       # a setting that must be on, e.g. SANDBOX_ENABLED


LINKS = (
    Link("customers", "Connected apps", "/psu/consents",
         "See every app you gave access to your accounts, and revoke it."),
    Link("developers", "API documentation", "/open-banking/docs",
         "The Open Banking Read/Write APIs of this bank, operation by operation."),
    Link("developers", "OpenAPI document", "/open-banking/openapi.json",
         "The same APIs as an OpenAPI 3 document, for code generators."),
    Link("developers", "OpenID discovery", "/.well-known/openid-configuration",
         "The authorization server's endpoints and what it supports (FAPI, DCR)."),
    Link("developers", "Developer portal", "/developers/",
         "Sign up, create apps and keys, inspect your requests."),
    Link("developers", "Sandbox directory", "/sandbox/directory/jwks",
         "The test directory's signing keys: software statements it signs are trusted here.",
         only_with="SANDBOX_ENABLED"),
    Link("regulators", "Conformance report", "/conformance",
         "The latest results of the Open Banking conformance suite run against this bank, "
         "check by check, with the runs before it."),
)


@bp.get("/")
def home():
    return render_template("landing.html", links=served_links(current_app),
                           sandbox=bool(current_app.config.get("SANDBOX_ENABLED")))


def served_links(app: Flask) -> dict[str, list[Link]]:
    adapter = app.url_map.bind("localhost")
    found: dict[str, list[Link]] = {}
    for link in LINKS:
        if link.only_with and not app.config.get(link.only_with):
            continue
        try:
            endpoint, _ = adapter.match(link.path, method="GET")
        except HTTPException:          # NotFound, MethodNotAllowed, a redirect to a slash
            continue
        if endpoint.endswith(".unknown_path"):   # a catch-all fallback is not a page
            continue
        found.setdefault(link.audience, []).append(link)
    return found


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
