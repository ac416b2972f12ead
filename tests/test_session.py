"""The orchestrator: a whole turn through the real analyser, coach, persona engine and store."""
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from rjcoach.persona_loader import load_folder
from rjcoach.session import MAX_MESSAGE_CHARS, MessageRejected, PracticeSession
from rjcoach.store import Store, StoreError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lib():
    return load_folder()


@pytest.fixture
def store(tmp_path):
    return Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_a_whole_session_on_each_database(db_url, lib):
    store = Store(db_url)
    uid = store.create_user("pat", "hash", "trainee")
    s = PracticeSession.start(store, lib, uid, "graffiti_bakery", "rana_haddad", seed=1)
    s.turn("What happened?")
    s.turn("That sounds frightening.")
    s.rewind()
    s.turn("What has been the hardest part?")
    again = PracticeSession.resume(Store(db_url), lib, s.id)
    assert again.state == s.state
    assert [t.rewound for t in store.turns(s.id, include_rewound=True)] == [False, True, False]


@pytest.fixture
def session(store, lib):
    uid = store.create_user("ana", "hash", "trainee")
    return PracticeSession.start(store, lib, uid, "graffiti_bakery", "rana_haddad", "coached", seed=3)


def test_a_turn_runs_every_step_and_is_committed(session, store):
    r = session.turn("Can you tell me what happened that morning?")
    assert "open_question" in r.analysis.labels
    assert r.reply.text and r.turn.position == 1
    saved = store.turns(session.id)
    assert len(saved) == 1 and saved[0].persona_text == r.reply.text
    assert saved[0].analysis["labels"] == r.analysis.to_dict()["labels"]
    assert saved[0].persona["state"]["trust"] == pytest.approx(r.reply.state.trust, abs=1e-3)
    assert saved[0].feedback["level"] == "coached"


def test_context_for_the_analysis_is_the_persona_reply(session):
    first = session.turn("What happened?")
    second = session.turn("So it was a real shock.")
    assert second.analysis.context == first.reply.text


def test_a_session_reads_its_personas_lines_ahead_for_the_analyser(store, lib):
    """Starting (or resuming) a session hands the persona's lines to the analyser, so the turn that
    answers one does not pay for reading it; the real analyser keeps them."""
    import rjcoach
    from rjcoach.persona_engine import persona_lines

    component = rjcoach.analyzer.get_analyzer().component
    component.forget_contexts()
    uid = store.create_user("lee", "hash", "trainee")
    s = PracticeSession.start(store, lib, uid, "graffiti_bakery", "rana_haddad", seed=2)
    lines = persona_lines(lib.personas["rana_haddad"])
    assert set(lines) <= set(component._contexts)
    r = s.turn("What happened?")
    assert r.reply.text in component._contexts


class _Recording:
    """An analyser stand-in that records what it is asked to read ahead."""

    def __init__(self, fail=False):
        self.kept, self.fail = [], fail

    def analyze(self, text, context=None):
        import rjcoach

        return rjcoach.analyze(text, context)

    def keep_contexts(self, lines):
        if self.fail:
            raise RuntimeError("no room")
        self.kept.append(list(lines))
        return len(lines)


def test_read_ahead_is_skipped_for_llm_voiced_personas_and_failures_only_cost_speed(store, lib, caplog):
    from rjcoach.persona_engine import persona_lines

    uid = store.create_user("kim", "hash", "trainee")
    rec = _Recording()
    PracticeSession.start(store, lib, uid, "graffiti_bakery", "rana_haddad", seed=2, analyzer=rec)
    assert rec.kept == [persona_lines(lib.personas["rana_haddad"])]

    class Voiced:  # an agent that is not the embedded engine: its lines are written as it goes
        def __init__(self, *a):
            pass

    rec = _Recording()
    PracticeSession.start(store, lib, uid, "graffiti_bakery", "rana_haddad", seed=2, analyzer=rec, agent=Voiced)
    assert rec.kept == []
    broken = _Recording(fail=True)
    s = PracticeSession.start(store, lib, uid, "graffiti_bakery", "rana_haddad", seed=2, analyzer=broken)
    assert "reading persona rana_haddad's lines ahead failed" in caplog.text
    assert s.turn("What happened?").reply.text


@pytest.mark.parametrize("bad", ["", "   ", None, "\u200b\ufeff", "\u00a0\n"])
def test_empty_messages_are_ignored_with_a_hint(session, store, bad):
    with pytest.raises(MessageRejected, match="empty"):
        session.turn(bad)
    assert store.turns(session.id) == []


