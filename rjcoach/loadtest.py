"""`rjcoach load`: many simulated trainees driving the running app over HTTP, as browsers do.

``rjcoach bench`` times a turn inside one process. This tool measures what a trainee waits for:
each simulated trainee has its own ``gradio_client.Client`` (so its own server-side session
state), signs in, picks a scenario and a persona, starts a session, sends messages through
``/send`` (the same API the page's Send button calls) and ends the session. Afterwards the
database is checked: every acknowledged message is stored, in order, in the sender's own session,
and every reply and flag a trainee saw is the one stored for that turn.

Only for a server on this machine (loopback); every loop is bounded by a global deadline and a
per-request timeout. Accounts are created directly in the database with random passwords that
live only in memory; their usernames start with ``load-<run id>-``.
"""
from __future__ import annotations

import html
import os
import random
import re
import secrets
import statistics
import sys
import threading
import time
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from urllib.parse import urlparse

# Officer lines: open and closed questions, reflections, summaries, affirmations, process talk,
# and a few accusatory ones (which is what the coach is there to catch).
OFFICER_LINES = [
    # open questions
    "Can you tell me, in your own words, what happened that night?",
    "What was going through your mind at the time?",
    "How have things been for you since it happened?",
    "Who else do you think has been affected by this?",
    "What would help to put things right for you?",
    "What has been the hardest part of all this?",
    "How did your family react when they found out?",
    "What do you need to get out of today's meeting?",
    "Where would you like to start?",
    "What would you want them to understand about how it felt?",
    "How do you feel about meeting the other person?",
    "What do you think you could do to make amends?",
    # closed questions
    "Were you on your own that evening?",
    "Did you know anyone was still inside?",
    "Have you spoken to anyone about it since?",
    "Is it all right if I take a few notes while we talk?",
    "Do you want a short break before we carry on?",
    "Was anyone else with you when it happened?",
    "Did you get the letter we sent about today?",
    # reflections and summaries
    "So it's the not knowing that keeps you awake at night.",
    "It sounds like you felt nobody was listening to you.",
    "You're worried this is going to follow you around.",
    "That must have been frightening, coming home to find it like that.",
    "So the money matters less to you than feeling safe at home.",
    "You sound worn out by all of this.",
    "It sounds as if you've been carrying this on your own for a while.",
    "You want them to see what it actually cost you.",
    "Let me check I've got this right: you were scared, then angry, and now you want it settled.",
    # empathy, affirmation, restorative process
    "Thank you for being so honest with me.",
    "It took real courage to come here today.",
    "I'm sorry this happened to you.",
    "Take your time, there's no rush at all.",
    "Everyone here will get a chance to say their piece.",
    "We'll agree together on what happens next.",
    "Right, shall we move on to what could happen from here?",
    # accusatory
    "Why would you do something so stupid?",
    "You knew exactly what you were doing.",
    "Don't give me that, you've been in trouble before.",
    "You should have thought about that before you did it.",
    "People like you never seem to learn.",
]

# A short per-trainee, per-turn detail appended to each line, so every message is unique
# (no cache can answer it) and every stored message can be traced back to its sender.
DETAILS = [
    "For my notes, this is entry {ref}.",
    "I'm logging this as item {ref}.",
    "(Note {ref} on my sheet.)",
    "That's point {ref} in my notebook.",
    "I'll put that down as {ref}.",
]

LEVEL = "coached"  # full live feedback: the most work per turn, and flags to check


def _percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[k]


def _text_of(message) -> str:
    """A chat message's text, whatever shape the client returns it in."""
    if isinstance(message, dict):
        content = message.get("content")
    else:
        content = message
    if isinstance(content, list):
        content = "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    if isinstance(content, dict):
        content = content.get("text", "")
    return "" if content is None else str(content)


def _role_of(message) -> str:
    return message.get("role", "") if isinstance(message, dict) else ""


