"""The customer-not-present limit (PSD2 RTS article 36(5)(b)): when the customer is not
present, an AISP may access the account information at most four times a day.

OBIE leaves the rule to the bank ("it will be up to the ASPSPs to interpret the 4-times
customer not present rule", Read/Write Data API Profile §Request Headers); the customer is
present when the TPP sends x-fapi-customer-ip-address. Here: at most AIS_UNATTENDED_DAILY_LIMIT
requests per consent, resource and UTC day without that header; the next one is refused with
429 and Retry-After (seconds to the next UTC midnight). A resource is the path as requested
(so the transactions of two accounts are two resources; every page of one list is one request
of it). Requests with the customer present are not counted. The count is kept in Redis when
REDIS_URL is set (shared by every web process), in this process otherwise.
"""
from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass
from datetime import datetime, time as day_time, timedelta, timezone
from typing import Protocol


class AccessCounter(Protocol):
    def hit(self, key: str, *, now: datetime, until: datetime) -> int:
        """Count one request under `key`, in a window that ends at `until`; the count so
        far, this request included."""


class InProcessAccessCounter:
    def __init__(self, max_keys: int = 100_000):
        self._counts: dict[str, tuple[int, datetime]] = {}
        self._lock = threading.Lock()
        self._max_keys = max_keys

    def hit(self, key: str, *, now: datetime, until: datetime) -> int:
        with self._lock:
            if len(self._counts) >= self._max_keys:
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            count, ends = self._counts.get(key, (0, until))
            if ends <= now:
                count, ends = 0, until
            self._counts[key] = (count + 1, ends)
            return count + 1


class RedisAccessCounter:
    """INCR and EXPIRE in one round trip. The key names the day, so a clock the sandbox has
    moved still starts a new count; the expiry only frees the memory, and is relative so that
    a sandbox clock far from the wall clock cannot expire a key at once."""

    def __init__(self, url: str, prefix: str = "ais:unattended"):
        import redis

        self._redis = redis.Redis.from_url(url)
        self._prefix = prefix

    def hit(self, key: str, *, now: datetime, until: datetime) -> int:
        name = f"{self._prefix}:{key}"
        ttl = max(1, math.ceil((until - now).total_seconds())) + 60
        pipe = self._redis.pipeline(transaction=True)
        pipe.incr(name)
        pipe.expire(name, ttl)
        count, _ = pipe.execute()
        return int(count)


def counter_from_config(config) -> AccessCounter:
    return RedisAccessCounter(config["REDIS_URL"]) if config.get("REDIS_URL") \
        else InProcessAccessCounter()


def next_midnight(now: datetime) -> datetime:
    day = now.astimezone(timezone.utc).date() + timedelta(days=1)
    return datetime.combine(day, day_time.min, tzinfo=timezone.utc)


@dataclass(frozen=True)
class UnattendedLimit:
    per_day: int
    counter: AccessCounter

    def retry_after(self, consent_id: str, resource: str, now: datetime) -> int | None:
        """Count an unattended request; None while within the limit, else the seconds until
        the count starts again (the next UTC midnight)."""
        until = next_midnight(now)
        digest = hashlib.sha256(resource.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        key = f"{consent_id}:{now.astimezone(timezone.utc).date().isoformat()}:{digest}"
        if self.counter.hit(key, now=now, until=until) <= self.per_day:
            return None
        return max(1, math.ceil((until - now).total_seconds()))


