"""Replay caches for one-time values (jti of client assertions, DPoP proofs, request objects,
software statements): Redis when configured, in-process otherwise."""
from __future__ import annotations

import threading
import time
from typing import Protocol


class ReplayCache(Protocol):
    def first_use(self, namespace: str, value: str, ttl_seconds: int) -> bool:
        """True the first time `value` is seen in `namespace` within `ttl_seconds`."""


class InProcessReplayCache:
    def __init__(self):
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def first_use(self, namespace: str, value: str, ttl_seconds: int) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen = {k: exp for k, exp in self._seen.items() if exp > now}
            key = (namespace, value)
            if self._seen.get(key, 0) > now:
                return False
            self._seen[key] = now + ttl_seconds
            return True


class RedisReplayCache:
    def __init__(self, url: str):
        import redis

        self._redis = redis.Redis.from_url(url)

    def first_use(self, namespace: str, value: str, ttl_seconds: int) -> bool:
        """One command, atomic across every process: SET ... NX EX answers OK only to the
        first caller. Sent as the raw command: redis-py's `set()` checks a dozen options we
        never pass, which cost a fifth of the call (issue 8)."""
        return self._redis.execute_command("SET", f"replay:{namespace}:{value}", 1, "NX", "EX",
                                           max(1, int(ttl_seconds))) is not None


class SharedReplayCacheRequired(RuntimeError):
    """A production process without REDIS_URL: it refuses to start."""


def replay_cache_from_config(config) -> ReplayCache:
    """Redis when REDIS_URL is set. Without it, an in-process cache, which only the embedded
    platform may use: it is one process. A production deployment (SANDBOX_ENABLED off) runs
    gunicorn workers and can be scaled to more containers at any time, and no process can know
    how many siblings it has (a worker count in one container says nothing about the others),
    so there every one-time value would be accepted once per process: it refuses to start."""
    if config.get("REDIS_URL"):
        return RedisReplayCache(config["REDIS_URL"])
    if not config.get("SANDBOX_ENABLED"):
        raise SharedReplayCacheRequired(
            "REDIS_URL is required when SANDBOX_ENABLED is off: the replay caches of DPoP "
            "proofs, client assertions, request objects, software statements and one-time codes "
            "must be shared by every web process, or each process accepts a replayed value once. "
            "Set REDIS_URL=redis://HOST:6379/0 (docker-compose.yml sets redis://redis:6379/0).")
    return InProcessReplayCache()