def reply_to(chat, text: str) -> str | None:
    """The reply the page shows to ``text``, or None when ``text`` is not the chat's newest message.

    In a one-to-one session the reply is one message; in a conference, circle or mediation every
    participant who answers has a message ("Name: words"), stored together as the turn's persona
    text with a blank line between them.
    """
    users = [i for i, m in enumerate(chat) if _role_of(m) == "user"]
    if not users or _shown(_text_of(chat[users[-1]])) != text or users[-1] == len(chat) - 1:
        return None
    return "\n\n".join(_shown(_text_of(m)) for m in chat[users[-1] + 1 :])


def _shown(text: str) -> str:
    """What the page showed, back to plain text (the app escapes chat content)."""
    return html.unescape(text)


_TAGS = re.compile(r"<[^>]+>")
_CODED = re.compile(r"<b>Coded as:</b>\s*(.*?)</p>", re.S)
_WORDS = re.compile(r"<p class='rj-words'>(.*?)</p>", re.S)


def _feedback_view(feedback: str) -> tuple[str | None, str | None]:
    """(the message text the feedback is about, the 'Coded as' line) from the feedback HTML."""
    if not isinstance(feedback, str):
        return None, None
    words = _WORDS.search(feedback)
    coded = _CODED.search(feedback)
    return (html.unescape(_TAGS.sub("", words.group(1))) if words else None,
            html.unescape(coded.group(1)).strip() if coded else None)


# plan ------------------------------------------------------------------------------------------
@dataclass
class Trainee:
    index: int
    username: str
    password: str
    user_id: int
    scenario_id: str
    messages: list[str]


def make_messages(trainees: int, turns: int, seed: int = 0) -> list[list[str]]:
    """``turns`` unique officer messages for each trainee (a shuffled line plus a traceable detail)."""
    rng = random.Random(seed)
    plan, seen = [], set()
    for i in range(trainees):
        lines: list[str] = []
        while len(lines) < turns:
            order = list(OFFICER_LINES)
            rng.shuffle(order)
            lines += order
        msgs = []
        for k, line in enumerate(lines[:turns]):
            ref = f"{i + 1:03d}-{k + 1:02d}"
            text = f"{line} {rng.choice(DETAILS).format(ref=ref)}"
            assert text not in seen
            seen.add(text)
            msgs.append(text)
        plan.append(msgs)
    return plan


# results ---------------------------------------------------------------------------------------
@dataclass
class AckTurn:
    trainee: int
    position: int  # 1-based, among this trainee's acknowledged turns
    text: str
    reply: str  # the persona's reply as the trainee saw it
    words: str | None  # the message as the feedback panel quoted it
    coded: str | None  # the feedback panel's "Coded as" line


@dataclass
class TraineeRun:
    index: int
    acked: list[AckTurn] = field(default_factory=list)
    send_ms: list[float] = field(default_factory=list)
    other_ms: dict[str, list[float]] = field(default_factory=dict)
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (endpoint, type, message)
    foreign_lines: int = 0  # user lines in a returned chat that this trainee never sent
    finished: bool = False


