"""Typed login errors. Each has a stable code; the web pages turn them into a message.

The messages are safe to show the customer: they never say whether a username exists or
which of username and password was wrong.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

UK = ZoneInfo("Europe/London")


class IdentityError(Exception):
    code = "Identity.Error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidCredentials(IdentityError):
    """Unknown username or wrong password: deliberately the same error."""
    code = "Identity.InvalidCredentials"

    def __init__(self, message: str = "The username or password is not right."):
        super().__init__(message)


class InvalidCode(IdentityError):
    code = "Identity.InvalidCode"

    def __init__(self, message: str = "That one-time code is not right, or was already used."):
        super().__init__(message)


class LoginLocked(IdentityError):
    code = "Identity.LoginLocked"

    def __init__(self, locked_until: datetime):
        # A lock lasts up to a day: the day and the UK time, the zone named, as the
        # customer's pages give times ("15 June 2026, 13:15 BST").
        local = locked_until.astimezone(UK)
        super().__init__("This login is locked after too many failed attempts. "
                         f"Try again after {local.day} {local:%B %Y, %H:%M} {local.tzname()}.")
        self.locked_until = locked_until


class UsernameTaken(IdentityError):
    code = "Identity.UsernameTaken"
