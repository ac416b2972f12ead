"""Accounts: argon2 password hashes, sign-in with a rate limit on failures, roles.

No default credentials exist: the first admin is created once, by the first-run page on a
loopback-only server or by `rjcoach user add --role admin`.
"""
from __future__ import annotations

import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, field, replace

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from rjcoach.store import ROLES, Store

MIN_PASSWORD = 10
USERNAME = re.compile(r"^[A-Za-z0-9._-]{3,64}$")
_hasher = PasswordHasher()


class AuthError(ValueError):
    """Sign-in or account problem; the message is safe to show."""


@dataclass(frozen=True)
class Principal:
    id: int
    username: str
    role: str
    token: str = field(default="", compare=False, repr=False)  # this sign-in, for expiry and sign-out


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_new_account(username: str, password: str, role: str) -> None:
    if not isinstance(username, str) or not USERNAME.match(username):
        raise AuthError("username: 3 to 64 letters, digits, dots, dashes or underscores")
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}")
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise AuthError(f"password: at least {MIN_PASSWORD} characters")
    if password.lower() == username.lower():
        raise AuthError("password must not be the username")


def add_user(store: Store, username: str, password: str, role: str) -> Principal:
    check_new_account(username, password, role)
    if store.user(username) is not None:
        raise AuthError(f"user {username!r} already exists")
    uid = store.create_user(username, hash_password(password), role)
    return Principal(uid, username, role)


class RateLimiter:
    """Failures per key within a window; after ``limit`` failures, wait before trying again."""

    def __init__(self, limit: int = 5, window: float = 300.0, lockout: float = 60.0) -> None:
        self.limit, self.window, self.lockout = limit, window, lockout
        self._fails: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, key: str, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        with self._lock:
            fails = [t for t in self._fails.get(key, []) if now - t < self.window]
            self._fails[key] = fails
            if len(fails) < self.limit:
                return 0.0
            return max(0.0, fails[-1] + self.lockout - now)

    def count(self, key: str, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        with self._lock:
            return sum(1 for t in self._fails.get(key, []) if now - t < self.window)

    def failed(self, key: str, now: float | None = None) -> None:
        with self._lock:
            self._fails.setdefault(key, []).append(time.monotonic() if now is None else now)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._fails.pop(key, None)


CLIENT_FACTOR = 4  # a client (address) may fail this many times more than one account


def sign_in(store: Store, limiter: RateLimiter, username: str, password: str, client: str = "") -> Principal:
    """Check a password; refuse while the account (or, more leniently, the client) is rate-limited."""
    keys = [f"user:{(username or '').lower()}"]
    wait = limiter.wait_seconds(keys[0])
    if client:
        fails = limiter.count(f"client:{client}")
        if fails >= limiter.limit * CLIENT_FACTOR:
            wait = max(wait, limiter.lockout)
    if wait > 0:
        raise AuthError(f"too many failed sign-ins; try again in {int(wait) + 1} s")
    user = store.user(username or "")
    ok = False
    if user is not None:
        try:
            ok = _hasher.verify(user.password_hash, password or "")
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
    else:
        try:  # same cost whether or not the user exists
            _hasher.verify(_DUMMY, password or "")
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            pass
    if not ok:
        limiter.failed(keys[0])
        if client:
            limiter.failed(f"client:{client}")
        raise AuthError("wrong username or password")
    limiter.succeeded(keys[0])
    return Principal(user.id, user.username, user.role)


_DUMMY = _hasher.hash("not a real password, only for timing")


IDLE_MINUTES = float(os.environ.get("RJCOACH_IDLE_MINUTES", "30"))
MAX_HOURS = float(os.environ.get("RJCOACH_SIGNIN_HOURS", "12"))


class Logins:
    """Live sign-ins, held on the server: each expires after ``idle`` seconds without use and
    ``lifetime`` seconds in all, and ends at sign-out. A principal without a live token is refused."""

    def __init__(self, idle: float = IDLE_MINUTES * 60, lifetime: float = MAX_HOURS * 3600, limit: int = 10_000) -> None:
        self.idle, self.lifetime, self.limit = idle, lifetime, limit
        self._live: dict[str, tuple[int, float, float]] = {}  # token -> (user id, started, last seen)
        self._lock = threading.Lock()

    def issue(self, who: Principal, now: float | None = None) -> Principal:
        now = time.monotonic() if now is None else now
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._sweep(now)
            if len(self._live) >= self.limit:  # bounded: the oldest sign-in goes first
                oldest = min(self._live, key=lambda t: self._live[t][2])
                del self._live[oldest]
            self._live[token] = (who.id, now, now)
        return replace(who, token=token)

    def check(self, who: Principal, now: float | None = None) -> Principal:
        """The same principal if its sign-in is live (and marks it used); AuthError otherwise."""
        now = time.monotonic() if now is None else now
        with self._lock:
            entry = self._live.get(who.token) if who.token else None
            if entry is None or entry[0] != who.id:
                raise AuthError("You are signed out. Please sign in again.")
            uid, started, seen = entry
            if now - seen > self.idle or now - started > self.lifetime:
                del self._live[who.token]
                raise AuthError("Your sign-in expired. Please sign in again.")
            self._live[who.token] = (uid, started, now)
        return who

    def end(self, who: Principal | None) -> None:
        if isinstance(who, Principal) and who.token:
            with self._lock:
                self._live.pop(who.token, None)

    def _sweep(self, now: float) -> None:
        dead = [t for t, (_u, started, seen) in self._live.items()
                if now - seen > self.idle or now - started > self.lifetime]
        for t in dead:
            del self._live[t]
