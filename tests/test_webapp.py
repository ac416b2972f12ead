"""The practice app driven through gradio_client over real HTTP on 127.0.0.1."""
import socket
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from rjcoach.store import Store
    from rjcoach.webapp import build_app

    db = tmp_path_factory.mktemp("app") / "app.sqlite3"
    store = Store(f"sqlite:///{db}")
    demo = build_app(store=store, host="127.0.0.1")
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, css=demo.rj_css)
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
