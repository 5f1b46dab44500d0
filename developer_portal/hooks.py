"""Where the sandbox plugs into the developer portal (the portal never imports the sandbox).

While SANDBOX_ENABLED is on, `sandbox.init_app` registers an object under EXTENSION with:
- `organisation_saved(uow, org)`: the sandbox directory mirrors the organisation;
- `app_saved(uow, app)`: the directory mirrors the app as a software statement (its redirect
  URIs, roles and public keys);
- `app_links(app) -> list[(label, url)]`: the sandbox's pages for one app, shown on its page;
- optionally `inspector_url(app) -> str | None`: the sandbox webhook inspector's receiving URL
  for the app (a callback URL the portal's webhooks page offers), None when it has none.
In production nothing is registered and the portal's pages simply have no sandbox parts.
"""
from __future__ import annotations

from typing import Protocol

from flask import current_app

EXTENSION = "developer_portal.sandbox"


class SandboxHooks(Protocol):
    def organisation_saved(self, uow, org) -> None: ...

    def app_saved(self, uow, app) -> None: ...

    def app_links(self, app) -> list[tuple[str, str]]: ...

    # optional: def inspector_url(self, app) -> str | None


def sandbox() -> SandboxHooks | None:
    """The sandbox's hooks, or None in production."""
    return current_app.extensions.get(EXTENSION)


def organisation_saved(uow, org) -> None:
    hooks = sandbox()
    if hooks is not None:
        hooks.organisation_saved(uow, org)


def app_saved(uow, app) -> None:
    hooks = sandbox()
    if hooks is not None:
        hooks.app_saved(uow, app)


def app_links(app) -> list[tuple[str, str]]:
    hooks = sandbox()
    return hooks.app_links(app) if hooks is not None else []


def inspector_url(app) -> str | None:
    """The sandbox webhook inspector's callback URL for the app; None in production (and
    while the sandbox offers no inspector)."""
    hooks = sandbox()
    offer = getattr(hooks, "inspector_url", None) if hooks is not None else None
    return offer(app) if offer is not None else None