def test_over_long_messages_are_not_sent(session, store):
    with pytest.raises(MessageRejected, match=str(MAX_MESSAGE_CHARS)):
        session.turn("word " * MAX_MESSAGE_CHARS)
    assert store.turns(session.id) == []


def test_rewind_keeps_both_branches_and_restores_the_persona(session, store):
    session.turn("What happened that morning?")
    before = session.state
    session.turn("Stop whining, it's only paint. You brought this on yourself.")
    assert session.state.trust < before.trust
    session.rewind()
    assert session.state == before
    session.turn("That must have been a horrible thing to find.")
    record = store.turns(session.id, include_rewound=True)
    assert [t.rewound for t in record] == [False, True, False]
    assert len(session.history()) == 2


def test_resume_rebuilds_the_same_state(session, store, lib):
    for line in ("Hi Rana.", "What happened?", "That sounds awful.", "What's been the hardest part?"):
        session.turn(line)
    resumed = PracticeSession.resume(store, lib, session.id)
    assert resumed.state == session.state
    a = session.turn("How are you feeling now?").reply.text
    b = PracticeSession.resume(Store(store.url), lib, session.id)
    assert b.history()[-1].persona_text == a


def test_a_failed_write_leaves_the_persona_and_the_record_unchanged(session, store, monkeypatch):
    session.turn("What happened?")
    state = session.state

    def broken(*a, **k):
        raise StoreError("could not save to the database (OperationalError); nothing already saved was changed")

    monkeypatch.setattr(store, "add_turn", broken)
    with pytest.raises(StoreError):
        session.turn("You did this to yourself.")
    assert session.state == state
    monkeypatch.undo()
    assert len(store.turns(session.id)) == 1


def test_turn_survives_the_process_being_killed_straight_after(db_url, lib):
    url = db_url
    script = textwrap.dedent(f"""
        import os, signal, sys
        from rjcoach.persona_loader import load_folder
        from rjcoach.session import PracticeSession
        from rjcoach.store import Store
        store = Store({url!r})
        uid = store.create_user("kim", "h", "trainee")
        s = PracticeSession.start(store, load_folder(), uid, "graffiti_bakery", "rana_haddad")
        r = s.turn("What happened that morning?")
        print(s.id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert out.returncode == -signal.SIGKILL
    sid = out.stdout.strip()
    turns = Store(url).turns(sid)
    assert [t.trainee_text for t in turns] == ["What happened that morning?"]


def test_end_gives_a_debrief_and_an_inert_html_report(session, store):
    session.turn("What happened? <script>alert(1)</script>")
    session.turn("That sounds frightening.")
    session.turn("Why did you leave it unlocked?")
    session.rewind()
    debrief = session.end()
    from rjcoach.coach import PriorTurn, session_metrics
    from rjcoach.debrief import render_html

    live = store.turns(session.id)
    expected = session_metrics([PriorTurn(frozenset(t.analysis["labels"]), t.persona.get("emotion", "neutral")) for t in live])
    assert debrief.metrics == expected and debrief.rewound == 1
    assert [t["position"] for t in debrief.timeline] == [t.position for t in live]
    page = render_html(debrief, store.turns(session.id, include_rewound=True))
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<svg" in page and "Debrief" in page
    with pytest.raises(MessageRejected, match="ended"):
        session.turn("Hello?")


def test_unknown_scenario_or_persona(store, lib):
    uid = store.create_user("z", "h", "trainee")
    with pytest.raises(KeyError, match="nowhere"):
        PracticeSession.start(store, lib, uid, "nowhere", "rana_haddad")
    with pytest.raises(KeyError, match="not in scenario"):
        PracticeSession.start(store, lib, uid, "graffiti_bakery", "margaret_ellis")


def test_messages_sent_at_once_to_one_session_become_ordered_turns(session, store):
    """A double click or two tabs: concurrent sends to one session never interleave a turn."""
    import threading

    lines = [f"Tell me more about that, part {i}." for i in range(6)]
    threads = [threading.Thread(target=session.turn, args=(line,)) for line in lines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    turns = store.turns(session.id)
    assert sorted(t.trainee_text for t in turns) == sorted(lines)
    assert [t.position for t in turns] == list(range(1, len(lines) + 1))
    contexts = [t.analysis["context"] for t in turns]
    assert contexts[1:] == [t.persona_text for t in turns[:-1]]  # each turn answered the reply before it
