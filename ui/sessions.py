"""Logins that end: Gradio keeps its login tokens in a plain dict that never forgets one.

:class:`ExpiringTokens` takes that dict's place on the server app. Every request Gradio checks
reads a token through it (the page, the queue, the HTTP API), so a token past its lifetime or
idle too long reads as no login at all, and the page asks for the password again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, MutableMapping


class ExpiringTokens(MutableMapping[str, str]):
    """token → user name, forgotten ``lifetime_s`` after the login or ``idle_s`` after the
    last request that used it, whichever comes first."""

    def __init__(
        self,
        lifetime_s: float,
        idle_s: float,
        clock: Callable[[], float] = time.monotonic,
        on_expired: Callable[[str], None] | None = None,
    ) -> None:
        self._lifetime = lifetime_s
        self._idle = idle_s
        self._clock = clock
        self._on_expired = on_expired
        self._lock = threading.Lock()
        # token → (user, logged in at, last seen)
        self._tokens: dict[str, tuple[str, float, float]] = {}

    def __setitem__(self, token: str, user: str) -> None:
        now = self._clock()
        with self._lock:
            self._tokens[token] = (user, now, now)

    def __getitem__(self, token: str) -> str:
        now = self._clock()
        with self._lock:
            user, began, seen = self._tokens[token]
            if now - began > self._lifetime or now - seen > self._idle:
                del self._tokens[token]
                expired = True
            else:
                self._tokens[token] = (user, began, now)
                expired = False
        if expired:
            if self._on_expired is not None:
                self._on_expired(user)
            raise KeyError(token)
        return user

    def __delitem__(self, token: str) -> None:
        with self._lock:
            del self._tokens[token]

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._tokens))

    def __len__(self) -> int:
        with self._lock:
            return len(self._tokens)
