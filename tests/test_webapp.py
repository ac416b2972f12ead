"""The practice app driven through gradio_client over real HTTP on 127.0.0.1."""
from pathlib import Path

import pytest
from conftest import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from rjcoach.store import Store
    from rjcoach.webapp import CSS, build_app

    db = tmp_path_factory.mktemp("app") / "app.sqlite3"
    store = Store(f"sqlite:///{db}")
    demo = build_app(store=store, host="127.0.0.1")
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, css=CSS)
    yield f"http://127.0.0.1:{port}/", store
    demo.close()


def text_of(message: dict) -> str:
    content = message["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content)
    return content


def client(url):
    from gradio_client import Client

    return Client(url, verbose=False)


def test_first_run_then_a_whole_session(app):
    url, store = app
    c = client(url)
    out = c.predict("admin.one", "a long enough pw", "a long enough pw", api_name="/first_run")
    assert "admin.one" in out[0]
    assert store.user("admin.one").role == "admin"
    # A second first-run is refused: accounts now exist.
    with pytest.raises(Exception, match="already exist"):
        client(url).predict("intruder", "another password", "another password", api_name="/first_run")

    c.predict("graffiti_bakery", api_name="/pick_scenario")
    started = c.predict("graffiti_bakery", "rana_haddad", "coached", api_name="/start")
    assert "Rana Haddad" in text_of(started[0][0])
    lines = ["Hi Rana, thanks for seeing me.", "Can you tell me what happened that morning?",
             "You shouldn't have left the shutters like that.", "That must have been a horrible shock.",
             "What's been the hardest part since?"]
    for line in lines:
        chat, box, feedback, gauges = c.predict(line, api_name="/send")
        assert box == "" and text_of(chat[-2]) == line
    assert "Tip" in feedback or "Coded as" in feedback
    chat, retry = c.predict(api_name="/rewind")
    assert retry == lines[-1] and len(chat) == 1 + 2 * (len(lines) - 1)
    summary, report = c.predict(api_name="/end")
    assert "Debrief" in summary
    page = Path(report).read_text()
    assert "Debrief" in page and "tried again" in page


def test_empty_and_over_long_messages_are_not_sent(app):
    url, store = app
    c = client(url)
    c.predict("admin.one", "a long enough pw", api_name="/sign_in")
    c.predict("graffiti_bakery", "jayden_price", "light", api_name="/start")
    chat, box, _, _ = c.predict("   ", api_name="/send")
    assert len(chat) == 1 and box == "   "
    long = "x" * 1500
    chat, box, _, _ = c.predict(long, api_name="/send")
    assert len(chat) == 1 and box == long


def test_nothing_works_before_sign_in(app):
    url, _ = app
    with pytest.raises(Exception, match="sign in"):
        client(url).predict("graffiti_bakery", "rana_haddad", "coached", api_name="/start")
    with pytest.raises(Exception, match="sign in"):
        client(url).predict("hello", api_name="/send")


def test_sessions_resume_and_stay_private(app):
    url, store = app
    from rjcoach.auth import add_user

    add_user(store, "trainee.a", "password for a", "trainee")
    add_user(store, "trainee.b", "password for b", "trainee")
    a = client(url)
    a.predict("trainee.a", "password for a", api_name="/sign_in")
    a.predict("graffiti_bakery", "rana_haddad", "coached", api_name="/start")
    a.predict("Can you tell me what happened?", api_name="/send")
    sid = store.sessions_of(store.user("trainee.a").id)[0].id
    # Trainee A, in a new browser, resumes the unfinished session with the conversation so far.
    a2 = client(url)
    a2.predict("trainee.a", "password for a", api_name="/sign_in")
    listed = a2.predict(api_name="/my_sessions")
    assert sid in [c[1] for c in listed["choices"]]
    chat = a2.predict(sid, api_name="/resume")[0]
    assert text_of(chat[1]) == "Can you tell me what happened?"
    # Trainee B calls the same endpoint with A's session id: refused on the server.
    b = client(url)
    b.predict("trainee.b", "password for b", api_name="/sign_in")
    assert sid not in [c[1] for c in b.predict(api_name="/my_sessions")["choices"]]
    with pytest.raises(Exception, match="No such session of yours"):
        b.predict(sid, api_name="/resume")
    with pytest.raises(Exception, match="No such session of yours"):  # a malformed id, not a database error
        b.predict([sid], api_name="/resume")


def test_markup_from_a_trainee_is_escaped_in_the_chat(app):
    url, _ = app
    c = client(url)
    c.predict("admin.one", "a long enough pw", api_name="/sign_in")
    c.predict("graffiti_bakery", "rana_haddad", "coached", api_name="/start")
    chat, _, feedback, _ = c.predict("<script>alert(1)</script> **bold** [x](http://e.com)", api_name="/send")
    assert "<script>" not in text_of(chat[-2]) and "&lt;script&gt;" in text_of(chat[-2])
    assert "<script>" not in feedback


def test_wrong_password_is_refused_and_rate_limited(app):
    url, _ = app
    c = client(url)
    for _ in range(5):
        with pytest.raises(Exception, match="wrong username or password"):
            c.predict("ghost.user", "not the password", api_name="/sign_in")
    with pytest.raises(Exception, match="too many"):
        c.predict("ghost.user", "not the password", api_name="/sign_in")


def test_app_starts_with_valid_personas_and_reports_broken_files(tmp_path):
    import shutil

    from rjcoach.persona_loader import PERSONA_DIR, load_folder
    from rjcoach.store import Store
    from rjcoach.webapp import CSS, build_app

    folder = tmp_path / "personas"
    shutil.copytree(PERSONA_DIR, folder, ignore=shutil.ignore_patterns("*.md"))
    (folder / "broken.yml").write_text("schema_version: 1\nkind: persona\nid: [oops\n")
    library = load_folder(folder)
    assert library.errors and "graffiti_bakery" in library.scenarios
    demo = build_app(store=Store(f"sqlite:///{tmp_path / 'db.sqlite3'}"), library=library)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True)
    try:
        c = client(f"http://127.0.0.1:{port}/")
        who = c.predict("admin.two", "a long enough pw", "a long enough pw", api_name="/first_run")[0]
        assert "broken.yml" in who and "skipped" in who
        started = c.predict("graffiti_bakery", "rana_haddad", "coached", api_name="/start")
        assert "Rana Haddad" in text_of(started[0][0])
    finally:
        demo.close()


