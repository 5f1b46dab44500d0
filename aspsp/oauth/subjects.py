"""The `sub` of a sign-in: an OpenID Connect authentication with no intent, so no consent.

With a consent, `sub` is the consent's id (the Open Banking convention: the TPP learns
nothing of the customer but the consent it already holds). A sign-in has no consent; its
`sub` is pairwise (OpenID Connect Core §8.1): one random identifier per sector (the
client's software, `org_id/software_id`) and customer, kept in `oidc_subjects`. Two TPPs
get two unrelated identifiers for the same customer, and none of them learns an identifier
the bank uses for anything else."""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from consent.models import Consent

from ..db import UnitOfWork
from .models import OAuthClient, SignInSubject


def sub_of(uow: UnitOfWork, client: OAuthClient, psu_pk: int, consent: Consent | None,
           now: datetime) -> str:
    """The `sub` of what a customer authorised for a client, wherever it is told (id tokens,
    /userinfo, introspection): the consent's id, or for a sign-in the pairwise subject."""
    if consent is not None:
        return consent.consent_id
    return subject_for(uow, client, psu_pk, now)


def sector_of(client: OAuthClient) -> str:
    return f"{client.org_id}/{client.software_id}"[:160]


def subject_for(uow: UnitOfWork, client: OAuthClient, psu_pk: int, now: datetime) -> str:
    """The customer's subject for this client's sector: the one given before, or a new one.
    Two first sign-ins racing make one row (the unique constraint), and both read it."""
    sector = sector_of(client)
    query = select(SignInSubject.sub).where(SignInSubject.sector == sector,
                                            SignInSubject.psu_pk == psu_pk)
    sub = uow.session.scalars(query).first()
    if sub is not None:
        return sub
    sub = secrets.token_urlsafe(32)
    try:
        with uow.session.begin_nested():
            uow.session.add(SignInSubject(sector=sector, psu_pk=psu_pk, sub=sub,
                                          created_at=now))
    except IntegrityError:
        return uow.session.scalars(query).one()
    return sub
