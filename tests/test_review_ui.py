"""The review endpoints called directly over HTTP as each role (gradio_client), not through the UI."""
import json
from pathlib import Path

import pytest
from conftest import add_session, free_port

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from rjcoach.auth import add_user
    from rjcoach.store import Store
    from rjcoach.webapp import CSS, build_app

    store = Store(f"sqlite:///{tmp_path_factory.mktemp('review') / 'app.sqlite3'}")
    users = {name: add_user(store, name, PASSWORD, role) for name, role in
             (("boss", "admin"), ("north.ins", "instructor"), ("south.ins", "instructor"),
              ("ana", "trainee"), ("ben", "trainee"), ("cat", "trainee"))}
    north, south = store.create_cohort("north"), store.create_cohort("south")
    for name in ("north.ins", "ana", "ben"):
        store.add_member(north, users[name].id)
    for name in ("south.ins", "cat"):
        store.add_member(south, users[name].id)
    sessions = {
        "ana": add_session(store, users["ana"].id, [("Why did you do that?", ["why_question"]),
                                                    ("What happened next?", ["open_question"])]),
        "ben": add_session(store, users["ben"].id, [("You're a thief.", ["labeling"])]),
        "cat": add_session(store, users["cat"].id, [("<script>alert(1)</script> So it hurt.", ["reflection"])]),
    }
    demo = build_app(store=store, host="127.0.0.1")
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, css=CSS)
    yield f"http://127.0.0.1:{port}/", store, sessions
    demo.close()


def as_user(url, name):
    from gradio_client import Client

    c = Client(url, verbose=False)
    if name:
        c.predict(name, PASSWORD, api_name="/sign_in")
    return c


def listed(c, **filters):
    args = [filters.get(k, "") for k in ("trainee", "cohort", "scenario", "persona", "level", "since", "until")]
    table, _pick, count = c.predict(*args, filters.get("sort", "newest"), api_name="/review_list")
    return {row[-1] for row in table["data"]}, count


def test_signed_out_callers_get_nothing(app):
    url, _store, sessions = app
    c = as_user(url, None)
    for api, args in (("/review_list", ["", "", "", "", "", "", "", "newest"]), ("/review_open", [sessions["ana"]]),
                      ("/history_open", [sessions["ana"]]), ("/progress", ["ana", ""])):
        with pytest.raises(Exception, match="sign in"):
            c.predict(*args, api_name=api)


def test_a_trainee_is_refused_every_review_endpoint(app):
    url, store, sessions = app
    c = as_user(url, "ana")
    turn = store.turns(sessions["ben"])[0]
    calls = [("/review_list", ["", "", "", "", "", "", "", "newest"]),
             ("/review_open", [sessions["ana"]]),  # even their own: review is for instructors
             ("/review_correct", [sessions["ben"], turn.id, "labeling", "reject"]),
             ("/review_comment", [sessions["ben"], "", "hi"]),
             ("/review_rate", [sessions["ben"], 5, "great"]),
             ("/history_open", [sessions["ben"]]),
             ("/progress", ["ben", ""]),
             ("/progress", ["", "north"]),
             ("/cohort_create", ["mine"]),
             ("/review_export", ["", "", "", "", "", "", "", "json"]),
             ("/review_report", [sessions["ben"]]),
             ("/cohort_assign", ["north", "cat", "add"])]
    for api, args in calls:
        with pytest.raises(Exception, match="No such|Only instructors|No trainee|No cohort"):
            c.predict(*args, api_name=api)
    assert store.corrections() == [] and store.comments([sessions["ben"]]) == [] and store.cohort("mine") is None
    page = c.predict(sessions["ana"], api_name="/history_open")  # their own history is open to them
    assert "Why did you do that?" in page


