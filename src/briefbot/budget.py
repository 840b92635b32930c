"""Per-user and per-chat message budgets (token buckets), so one chat cannot starve the others."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["answer", "slow_down", "ignore"]


@dataclass(slots=True)
class TokenBucket:
    """`capacity` tokens, refilled at `per_second`; time is passed in (seconds, monotonic)."""

    capacity: float
    per_second: float
    tokens: float
    at: float

    @classmethod
    def full(cls, capacity: float, per_second: float, now: float) -> TokenBucket:
        return cls(capacity, per_second, capacity, now)

    def _refill(self, now: float) -> None:
        if now > self.at:
            self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.per_second)
            self.at = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one; False (nothing spent) if the bucket is empty."""
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def wait(self, now: float) -> float:
        """Seconds until one token is back (0 if there is one now)."""
        self._refill(now)
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.per_second

    def is_full(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.capacity


@dataclass(frozen=True, slots=True)
class Limit:
    """A bucket's shape: `burst` messages at once, then `per_minute` on average."""

    burst: int
    per_minute: float


# A person types a few questions in a row, then reads; a busy group has several people.
USER_LIMIT = Limit(burst=8, per_minute=20)
CHAT_LIMIT = Limit(burst=20, per_minute=40)
# Buckets kept before full (idle) ones are forgotten: memory stays bounded under many senders.
MAX_BUCKETS = 20_000


class Budget:
    """Decides, per incoming message, whether to answer it.

    A message is answered while both its user's and its chat's buckets have a token. The first
    one over budget gets `"slow_down"` (reply once, politely); later ones get `"ignore"` (no
    reply, no token spent) until the bucket that ran dry is full again.
    """

    def __init__(self, user: Limit = USER_LIMIT, chat: Limit = CHAT_LIMIT,
                 *, max_buckets: int = MAX_BUCKETS) -> None:
        self._limits = {"user": user, "chat": chat}
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._warned: set[tuple[str, str]] = set()
        self._max_buckets = max_buckets

    def admit(self, chat: str, user: str, now: float) -> Verdict:
        """The verdict for one message from `user` in `chat` at `now` (seconds, monotonic).

        `chat` and `user` are opaque keys; include the platform in them.
        """
        keys = (("chat", chat), ("user", user))
        buckets = [self._bucket(key, now) for key in keys]
        for key, bucket in zip(keys, buckets, strict=True):
            if key in self._warned:
                if not bucket.is_full(now):
                    return "ignore"  # warned once: silent until the bucket is full again
                self._warned.discard(key)
        if all(b.wait(now) == 0.0 for b in buckets):
            for key, bucket in zip(keys, buckets, strict=True):
                bucket.take(now)
                self._warned.discard(key)
            return "answer"
        self._warned.update(key for key, b in zip(keys, buckets, strict=True) if b.wait(now) > 0)
        return "slow_down"

    def retry_in(self, chat: str, user: str, now: float) -> int:
        """Whole seconds until a warned `user` in `chat` is answered again (its bucket is full)."""
        waits = [(b.capacity - min(b.capacity, b.tokens)) / b.per_second
                 for b in (self._bucket(key, now) for key in (("chat", chat), ("user", user)))
                 if b.wait(now) > 0]
        return max(1, math.ceil(max(waits, default=0.0)))

    def _bucket(self, key: tuple[str, str], now: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_buckets:
                self._forget_idle(now)
            limit = self._limits[key[0]]
            bucket = self._buckets[key] = TokenBucket.full(limit.burst, limit.per_minute / 60,
                                                           now)
        return bucket

    def _forget_idle(self, now: float) -> None:
        # A full bucket holds nothing a fresh one would not: dropping it changes no verdict.
        for key in [k for k, b in self._buckets.items() if b.is_full(now)]:
            del self._buckets[key]
            self._warned.discard(key)
