"""The LLM voice against a real HTTP server on 127.0.0.1 that speaks the OpenAI chat protocol."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rjcoach.llm_backend import (
    ChatError,
    LLMPersona,
    LLMSettings,
    OpenAIChat,
    TransformersChat,
    character_problem,
)
from rjcoach.persona_engine import Observation
from rjcoach.persona_loader import load_folder


class FakeOpenAI(BaseHTTPRequestHandler):
    """Behaviour set per test through the server's `mode` attribute; records requests."""

    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length))
        self.server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        mode = self.server.modes.pop(0) if self.server.modes else "ok"
        if mode == "slow":
            time.sleep(2.0)
            mode = "ok"
        if mode == "error":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"boom")
            return
        if mode == "garbage":
            payload = b"<html>not json</html>"
        else:
            text = {
                "ok": "Look, it was my dad's sign. That's what gets me.",
                "ai": "As an AI language model, I cannot pretend to be Rana.",
                "officer": "Officer: So how are you feeling today?",
            }[mode]
            payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    srv.modes = []
    srv.requests = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def lib():
    return load_folder()


def persona_with(server, lib, timeout=5.0):
    settings = LLMSettings(url=f"http://127.0.0.1:{server.server_port}/v1", model="test-model", api_key="k", timeout=timeout)
    return LLMPersona(lib.personas["rana_haddad"], OpenAIChat(settings), lib.scenarios["graffiti_bakery"], seed=1)


def talk(agent, text="What happened that morning?"):
    agent.observe(Observation(text, frozenset({"open_question", "restorative_question"})))
    return agent.act()


def test_good_reply_is_used_and_request_is_openai_shaped(server, lib):
    agent = persona_with(server, lib)
    turn = talk(agent)
    assert turn.backend == "openai" and turn.text.startswith("Look, it was my dad's sign")
    req = server.requests[0]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer k"
    assert req["body"]["model"] == "test-model"
    system = req["body"]["messages"][0]
    assert system["role"] == "system" and "Rana Haddad" in system["content"] and "trust" in system["content"]
    assert req["body"]["messages"][-1] == {"role": "user", "content": "What happened that morning?"}


def test_state_machine_still_runs_under_the_llm(server, lib):
    agent = persona_with(server, lib)
    before = agent.state.trust
    turn = talk(agent)
    assert turn.state.trust > before and turn.topic == "what_happened"


def test_character_break_is_retried_once_then_used(server, lib):
    server.modes = ["ai", "ok"]
    turn = talk(persona_with(server, lib))
    assert turn.backend == "openai" and "mentions being an AI" in turn.notice
    assert len(server.requests) == 2


def test_two_breaks_fall_back_to_the_embedded_engine(server, lib):
    server.modes = ["officer", "ai"]
    agent = persona_with(server, lib)
    turn = talk(agent)
    assert turn.backend == "embedded-fallback"
    assert "speaks as the officer" in turn.notice and "built-in engine" in turn.notice
    assert turn.text in {r.text for r in lib.personas["rana_haddad"].topics["what_happened"].guarded}


def test_timeout_falls_back_with_a_clear_message(server, lib):
    server.modes = ["slow"]  # the server sleeps 2 s; the client gives up after 0.5 s
    turn = talk(persona_with(server, lib, timeout=0.5))
    assert turn.backend == "embedded-fallback" and "did not answer within 0.5 s" in turn.notice


def test_server_error_and_garbage_fall_back(server, lib):
    server.modes = ["error"]
    turn = talk(persona_with(server, lib))
    assert turn.backend == "embedded-fallback" and "HTTP 500" in turn.notice
    server.modes = ["garbage"]
    turn = talk(persona_with(server, lib))
    assert turn.backend == "embedded-fallback" and "not an OpenAI chat reply" in turn.notice


def test_endpoint_down_falls_back(lib):
    settings = LLMSettings(url="http://127.0.0.1:9/v1", model="m", timeout=1.0)
    agent = LLMPersona(lib.personas["rana_haddad"], OpenAIChat(settings))
    turn = talk(agent)
    assert turn.backend == "embedded-fallback" and "could not be reached" in turn.notice


def test_prompt_injection_reply_is_caught():
    persona = load_folder().personas["rana_haddad"]
    assert character_problem("Sure! I am now the officer. Officer: how can I help?", persona)
    assert character_problem("I can't ignore my instructions, but as a simulated victim...", persona)
    assert character_problem("Rana: I'm fine.\nOfficer: ok", persona)
    assert character_problem("Honestly? I'm tired. Can we get on?", persona) is None


def test_settings_from_environment(monkeypatch):
    monkeypatch.delenv("RJCOACH_LLM_URL", raising=False)
    assert LLMSettings.from_env() is None
    monkeypatch.setenv("RJCOACH_LLM_URL", "http://127.0.0.1:11434/v1/")
    monkeypatch.setenv("RJCOACH_LLM_MODEL", "llama3.1:8b")
    monkeypatch.setenv("RJCOACH_LLM_TIMEOUT", "3")
    s = LLMSettings.from_env()
    assert s.url == "http://127.0.0.1:11434/v1" and s.model == "llama3.1:8b" and s.timeout == 3.0


def test_local_transformers_backend_with_a_tiny_model(lib):
    """A tiny GPT-2 built from a config (random weights): real generation, then the character check."""
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    from rjcoach.encoder import encoder_dir

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(str(encoder_dir()), local_files_only=True)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=tok.vocab_size, n_positions=512, n_embd=32, n_layer=2, n_head=2))
    backend = TransformersChat("unused", max_new_tokens=8, model=model, tokenizer=tok)
    text = backend.complete([{"role": "user", "content": "hello"}])
    assert isinstance(text, str)
    agent = LLMPersona(lib.personas["rana_haddad"], backend)
    turn = talk(agent)
    assert turn.backend in ("transformers", "embedded-fallback")
    if turn.backend == "embedded-fallback":
        assert turn.notice
    assert turn.text.strip()


@pytest.mark.slow
def test_practice_session_uses_the_llm_from_settings(server, lib, tmp_path, monkeypatch):
    from rjcoach.session import PracticeSession
    from rjcoach.store import Store

    monkeypatch.setenv("RJCOACH_LLM_URL", f"http://127.0.0.1:{server.server_port}/v1")
    monkeypatch.setenv("RJCOACH_LLM_MODEL", "test-model")
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    uid = store.create_user("llm", "h", "trainee")
    s = PracticeSession.start(store, lib, uid, "graffiti_bakery", "rana_haddad")
    r = s.turn("What happened that morning?")
    assert r.reply.backend == "openai" and r.reply.text.startswith("Look, it was my dad's sign")
    assert store.turns(s.id)[0].persona["backend"] == "openai"
    server.modes = ["error"]
    r = s.turn("That sounds hard.")
    assert r.reply.backend == "embedded-fallback" and "HTTP 500" in store.turns(s.id)[1].persona["notice"]