def test_an_instructor_sees_and_changes_only_their_cohorts(app):
    url, store, sessions = app
    c = as_user(url, "north.ins")
    ids, count = listed(c)
    assert ids == {sessions["ana"], sessions["ben"]} and "2 session" in count
    assert listed(c, cohort="south")[0] == set()
    with pytest.raises(Exception, match="No such session"):
        c.predict(sessions["cat"], api_name="/review_open")
    cat_turn = store.turns(sessions["cat"])[0]
    with pytest.raises(Exception, match="not in the open session|No such"):
        c.predict(sessions["ana"], cat_turn.id, "reflection", "reject", api_name="/review_correct")
    with pytest.raises(Exception, match="No such"):
        c.predict(sessions["cat"], cat_turn.id, "reflection", "reject", api_name="/review_correct")
    with pytest.raises(Exception, match="No trainee"):
        c.predict("cat", "", api_name="/progress")
    assert store.corrections() == []

    page, *_ = c.predict(sessions["ben"], api_name="/review_open")
    assert "You&#x27;re a thief." in page
    assert "Debrief" in page and "Trust and flags, turn by turn" in page  # rebuilt from the reviewed flags
    ben_turn = store.turns(sessions["ben"])[0]
    page = c.predict(sessions["ben"], ben_turn.id, "labeling", "reject", api_name="/review_correct")
    assert "(rejected)" in page
    page, box = c.predict(sessions["ben"], ben_turn.id, "Name the behaviour, not the person.", api_name="/review_comment")
    assert box == "" and "Name the behaviour" in page
    c.predict(sessions["ben"], 2, "Kind but labelled once.", api_name="/review_rate")
    assert store.reviews([sessions["ben"]])[sessions["ben"]].rating == 2
    progress = c.predict("", "north", api_name="/progress")
    assert "Cohort north" in progress and "<svg" in progress

    exported = json.loads(Path(c.predict("", "", "", "", "", "", "", "json", api_name="/review_export")).read_text())
    assert exported["schema_version"] == 1
    assert {x["id"] for x in exported["sessions"]} == {sessions["ana"], sessions["ben"]}  # not cat's
    report = Path(c.predict(sessions["ben"], api_name="/review_report")).read_text()
    assert "Name the behaviour" in report
    with pytest.raises(Exception, match="No such"):
        c.predict(sessions["cat"], api_name="/review_report")


def test_a_flag_rejected_in_the_ui_reaches_the_training_loader(app, tmp_path, monkeypatch):
    from rjcoach.export import export_corrections
    from rjcoach.sources import load_sources

    url, store, sessions = app
    c = as_user(url, "north.ins")
    first = store.turns(sessions["ana"])[0]  # "Why did you do that?" coded why_question
    c.predict(sessions["ana"], first.id, "why_question", "reject", api_name="/review_correct")
    out = tmp_path / "corrections" / "corrections.jsonl"
    assert export_corrections(store, out) >= 1
    monkeypatch.setenv("RJCOACH_CORRECTIONS_DIR", str(out.parent))
    examples = {e.text: e for e in load_sources(("corrections",))}
    assert examples["Why did you do that?"].targets["why_question"] == 0


def test_the_trainee_sees_the_instructors_words_in_their_history(app):
    url, _store, sessions = app
    c = as_user(url, "ben")
    choices, progress = c.predict(api_name="/history")
    page = c.predict(sessions["ben"], api_name="/history_open")
    assert "Name the behaviour, not the person." in page and "2/5" in page


def test_admin_sees_everything_and_hostile_text_stays_text(app):
    url, _store, sessions = app
    c = as_user(url, "boss")
    assert listed(c)[0] == set(sessions.values())
    page, *_ = c.predict(sessions["cat"], api_name="/review_open")
    assert "<script>" not in page and "&lt;script&gt;" in page
    with pytest.raises(Exception, match="YYYY-MM-DD"):
        listed(c, since="last week")


def test_an_assessment_through_the_app(app):
    url, store, _sessions = app
    ins = as_user(url, "north.ins")
    overview, _pick = ins.predict("bakery-exam", "graffiti_bakery", "rana_haddad", 99, 50, 1.0, 0, 3, False,
                                  api_name="/assessment_create")
    assert "bakery-exam" in overview
    with pytest.raises(Exception, match="Only instructors"):
        as_user(url, "ana").predict("mine", "graffiti_bakery", "rana_haddad", 1, 50, 1, 0, 3, False,
                                    api_name="/assessment_create")

    ana = as_user(url, "ana")
    chosen = ana.predict(api_name="/assessments_open")
    ana.predict(chosen["value"], api_name="/start_assessment")
    for line in ("Hello, thanks for seeing me.", "Can you tell me what happened?", "That sounds like a shock.",
                 "What has been hardest since?"):
        _chat, _box, feedback, gauges = ana.predict(line, api_name="/send")
        assert "no live feedback" in feedback and gauges == ""
    with pytest.raises(Exception, match="taking one back"):
        ana.predict(api_name="/rewind")
    summary, report = ana.predict(api_name="/end")
    assert "Assessment result: bakery-exam" in summary and "Overall:" in summary
    assert "Assessment result: bakery-exam" in Path(report).read_text()

    overview, pick = ins.predict(api_name="/assessment_attempts")
    assert "ana" in overview and ("PASS" in overview or "FAIL" in overview)
    pick = pick["value"]
    page, file = ins.predict(pick, api_name="/assessment_result")
    assert "bakery-exam" in page and Path(file).read_text().startswith("<!doctype html>")
    south, _ = as_user(url, "south.ins").predict(api_name="/assessment_attempts")
    assert "<td>ana</td>" not in south and "<td>ana</td>" in overview
    with pytest.raises(Exception, match="No such"):
        as_user(url, "ben").predict(pick, api_name="/assessment_result")
