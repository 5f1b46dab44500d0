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
        return bool(self._redis.set(f"replay:{namespace}:{value}", 1, nx=True,
                                    ex=max(1, ttl_seconds)))


def replay_cache_from_config(config) -> ReplayCache:
    return RedisReplayCache(config["REDIS_URL"]) if config.get("REDIS_URL") \
        else InProcessReplayCache()
