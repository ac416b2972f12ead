"""The load tool: a small bounded load over real HTTP on 127.0.0.1, and its database checks."""
import pytest

from rjcoach import loadtest


@pytest.mark.slow
@pytest.mark.parametrize("concurrency", [None, 4], ids=["default-queue", "concurrency-4"])
def test_a_small_load_loses_nothing_and_crosses_no_sessions(concurrency):
    with loadtest.serve_in_process(concurrency) as (url, store):
        report = loadtest.run_load(url, trainees=6, turns=4, store=store, think_s=(0, 0), timeout_s=120,
                                   request_timeout_s=60, seed=1)
        users = [u for u in store.users("trainee") if u.username.startswith("load-")]
        sessions = [s for u in users for s in store.sessions_of(u.id)]
    text = report.format()
    assert report.errors == [], text
    assert report.sent == report.acknowledged == 24, text
    assert report.lost == 0 and report.cross_session == 0 and report.out_of_order == 0, text
    assert report.stored_unacknowledged == 0 and report.finished_trainees == 6, text
    assert len(report.send_ms) == 24 and 0 < report.p50_ms <= report.p95_ms <= report.max_ms, text
    assert report.ok and "turns lost          0" in text
    # one ended session per trainee, spread over more than one scenario
    assert len(users) == 6 and len(sessions) == 6 and all(s.status == "ended" for s in sessions)
    assert len({s.scenario_id for s in sessions}) > 1


def test_messages_are_unique_and_traceable():
    plan = loadtest.make_messages(30, 20, seed=3)
    flat = [m for msgs in plan for m in msgs]
    assert len(flat) == len(set(flat)) == 600
    assert len(loadtest.OFFICER_LINES) >= 40
    assert all(len(m) < 1000 for m in flat)
    assert "012-07" in plan[11][6]
    assert loadtest.make_messages(3, 4, seed=3) == loadtest.make_messages(3, 4, seed=3)


def test_feedback_panel_is_read_back_as_plain_text():
    fb = ("<p class='rj-words'>Why <mark class=\"rj-accusatory\" title=\"x\">did you</mark> do it, O&#x27;Neil?</p>"
          "<p><b>Coded as:</b> closed question, blaming</p>")
    assert loadtest._feedback_view(fb) == ("Why did you do it, O'Neil?", "closed question, blaming")
    assert loadtest._feedback_view("<p>Assessment mode</p>") == (None, None)


def test_only_loopback_servers_are_loaded():
    for url in ("http://10.0.0.5:7860/", "http://example.org/"):
        with pytest.raises(ValueError, match="only servers on this machine"):
            loadtest.run_load(url, trainees=1, turns=1, database_url="sqlite://")


def _fixture(tmp_path):
    """Two trainees' stored sessions as the app would leave them, and what each trainee was shown."""
    from rjcoach.store import Store

    store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    plan = loadtest.make_messages(2, 3, seed=0)
    people, runs = [], []
    for i, msgs in enumerate(plan):
        uid = store.create_user(f"load-x-{i}", "x", "trainee")
        sid = store.create_session(uid, "graffiti_bakery", "rana_haddad", "coached", 0)
        people.append(loadtest.Trainee(i, f"load-x-{i}", "pw", uid, "graffiti_bakery", msgs))
        run = loadtest.TraineeRun(i)
        for k, text in enumerate(msgs, start=1):
            reply = f"reply {i}-{k}"
            store.add_turn(sid, text, {"labels": []}, {"labels_plain": ["open question"]}, reply, {})
            run.acked.append(loadtest.AckTurn(i, k, text, reply, text, "open question"))
        runs.append(run)
    owner_of = {t: i for i, msgs in enumerate(plan) for t in msgs}
    return store, people, runs, owner_of


def _verify(store, people, runs, owner_of):
    rep = loadtest.LoadReport("u", 2, 3, (0, 0), "q")
    loadtest.verify(store, people, runs, owner_of, rep)
    return rep


def test_verify_passes_a_clean_record(tmp_path):
    rep = _verify(*_fixture(tmp_path))
    assert (rep.lost, rep.cross_session, rep.out_of_order, rep.stored_unacknowledged) == (0, 0, 0, 0)


def test_verify_catches_wrong_replies_flags_and_foreign_turns(tmp_path):
    store, people, runs, owner_of = _fixture(tmp_path)
    runs[0].acked[1].reply = "reply 1-2"  # a reply meant for the other trainee
    runs[1].acked[0].coded = "blaming"  # flags of another turn
    sid = store.sessions_of(people[1].user_id)[0].id
    store.add_turn(sid, runs[0].acked[2].text, {"labels": []}, {"labels_plain": []}, "r", {})  # A's words in B's session
    rep = _verify(store, people, runs, owner_of)
    assert rep.cross_session == 3 and rep.stored_unacknowledged == 1, rep.problems


