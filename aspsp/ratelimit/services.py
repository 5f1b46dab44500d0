"""The operator's use cases on a client's rate limits (`flask ratelimit ...`) and the
read-only view the developer portal shows. Each use case owns its unit of work."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from .. import audit
from ..db import UnitOfWork
from ..oauth.models import OAuthClient
from . import RateLimits
from .tiers import MAX_BURST, Family, FamilyLimits, Tier


class RateLimitError(ValueError):
    """An operator's request that cannot be carried out (unknown client, bad burst)."""


@dataclass(frozen=True)
class ClientLimits:
    """What a client may call: its tier (and whether the operator set it), its burst
    allowance and, per family, its windows with the burst included."""
    client_id: str
    client_name: str
    tier: Tier
    tier_set: bool
    burst: int
    families: dict[Family, FamilyLimits]


def _live_client(uow: UnitOfWork, client_id: str) -> OAuthClient:
    row = uow.session.scalars(select(OAuthClient).where(
        OAuthClient.client_id == client_id, OAuthClient.deleted_at.is_(None))).one_or_none()
    if row is None:
        raise RateLimitError(f"no registered client {client_id!r}")
    return row


def _limits(rate_limits: RateLimits, row) -> ClientLimits:
    return ClientLimits(client_id=row.client_id, client_name=row.client_name,
                        tier=rate_limits.tier_of(row.rate_limit_tier),
                        tier_set=row.rate_limit_tier is not None,
                        burst=row.rate_limit_burst or 0,
                        families=rate_limits.client_limits(row.rate_limit_tier,
                                                           row.rate_limit_burst))


def set_client_limits(uow: UnitOfWork, rate_limits: RateLimits, client_id: str, *,
                      now: datetime, tier: Tier | None = None, burst: int | None = None,
                      reset: bool = False) -> ClientLimits:
    """Set a client's tier and/or burst (`reset`: back to the default tier and no burst).
    One UPDATE of its row: every process sees it on the client's next call. The change is
    an administrative event of the audit trail, written in the same transaction."""
    if burst is not None and not 0 <= burst <= MAX_BURST:
        raise RateLimitError(f"the burst must be between 0 and {MAX_BURST}")
    row = _live_client(uow, client_id)
    values = {"rate_limit_tier": None, "rate_limit_burst": None} if reset else {}
    if tier is not None:
        values["rate_limit_tier"] = Tier(tier).value
    if burst is not None:
        values["rate_limit_burst"] = burst
    if values:
        # A Core UPDATE: the ORM's update hook would bump registration_version and drop the
        # client's cached keys in every process, which a tier change has no reason to do.
        uow.session.execute(update(OAuthClient).where(OAuthClient.id == row.id)
                            .values(**values))
        audit.record(uow, "admin.rate_limits_set", audit.Actor.operator(), now=now,
                     subject=row.client_id,
                     facts={"tier": values.get("rate_limit_tier", row.rate_limit_tier),
                            "burst": values.get("rate_limit_burst", row.rate_limit_burst),
                            "reset": reset})
        uow.commit()
        uow.session.refresh(row)
    return _limits(rate_limits, row)


def client_limits(uow: UnitOfWork, rate_limits: RateLimits, client_id: str) -> ClientLimits:
    return _limits(rate_limits, _live_client(uow, client_id))


def client_limits_or_none(uow: UnitOfWork, rate_limits: RateLimits,
                          client_id: str | None) -> ClientLimits | None:
    """The portal's view of an app's limits; None when it is not (or no longer) registered."""
    if not client_id:
        return None
    try:
        return client_limits(uow, rate_limits, client_id)
    except RateLimitError:
        return None


def all_client_limits(uow: UnitOfWork, rate_limits: RateLimits) -> list[ClientLimits]:
    rows = uow.session.execute(select(
        OAuthClient.client_id, OAuthClient.client_name, OAuthClient.rate_limit_tier,
        OAuthClient.rate_limit_burst).where(OAuthClient.deleted_at.is_(None))
        .order_by(OAuthClient.client_name, OAuthClient.client_id)).all()
    return [_limits(rate_limits, row) for row in rows]
