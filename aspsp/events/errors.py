"""Typed errors of the event resources; the views render them as OB errors."""
from __future__ import annotations

from .domain import Problem


class EventsError(Exception):
    def __init__(self, message: str, path: str | None = None):
        super().__init__(message)
        self.message = message
        self.path = path


class InvalidSubscription(EventsError):
    """Bad CallbackUrl, Version or EventTypes (400, each problem its own OB code)."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


class SubscriptionExists(EventsError):
    """The client already has its one subscription (409)."""


class SubscriptionNotFound(EventsError):
    """No subscription of this client with this id (400 UK.OBIE.Resource.NotFound)."""


class InvalidPoll(InvalidSubscription):
    """Bad maxEvents, ack or setErrs (400)."""


class EventNotFound(EventsError):
    """No event of this client with this jti (the developer portal's pages: 404)."""


class EventRefused(EventsError):
    """A resend or a test event that cannot go ahead (no callback URL, no subscription that
    receives the type, an unknown type): the message says why."""
