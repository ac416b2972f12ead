"""Accounts: argon2 password hashes, sign-in with a rate limit on failures, roles.

No default credentials exist: the first admin is created once, by the first-run page on a
loopback-only server or by `rjcoach user add --role admin`.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

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