@dataclass
class LoadReport:
    url: str
    trainees: int
    turns_per_trainee: int
    think_s: tuple[float, float]
    queue: str
    sent: int = 0
    acknowledged: int = 0
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    send_ms: list[float] = field(default_factory=list)
    other_ms: dict[str, list[float]] = field(default_factory=dict)
    lost: int = 0
    out_of_order: int = 0
    stored_unacknowledged: int = 0
    cross_session: int = 0
    problems: list[str] = field(default_factory=list)
    finished_trainees: int = 0
    wall_s: float = 0.0
    setup_s: float = 0.0
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    cpu_s: float = 0.0  # CPU time of this process during the run (the server's too, with --serve)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.cross_session == 0 and not self.errors and self.out_of_order == 0

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.send_ms) if self.send_ms else float("nan")

    @property
    def p95_ms(self) -> float:
        return _percentile(self.send_ms, 95)

    @property
    def max_ms(self) -> float:
        return max(self.send_ms) if self.send_ms else float("nan")

    @property
    def turns_per_s(self) -> float:
        return self.acknowledged / self.wall_s if self.wall_s else 0.0

    def error_summary(self) -> list[str]:
        counts: dict[tuple[str, str, str], int] = {}
        for endpoint, kind, message in self.errors:
            key = (endpoint, kind, message[:120])
            counts[key] = counts.get(key, 0) + 1
        return [f"{n:4d} x {ep} {kind}: {msg}" for (ep, kind, msg), n in sorted(counts.items(), key=lambda kv: -kv[1])]

    def format(self) -> str:
        think = "none" if not any(self.think_s) else f"{self.think_s[0]:g}-{self.think_s[1]:g} s"
        lines = [
            f"rjcoach load  {self.url}  queue: {self.queue}",
            f"trainees            {self.trainees} ({self.finished_trainees} finished), "
            f"{self.turns_per_trainee} turns each, think time {think}",
            f"turns sent          {self.sent}",
            f"acknowledged        {self.acknowledged}",
            f"errors              {len(self.errors)}",
            f"/send latency       p50 {self.p50_ms:.0f} ms   p95 {self.p95_ms:.0f} ms   max {self.max_ms:.0f} ms",
            f"throughput          {self.turns_per_s:.2f} turns/s",
            f"turns lost          {self.lost}",
            f"cross-session       {self.cross_session}",
            f"wall time           {self.wall_s:.1f} s (plus {self.setup_s:.1f} s creating accounts)",
        ]
        if self.out_of_order or self.stored_unacknowledged:
            lines.append(f"out of order        {self.out_of_order}; stored but not acknowledged "
                         f"{self.stored_unacknowledged} (the client gave up before the reply)")
        others = []
        for ep in ("/sign_in", "/start", "/end"):
            v = self.other_ms.get(ep)
            if v:
                others.append(f"{ep} p50 {statistics.median(v):.0f} max {max(v):.0f}")
        if others:
            lines.append("other calls (ms)    " + "; ".join(others))
        lines.append(f"load average        {self.load_before[0]:.2f} before, {self.load_after[0]:.2f} after "
                     f"({os.cpu_count()} CPUs); this process used {self.cpu_s:.1f} CPU s")
        for line in self.error_summary()[:10]:
            lines.append("  error " + line)
        for p in self.problems[:10]:
            lines.append("  problem " + p)
        lines.append("result              " + ("OK" if self.ok else "FAILED"))
        return "\n".join(lines)

    __str__ = format

    def as_dict(self) -> dict:
        return {
            "url": self.url, "queue": self.queue, "trainees": self.trainees, "turns_per_trainee": self.turns_per_trainee,
            "think_s": list(self.think_s), "finished_trainees": self.finished_trainees, "sent": self.sent,
            "acknowledged": self.acknowledged, "errors": len(self.errors), "error_summary": self.error_summary(),
            "send_p50_ms": self.p50_ms, "send_p95_ms": self.p95_ms, "send_max_ms": self.max_ms,
            "turns_per_s": self.turns_per_s, "lost": self.lost, "out_of_order": self.out_of_order,
            "stored_unacknowledged": self.stored_unacknowledged, "cross_session": self.cross_session,
            "wall_s": self.wall_s, "setup_s": self.setup_s, "cpu_s": self.cpu_s,
            "other_p50_ms": {ep: statistics.median(v) for ep, v in self.other_ms.items() if v},
            "load_before": list(self.load_before), "load_after": list(self.load_after), "ok": self.ok,
            "problems": self.problems[:50],
        }


# the run ---------------------------------------------------------------------------------------
def _cpu() -> float:
    t = os.times()
    return t.user + t.system


class _Deadline(Exception):
    pass