def test_verify_catches_lost_and_reordered_turns(tmp_path):
    store, people, runs, owner_of = _fixture(tmp_path)
    runs[0].acked.append(loadtest.AckTurn(0, 4, "never stored", "r", None, None))
    runs[1].acked[0], runs[1].acked[1] = runs[1].acked[1], runs[1].acked[0]
    rep = _verify(store, people, runs, owner_of)
    assert rep.lost == 1 and rep.out_of_order == 2, rep.problems
    assert not rep.ok


def test_report_prints_every_figure():
    rep = loadtest.LoadReport("http://127.0.0.1:1/", 2, 3, (3, 8), "q", sent=6, acknowledged=6,
                              send_ms=[100, 200, 300], wall_s=3.0)
    text = rep.format()
    for word in ("trainees", "turns sent", "acknowledged", "errors", "p50 200 ms", "p95 300 ms", "max 300 ms",
                 "2.00 turns/s", "turns lost", "cross-session", "wall time", "3-8 s"):
        assert word in text
    assert rep.ok
    rep.errors.append(("/send", "TimeoutError", ""))
    assert not rep.ok and "FAILED" in rep.format()


def test_cli_refuses_concurrency_for_an_external_server(capsys):
    assert loadtest.main(["--url", "http://127.0.0.1:7860/", "--concurrency", "4"]) == 2
    assert "RJCOACH_CONCURRENCY" in capsys.readouterr().err
    assert loadtest.main(["--trainees", "1"]) == 2


@pytest.mark.slow
def test_the_global_deadline_stops_every_trainee_and_is_reported():
    import time

    with loadtest.serve_in_process() as (url, store):
        t = time.monotonic()
        report = loadtest.run_load(url, trainees=4, turns=50, store=store, think_s=(0.5, 0.5), timeout_s=3,
                                   request_timeout_s=5)
        took = time.monotonic() - t
    assert took < 30, took
    assert not report.ok and report.finished_trainees == 0
    assert any(kind == "Deadline" for _, kind, _ in report.errors), report.errors
    assert report.lost == 0 and report.cross_session == 0  # what was acknowledged before the stop is stored
    assert "FAILED" in report.format()


def test_a_reply_is_every_message_after_the_newest_line_as_the_page_shows_it():
    one = [{"role": "assistant", "content": "You are meeting Dee."},
           {"role": "user", "content": "Hello, I&#x27;m Sam."},
           {"role": "assistant", "content": "Hi."}]
    assert loadtest.reply_to(one, "Hello, I'm Sam.") == "Hi."
    # a conference turn: each participant who answers has a message, stored as one text
    group = one[:2] + [{"role": "assistant", "content": "Jayden Price: Kids like me."},
                       {"role": "assistant", "content": "Kerry Price: I&#x27;m not making excuses."}]
    assert loadtest.reply_to(group, "Hello, I'm Sam.") == "Jayden Price: Kids like me.\n\nKerry Price: I'm not making excuses."
    # not acknowledged: another line is the newest, the line has no reply yet, or nothing was said
    assert loadtest.reply_to(one, "Something else") is None
    assert loadtest.reply_to(one[:2], "Hello, I'm Sam.") is None
    assert loadtest.reply_to(one[:1], "Hello, I'm Sam.") is None
    assert loadtest.reply_to(one + [{"role": "user", "content": "Next"}], "Hello, I'm Sam.") is None


@pytest.mark.slow
def test_a_conference_load_acknowledges_turns_that_several_people_answer():
    """Group sessions answer a turn with one message per speaker (a supporter may add a line); the
    tool reads them back as one reply that matches the stored turn. How often a second voice
    speaks depends on the session's random seed (about 1 turn in 30 here), so the shape itself is
    checked in the test above."""
    with loadtest.serve_in_process(4) as (url, store):
        report = loadtest.run_load(url, trainees=3, turns=10, store=store, timeout_s=240, request_timeout_s=90,
                                   seed=2, scenarios=["graffiti_bakery_conference"])
        users = [u for u in store.users("trainee") if u.username.startswith("load-")]
        sessions = [s for u in users for s in store.sessions_of(u.id)]
        turns = [t for s in sessions for t in store.turns(s.id)]
    text = report.format()
    assert report.errors == [] and report.ok, text
    assert report.sent == report.acknowledged == 30, text
    assert {s.scenario_id for s in sessions} == {"graffiti_bakery_conference"} and len(turns) == 30


def test_an_unknown_scenario_is_refused_by_name(capsys):
    rc = loadtest.main(["--serve", "--scenario", "no_such_scenario", "--trainees", "1", "--turns", "1"])
    assert rc == 2 and "no_such_scenario" in capsys.readouterr().err