def test_after_sign_out_the_same_browser_session_can_do_nothing(app):
    from rjcoach.auth import add_user

    url, store = app
    add_user(store, "leaver", "a long enough pw", "trainee")
    c = client(url)
    c.predict("leaver", "a long enough pw", api_name="/sign_in")
    c.predict(api_name="/my_sessions")
    c.predict(api_name="/sign_out")
    with pytest.raises(Exception, match="sign in"):
        c.predict(api_name="/my_sessions")


def test_what_a_trainee_types_is_not_written_to_logs(app, caplog):
    import logging

    from rjcoach.auth import add_user

    url, store = app
    add_user(store, "quiet.one", "a long enough pw", "trainee")
    secret = "My neighbour Dana Whitlock took the keys on Elm Street"
    with caplog.at_level(logging.DEBUG):
        c = client(url)
        c.predict("quiet.one", "a long enough pw", api_name="/sign_in")
        c.predict("graffiti_bakery", "rana_haddad", "coached", api_name="/start")
        c.predict(secret, api_name="/send")
    info_and_above = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert secret not in info_and_above and "a long enough pw" not in info_and_above


def facilitator(url, store):
    """A signed-in client for the group tests (they also run on their own, without the first-run test)."""
    from rjcoach.auth import add_user

    if store.user("facilitator") is None:
        add_user(store, "facilitator", "a long enough pw", "trainee")
    c = client(url)
    c.predict("facilitator", "a long enough pw", api_name="/sign_in")
    return c


def test_facilitating_a_conference_through_the_app(app):
    from rjcoach.persona_schema import GROUP

    url, store = app
    c = facilitator(url, store)
    persona, brief = c.predict("graffiti_bakery_conference", api_name="/pick_scenario")
    assert persona["value"] == GROUP and "You facilitate" in brief
    started = c.predict("graffiti_bakery_conference", GROUP, "coached", api_name="/start")
    assert "facilitating" in text_of(started[0][0])
    chat, _, feedback, _ = c.predict("Welcome, everyone. Ground rules: one person speaks at a time and we listen "
                                     "to each other.", api_name="/send")
    assert len(chat) >= 3  # the opening line, the facilitator, at least one person
    room = c.predict("jayden_price", api_name="/speak_to")
    assert "Opening and ground rules" in room and "Jayden Price" in room
    chat, _, _, _ = c.predict("Can you tell us what happened that night?", api_name="/send")
    assert text_of(chat[-1]).startswith("Jayden Price:") or text_of(chat[-2]).startswith("Jayden Price:")
    room = c.predict(api_name="/next_stage")
    assert "Tip" in room and "rj-now" in room  # moved on without a summary: the coach says so
    with pytest.raises(Exception, match="talking piece"):
        c.predict(api_name="/pass_piece")  # a conference has none
    summary, report = c.predict(api_name="/end")
    assert "Facilitation" in summary and "Speaking shares" in summary
    page = Path(report).read_text()
    assert "Facilitation" in page and "Jayden Price" in page
    row = store.session(next(r.id for r in store.all_sessions() if r.scenario_id == "graffiti_bakery_conference"))
    turns = store.turns(row.id)
    assert [t.persona["stage"] for t in turns] == ["opening", "opening"]
    assert turns[1].persona["to"] == "jayden_price"


def test_passing_the_talking_piece_in_a_circle(app):
    from rjcoach.persona_schema import GROUP

    from rjcoach.persona_loader import load_folder

    url, store = app
    c = facilitator(url, store)
    c.predict("corner_shop_circle", GROUP, "coached", api_name="/start")
    c.predict("piece", api_name="/speak_to")
    order = load_folder().scenarios["corner_shop_circle"].circle_order
    chat, _, _, _ = c.predict("Thank you all for coming. Could each of you say how you are arriving tonight?", api_name="/send")
    first = text_of(chat[-1])
    room = c.predict(api_name="/pass_piece")
    assert "holds the talking piece" in room
    chat, _, _, _ = c.predict("Thank you. And you?", api_name="/send")
    last = store.turns(next(r.id for r in store.all_sessions() if r.scenario_id == "corner_shop_circle"))
    assert last[0].persona["utterances"][0]["persona_id"] == order[0]
    # the piece moved on after the first answer, then was passed once more by hand
    assert last[1].persona["utterances"][0]["persona_id"] == order[2]
    assert first
