import os
import stat

import pytest
from sqlalchemy import inspect, text

from rjcoach.store import Store, StoreError


@pytest.fixture
def store(db_url):
    return Store(db_url)


def test_migrations_create_the_schema_on_an_empty_database(db_url):
    s = Store(db_url)
    tables = set(inspect(s.engine).get_table_names())
    assert {"users", "practice_sessions", "turns", "alembic_version"} <= tables
    with s.engine.connect() as c:
        assert c.execute(text("select version_num from alembic_version")).scalar() == "0003"


def test_upgrade_from_the_first_schema_keeps_sessions_and_marks_them_app_sessions(db_url):
    old = Store(db_url, migrate=False)
    old.migrate("0001")
    with old.engine.begin() as c:
        c.execute(text("insert into users (username, password_hash, role, created_at) values ('ana', 'h', 'trainee', '2026-01-01')"))
        c.execute(text("insert into practice_sessions (id, user_id, scenario_id, persona_id, level, seed, status, created_at) "
                       "values ('s1', 1, 'sc', 'p', 'coached', 0, 'ended', '2026-01-01')"))
    new = Store(db_url)
    row = new.session("s1")
    assert (row.source, row.external_ref, row.persona_id) == ("app", None, "p")
    assert {"cohorts", "cohort_members", "flag_corrections", "comments", "session_reviews"} <= set(inspect(new.engine).get_table_names())


def test_migrations_on_an_existing_database_keep_the_data(db_url):
    url = db_url
    s = Store(url)
    uid = s.create_user("ana", "h", "trainee")
    sid = s.create_session(uid, "graffiti_bakery", "rana_haddad", "coached", 0)
    s.add_turn(sid, "hello", {"labels": []}, {}, "hi", {})
    again = Store(url)  # runs the migrations again on the existing database
    assert [t.trainee_text for t in again.turns(sid)] == ["hello"]


def test_turns_keep_order_and_rewound_ones_stay_in_the_record(store):
    uid = store.create_user("ana", "h", "trainee")
    sid = store.create_session(uid, "s", "p", "coached", 0)
    for i in range(3):
        store.add_turn(sid, f"m{i}", {}, {}, f"r{i}", {})
    undone = store.rewind_last(sid)
    assert undone.trainee_text == "m2"
    store.add_turn(sid, "m2 again", {}, {}, "r", {})
    assert [t.trainee_text for t in store.turns(sid)] == ["m0", "m1", "m2 again"]
    assert [(t.trainee_text, t.rewound) for t in store.turns(sid, include_rewound=True)][-2:] == [("m2", True), ("m2 again", False)]


def test_unwritable_database_gives_a_clear_error_and_keeps_what_was_saved(tmp_path):
    if os.geteuid() == 0:
        # root ignores file permissions: use SQLite's own read-only mode instead
        path = tmp_path / "db.sqlite3"
        s = Store(f"sqlite:///{path}")
        uid = s.create_user("ana", "h", "trainee")
        sid = s.create_session(uid, "s", "p", "coached", 0)
        s.add_turn(sid, "kept", {}, {}, "r", {})
        ro = Store(f"sqlite:///file:{path}?mode=ro&uri=true", migrate=False)
    else:  # pragma: no cover - depends on the user running the tests
        path = tmp_path / "db.sqlite3"
        s = Store(f"sqlite:///{path}")
        uid = s.create_user("ana", "h", "trainee")
        sid = s.create_session(uid, "s", "p", "coached", 0)
        s.add_turn(sid, "kept", {}, {}, "r", {})
        os.chmod(path, stat.S_IRUSR)
        ro = s
    with pytest.raises(StoreError, match="could not save"):
        ro.add_turn(sid, "lost", {}, {}, "r", {})
    assert [t.trainee_text for t in Store(f"sqlite:///{path}", migrate=False).turns(sid)] == ["kept"]


def test_unknown_role_is_refused(store):
    with pytest.raises(ValueError, match="trainee"):
        store.create_user("x", "h", "superuser")


def test_connection_pool_holds_every_concurrent_turn(tmp_path):
    """Concurrent turns each keep a pooled connection (one beyond the pool would be opened and set
    up for every use); only a server database is pinged before use."""
    from rjcoach.store import POOL_SIZE, _pool_settings

    file_store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert file_store.engine.pool.size() == POOL_SIZE and not file_store.engine.pool._pre_ping
    assert _pool_settings("postgresql+psycopg://u@127.0.0.1/db")["pool_pre_ping"] is True
    memory = Store("sqlite://")  # one connection per thread: nothing to size
    memory.create_user("solo", "hash", "trainee")
    assert memory.user("solo") is not None
