"""The sandbox directory mirrors the developer portal (developer_portal.hooks' protocol).

- A portal organisation is the directory organisation with the same org_id (name, competent
  authority, registration number, roles).
- A portal app is the directory software statement with software_id = app_id: its name,
  redirect URIs, roles and public keys. The software's JWKS is the app's keys plus the keys
  the sandbox itself put there for the one-click registration (kid "sandbox-registration-..."),
  which an update from the portal keeps.
- `app_links(app)`: the sandbox's own pages for one app, shown on the app's portal page.
  One (label, endpoint) line each; add yours to LINKS.

SSAs issued afterwards carry the new contents (their software_jwks_endpoint answers from the
software statement), so a key revoked in the portal no longer verifies anything at once.
"""
from __future__ import annotations

import logging

from flask import url_for

from aspsp import platform

from . import directory

log = logging.getLogger(__name__)

REGISTRATION_KID_PREFIX = "sandbox-registration-"

# The sandbox's pages for an app: (label, endpoint taking app_id).
LINKS = [
    ("Transport certificates (MTLS)", "sandbox_certificates.index"),
    ("Sandbox test data and reset", "sandbox_test_data.page"),
    ("Webhook inspector", "sandbox_inspector_pages.page"),
]


class PortalDirectory:
    """Registered as app.extensions["developer_portal.sandbox"] while SANDBOX_ENABLED."""

    def organisation_saved(self, uow, org) -> None:
        try:
            directory.save_organisation(uow, org_id=org.org_id, name=org.name,
                                        competent_authority=org.competent_authority,
                                        authorisation_id=org.authorisation_id,
                                        roles=org.roles, now=platform.current().clock.now())
        except directory.DirectoryError as refused:
            log.warning("sandbox directory: organisation %s not updated: %s", org.org_id,
                        refused)

    def app_saved(self, uow, app) -> None:
        org = app.organisation
        if directory._organisation(uow, org.org_id) is None:   # made before the sandbox was on
            self.organisation_saved(uow, org)
        app_keys = list((app.jwks or {}).get("keys", []))
        kids = {k.get("kid") for k in app_keys}
        existing = directory._software(uow, app.app_id)
        kept = [k for k in ((existing.jwks or {}).get("keys", []) if existing else [])
                if str(k.get("kid", "")).startswith(REGISTRATION_KID_PREFIX)
                and k.get("kid") not in kids]
        try:
            directory.save_software(uow, org_id=org.org_id, software_id=app.app_id,
                                    client_name=app.name, redirect_uris=app.redirect_uris,
                                    roles=app.roles, jwks={"keys": [*app_keys, *kept]},
                                    now=platform.current().clock.now())
        except directory.DirectoryError as refused:
            # the portal checks the same rules first; what is left is the directory's own
            # state (an organisation an operator revoked): the portal's save stands
            log.warning("sandbox directory: software %s not updated: %s", app.app_id, refused)
            return
        log.info("sandbox directory: software %s mirrors the portal app (%d keys)",
                 app.app_id, len(app_keys) + len(kept))

    def app_links(self, app) -> list[tuple[str, str]]:
        return [(label, url_for(endpoint, app_id=app.app_id)) for label, endpoint in LINKS]

    def inspector_url(self, app) -> str | None:
        """The callback URL of the app's webhook inspector (sandbox/inspector.py)."""
        from . import inspector
        return inspector.portal_inspector_url(app)
