"""Test builders for bank customers' logins and for authorization requests waiting for them."""
from __future__ import annotations

import itertools
from datetime import timedelta

from aspsp.identity import services as identity
from aspsp.identity.models import PsuUser
from aspsp.ids import new_id
from aspsp.oauth.models import PendingAuthorization
from consent.models import Consent, ConsentEvent
from tests import factories

PASSWORD = "correct horse battery staple"
_names = itertools.count(1)

DEFAULT_PERMISSIONS = ["ReadAccountsDetail", "ReadBalances", "ReadTransactionsCredits",
                       "ReadTransactionsDebits", "ReadTransactionsDetail"]


def psu(uow, *, now, username: str | None = None, password: str = PASSWORD,
        party=None, name: str = "Alice Example") -> PsuUser:
    party = party or factories.party(uow, name, now=now)
    uow.session.flush()
    return identity.create_psu(uow, username=username or f"customer{next(_names)}",
                               password=password, party=party, now=now)


def consent(uow, *, now, client, permissions=None, status: str = "AwaitingAuthorisation",
            expires_in: timedelta | None = timedelta(days=90), psu: PsuUser | None = None) -> Consent:
    row = Consent(consent_id=f"aac-{new_id()}", consent_type="account-access",
                  client_pk=client.row.id, psu_pk=psu.id if psu else None, status=status,
                  status_updated_at=now, created_at=now,
                  expiration_datetime=now + expires_in if expires_in else None,
                  transaction_from_datetime=now - timedelta(days=365),
                  transaction_to_datetime=None,
                  permissions=list(permissions or DEFAULT_PERMISSIONS), data={},
                  api_version="3.1")
    uow.session.add(row)
    uow.session.flush()
    uow.session.add(ConsentEvent(consent_pk=row.id, from_status=None, to_status=status,
                                 actor="tpp", actor_id=client.client_id, at=now))
    uow.session.flush()
    return row


def pending_authorization(uow, *, now, client, consent_row: Consent | None,
                          expires_in: timedelta = timedelta(minutes=10),
                          response_type: str = "code") -> PendingAuthorization:
    """A validated request waiting for the customer: for `consent_row`, or a sign-in (None:
    scope openid alone, no consent)."""
    redirect_uri = client.row.client_metadata["redirect_uris"][0]
    row = PendingAuthorization(
        reference=new_id(), client_pk=client.row.id,
        consent_pk=consent_row.id if consent_row is not None else None,
        params={"response_type": response_type, "client_id": client.client_id,
                "redirect_uri": redirect_uri,
                "scope": "openid accounts" if consent_row is not None else "openid",
                "state": "st-123",
                "nonce": "n-456", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                "code_challenge_method": "S256"},
        created_at=now, expires_at=now + expires_in)
    uow.session.add(row)
    uow.session.flush()
    return row
