"""Faults: the server killed mid-session and restarted, and the database full, as trainees meet them."""
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import free_port

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
PASSWORD = "a long enough pw"


def text_of(message: dict) -> str:
    content = message["content"]
    return "".join(p.get("text", "") for p in content) if isinstance(content, list) else content


def start_server(data_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "RJCOACH_DATA_DIR": str(data_dir), "RJCOACH_PORT": str(port), "RJCOACH_HOST": "127.0.0.1",
           "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("RJCOACH_DATABASE_URL", None)
    env.pop("RJCOACH_LLM_URL", None)
    proc = subprocess.Popen([sys.executable, str(REPO / "app.py")], env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited with {proc.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("app.py did not answer within 180 s")


def test_sigkill_mid_session_loses_no_acknowledged_turn_and_sessions_resume(tmp_path):
    from gradio_client import Client

    from rjcoach.auth import add_user
    from rjcoach.store import Store

    store = Store(f"sqlite:///{tmp_path / 'rjcoach.sqlite3'}")
    for name in ("kim", "lou"):
        add_user(store, name, PASSWORD, "trainee")
    port = free_port()
    proc = start_server(tmp_path, port)
    sent: dict[str, list[str]] = {"kim": [], "lou": []}
    try:
        clients = {}
        for name, persona in (("kim", "rana_haddad"), ("lou", "jayden_price")):
            c = Client(f"http://127.0.0.1:{port}/", verbose=False)
            c.predict(name, PASSWORD, api_name="/sign_in")
            c.predict("graffiti_bakery", persona, "coached", api_name="/start")
            clients[name] = c
        lines = ["Hi, thanks for meeting me.", "Can you tell me what happened?", "That sounds really hard."]
        for line in lines:
            for name, c in clients.items():
                chat, *_ = c.predict(f"{line} ({name})", api_name="/send")
                assert text_of(chat[-2]) == f"{line} ({name})"  # acknowledged: the reply is on screen
                sent[name].append(f"{line} ({name})")
        # kill in the middle of a turn as well: this one may or may not have been acknowledged
        job = clients["kim"].submit("What has been the hardest part? (kim)", api_name="/send")
        time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    proc = start_server(tmp_path, port)
    try:
        for name in ("kim", "lou"):
            stored = [t.trainee_text for r in store.sessions_of(store.user(name).id) for t in store.turns(r.id)]
            assert stored[: len(sent[name])] == sent[name]  # every acknowledged turn is there, in order
            assert len(stored) - len(sent[name]) in ((0, 1) if name == "kim" else (0,))
            c = Client(f"http://127.0.0.1:{port}/", verbose=False)
            c.predict(name, PASSWORD, api_name="/sign_in")
            mine = [sid for _label, sid in c.predict(api_name="/my_sessions")["choices"]]
            assert len(mine) == 1, f"{name} sees their unfinished session to resume"
            resumed = c.predict(mine[0], api_name="/resume")
            chat = resumed[0]
            users = [text_of(m) for m in chat if m["role"] == "user"]
            assert users[: len(sent[name])] == sent[name]
            chat, *_ = c.predict(f"Shall we carry on? ({name})", api_name="/send")
            assert text_of(chat[-2]) == f"Shall we carry on? ({name})"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_full_database_gives_a_clear_message_and_the_app_recovers(tmp_path):
    """SQLite's own 'database or disk is full' (max_page_count), met by a trainee in the app."""
    from gradio_client import Client
    from sqlalchemy import event

    from rjcoach.auth import add_user
    from rjcoach.store import Store
    from rjcoach.webapp import CSS, build_app

    store = Store(f"sqlite:///{tmp_path / 'app.sqlite3'}")
    add_user(store, "moe", PASSWORD, "trainee")
    demo = build_app(store=store, host="127.0.0.1")
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, css=CSS)
    try:
        c = Client(f"http://127.0.0.1:{port}/", verbose=False)
        c.predict("moe", PASSWORD, api_name="/sign_in")
        c.predict("graffiti_bakery", "rana_haddad", "coached", api_name="/start")
        c.predict("Hello, I'm here to listen.", api_name="/send")

        def full(conn, _record):
            cur = conn.cursor()
            pages = cur.execute("PRAGMA page_count").fetchone()[0]
            cur.execute(f"PRAGMA max_page_count = {pages}")
            cur.close()

        event.listen(store.engine, "connect", full)
        store.engine.dispose()  # new connections meet a database that cannot grow
        long_line = "What happened that morning? " + "Tell me everything you remember. " * 25
        with pytest.raises(Exception, match="not saved"):
            for _ in range(30):  # a page or two fill up within a few turns
                c.predict(long_line, api_name="/send")
        kept = [t.trainee_text for r in store.sessions_of(store.user("moe").id) for t in store.turns(r.id)]
        assert kept[0] == "Hello, I'm here to listen."

        event.remove(store.engine, "connect", full)
        store.engine.dispose()  # the cause is gone
        chat, *_ = c.predict("Sorry, where were we?", api_name="/send")
        assert text_of(chat[-2]) == "Sorry, where were we?"
        after = [t.trainee_text for r in store.sessions_of(store.user("moe").id) for t in store.turns(r.id)]
        assert after[: len(kept)] == kept and after[-1] == "Sorry, where were we?"
    finally:
        demo.close()
