"""Developer portal records for tests, and signing a test client in as a developer without
going through the login pages (the pages' own tests do that)."""
from __future__ import annotations

import secrets
from datetime import datetime

from aspsp.identity.passwords import hash_password
from developer_portal import auth
from developer_portal.models import (ADMIN, PortalApp, PortalDeveloper, PortalMembership,
                                     PortalOrganisation)

PASSWORD = "portal-pass-1"
_HASH = None


def _password_hash() -> str:
    global _HASH
    if _HASH is None:          # argon2 is slow on purpose: hash the shared password once
        _HASH = hash_password(PASSWORD)
    return _HASH


def make_developer(uow, now: datetime, *, email: str | None = None,
                   name: str = "Dana Developer") -> PortalDeveloper:
    developer = PortalDeveloper(developer_id=secrets.token_hex(8),
                                email=email or f"dev-{secrets.token_hex(4)}@example.com",
                                name=name, password_hash=_password_hash(),
                                email_verified_at=now, failed_logins=0, created_at=now)
    uow.session.add(developer)
    uow.session.flush()
    return developer


def make_organisation(uow, now: datetime, developer: PortalDeveloper, *, role: str = ADMIN,
                      name: str = "Acme Payments Ltd", roles=("AISP", "PISP", "CBPII")
                      ) -> PortalOrganisation:
    org = PortalOrganisation(org_id=secrets.token_hex(9), name=name, competent_authority="GB:FCA",
                             authorisation_id=str(secrets.randbelow(900000) + 100000),
                             roles=list(roles), created_at=now)
    uow.session.add(org)
    uow.session.flush()
    uow.session.add(PortalMembership(org_pk=org.id, developer_pk=developer.id, role=role,
                                     created_at=now))
    uow.session.flush()
    return org


def make_app(uow, now: datetime, org: PortalOrganisation, *, name: str = "Acme Money",
             client_id: str | None = None, jwks: dict | None = None,
             redirect_uris=("https://tpp.example.com/callback",)) -> PortalApp:
    app = PortalApp(app_id=secrets.token_hex(11), org_pk=org.id, name=name,
                    redirect_uris=list(redirect_uris), roles=list(org.roles),
                    token_endpoint_auth_method="private_key_jwt", profile="fapi2",
                    jwks=jwks or {"keys": []}, client_id=client_id, created_at=now,
                    updated_at=now)
    uow.session.add(app)
    uow.session.flush()
    return app


def sign_in(client, developer: PortalDeveloper, now: datetime) -> None:
    """Make `client`'s browser session a completed developer login."""
    at = int(now.timestamp())
    with client.session_transaction() as session:
        session[auth.SESSION_KEY] = {"developer": developer.developer_id, "stage": auth.DONE,
                                     "t": at, "since": at}
