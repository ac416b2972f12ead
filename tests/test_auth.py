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


def test_sign_ins_expire_when_idle_or_old_and_end_at_sign_out():
    from rjcoach.auth import Logins, Principal

    logins = Logins(idle=60, lifetime=600, limit=3)
    ana = logins.issue(Principal(1, "ana", "trainee"), now=0)
    assert ana.token and logins.check(ana, now=50) == ana
    assert logins.check(ana, now=100) == ana  # used at 50: still live at 100
    with pytest.raises(AuthError, match="expired"):
        logins.check(ana, now=161)  # idle for more than a minute
    ben = logins.issue(Principal(2, "ben", "trainee"), now=0)
    for t in range(50, 600, 50):
        logins.check(ben, now=t)
    with pytest.raises(AuthError, match="expired"):
        logins.check(ben, now=601)  # busy, but signed in too long
    cat = logins.issue(Principal(3, "cat", "admin"), now=0)
    logins.end(cat)
    with pytest.raises(AuthError, match="signed out"):
        logins.check(cat, now=1)
    with pytest.raises(AuthError, match="signed out"):  # a principal never issued, or with another's token
        logins.check(Principal(3, "cat", "admin"), now=1)
    dan = logins.issue(Principal(4, "dan", "trainee"), now=0)
    with pytest.raises(AuthError, match="signed out"):
        logins.check(Principal(5, "eve", "admin", token=dan.token), now=1)


def test_live_sign_ins_are_bounded():
    from rjcoach.auth import Logins, Principal

    logins = Logins(idle=60, lifetime=600, limit=2)
    first = logins.issue(Principal(1, "a", "trainee"), now=0)
    logins.issue(Principal(2, "b", "trainee"), now=1)
    logins.issue(Principal(3, "c", "trainee"), now=2)
    with pytest.raises(AuthError):
        logins.check(first, now=3)  # the least recently used went first
