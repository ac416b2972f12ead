import pytest

from rjcoach.auth import MIN_PASSWORD, AuthError, RateLimiter, add_user, sign_in
from rjcoach.store import Store


@pytest.fixture
def store(tmp_path):
    return Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")


def test_passwords_are_argon2_hashed_never_stored(store):
    add_user(store, "trainee.one", "correct horse battery", "trainee")
    h = store.user("trainee.one").password_hash
    assert h.startswith("$argon2") and "correct horse" not in h


@pytest.mark.parametrize("name,pw,role,msg", [
    ("ab", "long enough password", "trainee", "username"),
    ("bad name!", "long enough password", "trainee", "username"),
    ("sam", "short", "trainee", str(MIN_PASSWORD)),
    ("samsamsams", "samsamsams", "trainee", "must not be the username"),
    ("sam", "long enough password", "root", "role"),
])
def test_account_rules(store, name, pw, role, msg):
    with pytest.raises(AuthError, match=msg):
        add_user(store, name, pw, role)


def test_duplicate_user(store):
    add_user(store, "sam", "long enough password", "trainee")
    with pytest.raises(AuthError, match="already exists"):
        add_user(store, "sam", "another long password", "instructor")


def test_sign_in_and_rate_limit(store):
    add_user(store, "sam", "long enough password", "trainee")
    rl = RateLimiter(limit=3, window=60, lockout=30)
    assert sign_in(store, rl, "sam", "long enough password", "1.2.3.4").role == "trainee"
    for _ in range(3):
        with pytest.raises(AuthError, match="wrong"):
            sign_in(store, rl, "sam", "nope", "1.2.3.4")
    with pytest.raises(AuthError, match="too many"):
        sign_in(store, rl, "sam", "long enough password", "1.2.3.4")  # even the right password waits
    with pytest.raises(AuthError, match="wrong"):
        sign_in(store, rl, "nobody", "x", "5.6.7.8")  # unknown users fail the same way


def test_rate_limiter_window_and_lockout():
    rl = RateLimiter(limit=2, window=10, lockout=5)
    rl.failed("k", now=0)
    rl.failed("k", now=1)
    assert rl.wait_seconds("k", now=2) == pytest.approx(4)
    assert rl.wait_seconds("k", now=7) == 0
    assert rl.wait_seconds("k", now=20) == 0 and rl.count("k", now=20) == 0
