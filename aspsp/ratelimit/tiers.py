"""Rate-limit tiers as values (no Flask, no SQLAlchemy): the API families, what a tier allows
each family, a client's burst allowance, and which family a request path belongs to.

A tier is one setting per tier (RATELIMIT_TIER_SANDBOX, ..._STANDARD, ..._PREMIUM), every
family named once with its windows in the `limits` syntax:
"ais: 20 per second, 600 per minute; pis: 10 per second, 300 per minute; ...".
A client's burst allowance is added to its tier's shortest window of every family (the
per-second rate): the client may answer a spike with up to `rate + burst` calls in one second,
while the longer windows (per minute) still bound what it sustains.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from limits import RateLimitItem, parse_many


class Family(StrEnum):
    """The API families a client's limits are counted per (one counter each)."""
    AIS = "ais"          # account information, account-access consents
    PIS = "pis"          # payment initiation, payment consents
    COF = "cof"          # confirmation of funds, funds-confirmation consents
    VRP = "vrp"          # variable recurring payments, VRP consents
    EVENTS = "events"    # event polling, event subscriptions, callback URLs
    OAUTH = "oauth"      # token, PAR, introspection, revocation (client-authenticated)


FAMILY_NAMES = {Family.AIS: "Account information (AIS)", Family.PIS: "Payment initiation (PIS)",
                Family.COF: "Confirmation of funds (CoF)",
                Family.VRP: "Variable recurring payments (VRP)",
                Family.EVENTS: "Event notifications", Family.OAUTH: "OAuth token and PAR"}


class Tier(StrEnum):
    SANDBOX = "sandbox"
    STANDARD = "standard"
    PREMIUM = "premium"


def setting_name(tier: Tier) -> str:
    return f"RATELIMIT_TIER_{tier.value.upper()}"


MAX_BURST = 100_000


class TierError(ValueError):
    """A tier setting that cannot be read (the app refuses to start with it)."""


@dataclass(frozen=True)
class Window:
    amount: int
    seconds: int
    item: RateLimitItem

    @property
    def text(self) -> str:
        return f"{self.amount} per {_window_words(self.seconds)}"


@dataclass(frozen=True)
class FamilyLimits:
    """One family's windows for one client (burst included), shortest window first."""
    family: Family
    windows: tuple[Window, ...]

    def per(self, seconds: int) -> int | None:
        return next((w.amount for w in self.windows if w.seconds == seconds), None)


def parse_tier(text: str, tier: Tier | str = "?") -> dict[Family, tuple[RateLimitItem, ...]]:
    """A tier setting's families and their windows; TierError names what is wrong."""
    families: dict[Family, tuple[RateLimitItem, ...]] = {}
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        name, colon, windows = part.partition(":")
        if not colon:
            raise TierError(f"tier {tier}: write each family as 'ais: N per second, M per "
                            f"minute', not {part!r}")
        try:
            family = Family(name.strip().lower())
        except ValueError:
            raise TierError(f"tier {tier}: unknown API family {name.strip()!r} (known: "
                            f"{', '.join(f.value for f in Family)})") from None
        if family in families:
            raise TierError(f"tier {tier}: {family} is named more than once")
        if not windows.strip():
            raise TierError(f"tier {tier}, {family}: no window")
        try:
            items = tuple(sorted(parse_many(windows), key=lambda i: i.get_expiry()))
        except ValueError as exc:
            raise TierError(f"tier {tier}, {family}: {exc}") from None
        families[family] = items
    missing = [f.value for f in Family if f not in families]
    if missing:
        raise TierError(f"tier {tier}: no limits for {', '.join(missing)}")
    return families


def with_burst(items: tuple[RateLimitItem, ...], family: Family, burst: int) -> FamilyLimits:
    """The tier's windows of a family with `burst` added to the shortest one."""
    windows = []
    for index, item in enumerate(items):
        amount = item.amount + (burst if index == 0 else 0)
        seconds = item.get_expiry()
        windows.append(Window(amount, seconds, item if amount == item.amount
                              else type(item)(amount, item.multiples)))
    return FamilyLimits(family, tuple(windows))


# /open-banking/v3.1/aisp/..., /open-banking/v4.0/pisp/domestic-vrps, /open-banking/v3.1/events
_OB_PATH = re.compile(r"^/open-banking/v\d+(?:\.\d+)*/([^/]+)(?:/([^/]+))?")
_OB_FAMILIES = {"aisp": Family.AIS, "pisp": Family.PIS, "cbpii": Family.COF,
                "events": Family.EVENTS, "event-subscriptions": Family.EVENTS,
                "callback-urls": Family.EVENTS}
OAUTH_CLIENT_PATHS = frozenset({"/token", "/par", "/introspect", "/revoke"})


def family_of(path: str) -> Family | None:
    """The family of an Open Banking path or of an OAuth endpoint a client authenticates at;
    None for anything else (pages, discovery, unknown API paths)."""
    if path in OAUTH_CLIENT_PATHS:
        return Family.OAUTH
    match = _OB_PATH.match(path)
    if match is None:
        return None
    family = _OB_FAMILIES.get(match.group(1))
    if family is Family.PIS and (match.group(2) or "").startswith("domestic-vrp"):
        return Family.VRP
    return family


def _window_words(seconds: int) -> str:
    for size, word in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if seconds % size == 0:
            count = seconds // size
            return word if count == 1 else f"{count} {word}s"
    return f"{seconds} seconds"
