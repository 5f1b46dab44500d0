"""Opaque, unguessable identifiers for everything that appears in a URL.

Production draws from `secrets`; the sandbox seed passes a seeded `random.Random` so the same
seed gives the same identifiers.
"""
from __future__ import annotations

import random
import secrets
import uuid


def new_id(rng: random.Random | None = None) -> str:
    bits = rng.getrandbits(128) if rng is not None else secrets.randbits(128)
    return str(uuid.UUID(int=bits, version=4))