def _scenario_ids(library=None) -> list[str]:
    if library is None:
        from rjcoach.persona_loader import load_folder

        library = load_folder()
    return sorted(sid for sid, sc in library.scenarios.items() if sc.roster)


def _chosen_scenarios(wanted: list[str] | None) -> list[str]:
    """The scenarios trainees take in turn: ``wanted`` if given (each must exist), else all."""
    known = _scenario_ids()
    unknown = [sc for sc in wanted or [] if sc not in known]
    if unknown:
        raise ValueError(f"unknown scenario(s) {unknown}; the library has {known}")
    return list(wanted or known)


def _persona_choices(update) -> list[str]:
    """Persona ids from /pick_scenario's dropdown update."""
    if isinstance(update, (list, tuple)) and update and isinstance(update[0], dict):
        update = update[0]
    choices = update.get("choices", []) if isinstance(update, dict) else []
    out = []
    for c in choices:
        out.append(c[1] if isinstance(c, (list, tuple)) and len(c) > 1 else c)
    return [str(c) for c in out]


def _check_loopback(url: str) -> None:
    from rjcoach.webapp import is_loopback

    host = urlparse(url).hostname or ""
    if not is_loopback(host):
        raise ValueError(f"refusing to load-test {host!r}: only servers on this machine (127.0.0.1, localhost)")


