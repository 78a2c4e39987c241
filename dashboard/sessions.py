"""Server-side login sessions that expire after an idle time.

The browser holds only a random session id (an HttpOnly cookie); who is logged in,
with which role, and when they were last active stays in this table, so logging out
or disabling an account ends the session at once.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class Session:
    """One logged-in browser."""

    user: str
    role: str
    last_seen_s: float


class SessionTable:
    """Live sessions by id, thread-safe (waitress serves from several threads).

    Parameters
    ----------
    idle_timeout_s : float
        A session unused this long is gone; the next request goes to the login page.
    clock : callable
        Monotonic seconds (tests pass a fake one to age sessions).
    """

    def __init__(self, idle_timeout_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if idle_timeout_s <= 0:
            raise ValueError("idle_timeout_s must be positive")
        self.idle_timeout_s = idle_timeout_s
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, user: str, role: str) -> str:
        """A new session for ``user``; its id (for the cookie)."""
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[sid] = Session(user, role, self._clock())
        return sid

    def touch(self, sid: str | None) -> tuple[Session | None, bool]:
        """``(session, expired)``: the live session ``sid`` (its idle timer restarted), or
        None; ``expired`` is True when it existed but idled out (it is removed)."""
        if not sid:
            return None, False
        now = self._clock()
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                return None, False
            if now - session.last_seen_s > self.idle_timeout_s:
                del self._sessions[sid]
                return None, True
            session.last_seen_s = now
            return session, False

    def close(self, sid: str | None) -> Session | None:
        """End ``sid``; the session it was, if any."""
        with self._lock:
            return self._sessions.pop(sid or "", None)

    def close_user(self, user: str) -> int:
        """End every session of ``user``; how many."""
        with self._lock:
            gone = [sid for sid, s in self._sessions.items() if s.user == user]
            for sid in gone:
                del self._sessions[sid]
        return len(gone)


class LoginThrottle:
    """Refuse logins to a name after ``max_failures`` wrong passwords within ``window_s``,
    for ``window_s`` from the last failure (slows password guessing; in memory)."""

    def __init__(self, max_failures: int = 5, window_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, name: str, now: float) -> list[float]:
        recent = [t for t in self._failures.get(name, []) if now - t <= self.window_s]
        self._failures[name] = recent
        return recent

    def blocked(self, name: str) -> bool:
        """True while ``name`` has too many recent failures."""
        with self._lock:
            return len(self._recent(name, self._clock())) >= self.max_failures

    def failed(self, name: str) -> None:
        """Count one wrong password for ``name``."""
        with self._lock:
            now = self._clock()
            self._recent(name, now).append(now)

    def succeeded(self, name: str) -> None:
        """Forget ``name``'s failures."""
        with self._lock:
            self._failures.pop(name, None)
