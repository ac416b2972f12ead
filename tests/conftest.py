import os
import socket

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def _fresh_postgres(url: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """An empty database: a SQLite file, and a real PostgreSQL server when one is available."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite3'}"
    url = os.environ.get("RJCOACH_TEST_PG_URL")
    if not url:
        pytest.skip("no PostgreSQL server: scripts/test.sh starts one when run as root (RJCOACH_TEST_PG_URL)")
    return _fresh_postgres(url)


def free_port() -> int:
    """A free TCP port on 127.0.0.1, for servers the tests start."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stored_analysis(text: str, labels: list[str], context: str | None = None) -> dict:
    """A stored analysis shaped like Analysis.to_dict(), with the given labels (for review tests)."""
    from rjcoach.labels import LABELS

    return {"text": text, "context": context, "labels": [l for l in LABELS if l in labels],
            "scores": {l: (0.9 if l in labels else 0.05) for l in LABELS},
            "evidence": [{"label": l, "start": 0, "end": len(text), "text": text, "source": "model"} for l in labels],
            "families": {}}


def add_session(store, user_id: int, turns: list[tuple[str, list[str]]], scenario: str = "graffiti_bakery",
                persona: str = "rana_haddad", level: str = "coached", when=None) -> str:
    """A practice session with one stored turn per (text, labels); created at ``when`` if given."""
    from rjcoach.store import PracticeSessionRow

    sid = store.create_session(user_id, scenario, persona, level, 0)
    for text, labels in turns:
        store.add_turn(sid, text, stored_analysis(text, labels), {"level": level, "tip": None},
                       "(reply)", {"emotion": "neutral", "state": {"trust": 0.5}})
    if when is not None:
        with store._sessions.begin() as db:
            db.get(PracticeSessionRow, sid).created_at = when
    return sid


class World:
    """Accounts and cohorts for access tests: an admin, two instructors with a cohort each, trainees."""

    def __init__(self, store) -> None:
        from rjcoach.auth import Principal

        def user(name, role):
            return Principal(store.create_user(name, "x", role), name, role)

        self.store = store
        self.admin = user("admin1", "admin")
        self.ins_north, self.ins_south = user("ins_north", "instructor"), user("ins_south", "instructor")
        self.ana, self.ben, self.cat = user("ana", "trainee"), user("ben", "trainee"), user("cat", "trainee")
        north, south = store.create_cohort("north"), store.create_cohort("south")
        for p in (self.ins_north, self.ana, self.ben):
            store.add_member(north, p.id)
        for p in (self.ins_south, self.cat):
            store.add_member(south, p.id)


@pytest.fixture
def world(db_url):
    from rjcoach.store import Store

    return World(Store(db_url))