def run_load(url: str, trainees: int = 50, turns: int = 20, database_url: str | None = None,
             think_s: tuple[float, float] = (0.0, 0.0), timeout_s: float = 900.0, seed: int = 0,
             request_timeout_s: float = 120.0, store=None, queue: str = "as the server was started",
             out=None, scenarios: list[str] | None = None) -> LoadReport:
    """Drive the app running at ``url`` with ``trainees`` concurrent simulated trainees.

    ``database_url`` (or ``store``) must be the app's own database: accounts are created there
    before the run and every turn is checked there after it. Trainees take the library's scenarios
    in turn (one-to-one and group sessions alike), or only ``scenarios`` when given.
    """
    from gradio_client import Client

    from rjcoach.auth import add_user
    from rjcoach.store import Store

    _check_loopback(url)
    trainees = max(1, min(int(trainees), 200))
    turns = max(1, min(int(turns), 200))
    lo, hi = (max(0.0, float(think_s[0])), max(0.0, float(think_s[1])))
    lo, hi = min(lo, hi), max(lo, hi)
    timeout_s = max(1.0, float(timeout_s))
    store = store or Store(database_url)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

    report = LoadReport(url=url, trainees=trainees, turns_per_trainee=turns, think_s=(lo, hi), queue=queue)
    report.load_before = os.getloadavg()
    run_id = secrets.token_hex(3)
    scenarios = _chosen_scenarios(scenarios)
    plan = make_messages(trainees, turns, seed)
    owner_of = {text: i for i, msgs in enumerate(plan) for text in msgs}

    t_setup = time.perf_counter()
    people: list[Trainee] = []
    for i in range(trainees):
        name, pw = f"load-{run_id}-{i + 1:03d}", secrets.token_urlsafe(18)
        user = add_user(store, name, pw, "trainee")
        people.append(Trainee(i, name, pw, user.id, scenarios[i % len(scenarios)], plan[i]))
    report.setup_s = time.perf_counter() - t_setup
    if out:
        out(f"created {trainees} trainee accounts (load-{run_id}-*) in {report.setup_s:.1f} s; starting the load")

    plain_http = urlparse(url).scheme == "http"
    start = time.monotonic()
    deadline = start + timeout_s
    runs = [TraineeRun(i) for i in range(trainees)]
    rng_master = random.Random(seed)
    think_rngs = [random.Random(rng_master.random()) for _ in range(trainees)]

    def call(client, api: str, *args):
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Deadline("global deadline reached")
        job = client.submit(*args, api_name=api)
        try:
            return job.result(timeout=min(request_timeout_s, left))
        except TimeoutError:
            job.cancel()
            if left < request_timeout_s:  # the run's deadline cut this request short, not its own timeout
                raise _Deadline("global deadline reached during the request") from None
            raise

    def timed(run: TraineeRun, client, api: str, *args):
        t = time.perf_counter()
        res = call(client, api, *args)
        run.other_ms.setdefault(api, []).append((time.perf_counter() - t) * 1000)
        return res

    def trainee(p: Trainee, run: TraineeRun) -> None:
        client = None
        endpoint = "connect"
        try:
            if time.monotonic() >= deadline:
                raise _Deadline("global deadline reached")
            # ssl_verify only matters for https; on plain http it still makes gradio_client build a
            # certificate store for every request (~45 ms of CPU each), which would compete with
            # the server for this machine's cores and measure the tool instead of the app.
            client = Client(url, verbose=False, download_files=False, analytics_enabled=False,
                            ssl_verify=not plain_http, httpx_kwargs={"timeout": request_timeout_s})
            endpoint = "/sign_in"
            timed(run, client, endpoint, p.username, p.password)
            endpoint = "/pick_scenario"
            update, _brief = timed(run, client, endpoint, p.scenario_id)
            personas = _persona_choices(update)
            if not personas:
                raise RuntimeError(f"scenario {p.scenario_id!r} offered no personas")
            persona = personas[(p.index // len(scenarios)) % len(personas)]
            endpoint = "/start"
            timed(run, client, endpoint, p.scenario_id, persona, LEVEL)
            endpoint = "/send"
            for text in p.messages:
                if hi > 0:
                    pause = think_rngs[p.index].uniform(lo, hi)
                    if time.monotonic() + pause >= deadline:
                        raise _Deadline("global deadline reached")
                    time.sleep(pause)
                report_sent(run)
                t = time.perf_counter()
                chat, box, feedback, _gauges = call(client, "/send", text)
                run.send_ms.append((time.perf_counter() - t) * 1000)
                users = [_shown(_text_of(m)) for m in chat if _role_of(m) == "user"]
                mine = {a.text for a in run.acked} | {text}
                run.foreign_lines += sum(1 for u in users if u not in mine)
                reply = reply_to(chat, text)
                if reply is not None:
                    words, coded = _feedback_view(feedback)
                    run.acked.append(AckTurn(p.index, len(run.acked) + 1, text, reply, words, coded))
                else:
                    tail = " | ".join(f"{_role_of(m) or '?'}: {_shown(_text_of(m))[:50]!r}" for m in chat[-2:])
                    run.errors.append(("/send", "NotAcknowledged",
                                       f"the returned chat does not end with the message and its reply "
                                       f"(box={box!r:.40}; last: {tail or 'none'})"))
                    break
            endpoint = "/end"
            timed(run, client, endpoint)
            run.finished = True
        except _Deadline as exc:
            run.errors.append((endpoint, "Deadline", str(exc)))
        except Exception as exc:  # what the trainee would see: a refused call, a timeout, a dropped connection
            run.errors.append((endpoint, type(exc).__name__, str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""))
        finally:
            if client is not None:
                try:
                    client.close()
                except Exception:
                    pass

    sent_lock = threading.Lock()

    def report_sent(run: TraineeRun) -> None:
        with sent_lock:
            report.sent += 1

    threads = [threading.Thread(target=trainee, args=(p, r), name=f"load-{p.index + 1}", daemon=True)
               for p, r in zip(people, runs)]
    t_wall, cpu0 = time.perf_counter(), _cpu()
    for th in threads:
        th.start()
    give_up = deadline + request_timeout_s + 5  # the last request may have started just before the deadline
    for th in threads:
        th.join(timeout=max(0.0, give_up - time.monotonic()))
    report.wall_s, report.cpu_s = time.perf_counter() - t_wall, _cpu() - cpu0
    for p, r, th in zip(people, runs, threads):
        if th.is_alive():  # still blocked past every bound: counted, and left behind (daemon thread)
            r.errors.append(("thread", "Hung", "trainee thread did not stop in time"))

    for r in runs:
        report.send_ms += r.send_ms
        for ep, v in r.other_ms.items():
            report.other_ms.setdefault(ep, []).extend(v)
        report.errors += r.errors
        report.acknowledged += len(r.acked)
        report.finished_trainees += r.finished
        if r.foreign_lines:
            report.cross_session += r.foreign_lines
            report.problems.append(f"trainee {r.index + 1}: {r.foreign_lines} chat line(s) from someone else")
    verify(store, people, runs, owner_of, report)
    report.load_after = os.getloadavg()
    return report


def verify(store, people: list[Trainee], runs: list[TraineeRun], owner_of: dict[str, int], report: LoadReport) -> None:
    """Compare what each trainee was shown with what the database holds."""
    for p, r in zip(people, runs):
        sessions = store.sessions_of(p.user_id)
        if len(sessions) > 1:
            report.problems.append(f"trainee {p.index + 1}: {len(sessions)} sessions, expected 1")
        stored = [t for s in sessions for t in store.turns(s.id)]
        # every stored turn in this trainee's session(s) was sent by this trainee
        for t in stored:
            owner = owner_of.get(t.trainee_text)
            if owner != p.index:
                report.cross_session += 1
                report.problems.append(f"trainee {p.index + 1}'s session holds a message of "
                                       f"{'trainee ' + str(owner + 1) if owner is not None else 'nobody in this run'}")
        by_text = {t.trainee_text: t for t in stored}
        acked_set = {a.text for a in r.acked}
        stored_acked = [t.trainee_text for t in stored if t.trainee_text in acked_set]  # in stored order
        expected = [a.text for a in r.acked if a.text in by_text]  # in the order they were acknowledged
        misplaced = sum(1 for x, y in zip(stored_acked, expected) if x != y)
        if misplaced:
            report.out_of_order += misplaced
            report.problems.append(f"trainee {p.index + 1}: {misplaced} turn(s) stored out of order")
        for a in r.acked:
            t = by_text.get(a.text)
            if t is None:
                report.lost += 1
                report.problems.append(f"trainee {p.index + 1}: acknowledged turn {a.position} is not stored")
                continue
            # the reply and the flags this trainee saw are the ones stored for this very turn
            expected_coded = ", ".join(t.feedback.get("labels_plain") or []) or "nothing flagged"
            if a.reply != t.persona_text or (a.words is not None and a.words != a.text) \
                    or (a.coded is not None and a.coded != expected_coded):
                report.cross_session += 1
                report.problems.append(f"trainee {p.index + 1}, turn {a.position}: the reply or flags shown "
                                       "differ from the ones stored for that turn")
        report.stored_unacknowledged += sum(1 for t in stored if t.trainee_text not in acked_set)


# serving in-process ----------------------------------------------------------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_in_process(concurrency: int | None = None, database_url: str | None = None):
    """The app on a free 127.0.0.1 port with a temporary SQLite database (unless one is given).

    ``concurrency``: events of one kind run at once (``build_app(concurrency=...)``); None keeps the
    app's own setting (``RJCOACH_CONCURRENCY``, default 8). Yields (url, store).
    """
    import tempfile

    import torch

    from rjcoach.store import Store
    from rjcoach.webapp import APP_CONCURRENCY, APP_TORCH_THREADS, CSS, build_app

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    torch.set_num_threads(APP_TORCH_THREADS)
    with tempfile.TemporaryDirectory(prefix="rjcoach-load-") as tmp:
        store = Store(database_url or f"sqlite:///{tmp}/load.sqlite3")
        demo = build_app(store=store, host="127.0.0.1",
                         concurrency=APP_CONCURRENCY if concurrency is None else concurrency)
        port = _free_port()
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, css=CSS,
                    show_error=True, footer_links=[], quiet=True)
        try:
            yield f"http://127.0.0.1:{port}/", store
        finally:
            with redirect_stdout(sys.stderr):  # Gradio prints "Closing server..."; stdout is the report's
                demo.close()
            store.engine.dispose()


def queue_label(concurrency: int | None) -> str:
    from rjcoach.webapp import APP_CONCURRENCY

    return f"default_concurrency_limit={APP_CONCURRENCY if concurrency is None else concurrency} (in-process)"


# command line ----------------------------------------------------------------------------------
def _think(value: str) -> tuple[float, float]:
    parts = [float(v) for v in value.split(",")]
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or min(parts) < 0:
        raise ValueError("--think takes SECONDS or MIN,MAX")
    return (min(parts), max(parts))


def cmd_load(args) -> int:
    try:
        think = _think(args.think)
    except ValueError as exc:
        print(f"rjcoach load: {exc}", file=sys.stderr)
        return 2
    kwargs = dict(trainees=args.trainees, turns=args.turns, think_s=think, timeout_s=args.timeout,
                  request_timeout_s=args.request_timeout, seed=args.seed, out=lambda s: print(s, file=sys.stderr),
                  scenarios=args.scenario)
    try:
        _chosen_scenarios(args.scenario)  # before a server is started for nothing
    except ValueError as exc:
        print(f"rjcoach load: {exc}", file=sys.stderr)
        return 2
    if args.serve:
        with serve_in_process(args.concurrency, args.database_url) as (url, store):
            report = run_load(url, store=store, queue=queue_label(args.concurrency), **kwargs)
    else:
        if not args.url:
            print("rjcoach load: give --url of a running app, or --serve", file=sys.stderr)
            return 2
        if args.concurrency is not None:
            print("rjcoach load: --concurrency applies to --serve; for a running app start it with "
                  "RJCOACH_CONCURRENCY=N (and give --queue-note)", file=sys.stderr)
            return 2
        if not (args.database_url or os.environ.get("RJCOACH_DATABASE_URL")):
            print("rjcoach load: warning: no --database-url; using the default database, which must be the app's",
                  file=sys.stderr)
        try:
            report = run_load(args.url, database_url=args.database_url, queue=args.queue_note, **kwargs)
        except ValueError as exc:
            print(f"rjcoach load: {exc}", file=sys.stderr)
            return 2
    if args.json:
        import json

        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(report.format())
    return 0 if report.ok else 1


def add_arguments(p) -> None:
    p.add_argument("--url", help="a running app on this machine, e.g. http://127.0.0.1:7860/")
    p.add_argument("--serve", action="store_true",
                   help="start the app in this process on a free 127.0.0.1 port with a temporary SQLite database")
    p.add_argument("--concurrency", type=int, default=None,
                   help="with --serve: events of one kind run at once (default: RJCOACH_CONCURRENCY or 8; 1 is Gradio's own default)")
    p.add_argument("--trainees", type=int, default=50)
    p.add_argument("--turns", type=int, default=20, help="messages per trainee")
    p.add_argument("--think", default="0", help="seconds between messages, SECONDS or MIN,MAX (default 0)")
    p.add_argument("--timeout", type=float, default=900.0, help="global deadline for the whole run, seconds")
    p.add_argument("--request-timeout", type=float, default=120.0, help="per-request timeout, seconds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scenario", action="append",
                   help="only this scenario (repeatable; default: every scenario in turn, group sessions included)")
    p.add_argument("--database-url", help="the app's database (default: RJCOACH_DATABASE_URL or data/runs)")
    p.add_argument("--queue-note", default="as the server was started",
                   help="with --url: how the server's queue is set, for the report")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_load)


def register_cli(subparsers) -> None:
    """Add ``rjcoach load`` to the main parser's sub-commands."""
    p = subparsers.add_parser("load", help="drive a running app with many simulated trainees over HTTP")
    add_arguments(p)


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m rjcoach.loadtest", description=__doc__.splitlines()[0])
    add_arguments(p)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
