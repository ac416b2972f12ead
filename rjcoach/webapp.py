"""The practice app (Gradio): thin UI over accounts, PracticeSession and the debrief.

Per-user state lives in ``gr.State`` (held on the server, per browser session), never in module
globals. Every handler re-checks who is signed in before it does anything.
"""
from __future__ import annotations

import html
import ipaddress
import os
from pathlib import Path

from rjcoach.files import private_dir

# Gradio copies every file it serves (reports, exports) into its cache: keep that cache private.
os.environ.setdefault("GRADIO_TEMP_DIR", str(private_dir("gradio")))

import gradio as gr  # noqa: E402

from rjcoach.auth import AuthError, Logins, Principal, RateLimiter, add_user, sign_in  # noqa: E402
from rjcoach.coach import OPEN_FAIR, OPEN_GOOD, RQ_FAIR, RQ_GOOD  # noqa: E402
from rjcoach.labels import FAMILY_OF  # noqa: E402
from rjcoach.markup import FAMILY_COLOURS, esc, highlight  # noqa: E402, F401
from rjcoach.persona_loader import Library, load_folder  # noqa: E402
from rjcoach.review_ui import build_review_tabs  # noqa: E402
from rjcoach.circle import AUTO, EVERYONE, PIECE, STAGE_TITLES  # noqa: E402
from rjcoach.group_session import GroupSession  # noqa: E402
from rjcoach.persona_schema import GROUP  # noqa: E402
from rjcoach.session import MAX_MESSAGE_CHARS, MessageRejected, PracticeSession, open_session  # noqa: E402
from rjcoach.store import Store, StoreError  # noqa: E402

LEVEL_CHOICES = [("Coached: full live feedback", "coached"), ("Light: only accusatory language flagged", "light"),
                 ("Assessment: no live feedback, full debrief", "assessment")]


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def chat_text(text: str) -> str:
    """Chat content shown as typed: no HTML, no Markdown, no links."""
    return html.escape(text, quote=False)


def gauge(name: str, value: float | None, fair: float, good: float, top: float, fmt) -> str:
    if value is None:
        return f"<div class='rj-gauge'><b>{esc(name)}</b>: n/a yet</div>"
    pct = max(0.0, min(1.0, value / top)) * 100
    band = "good" if value >= good else "fair" if value >= fair else "below"
    return (f"<div class='rj-gauge'><b>{esc(name)}</b>: {esc(fmt(value))} <span class='rj-{band}'>({band})</span>"
            f"<div style='position:relative;height:8px;background:#eee;border-radius:4px'>"
            f"<div style='width:{pct:.0f}%;height:8px;background:#2c7be5;border-radius:4px'></div>"
            f"<div title='fair' style='position:absolute;left:{fair / top * 100:.0f}%;top:-2px;height:12px;border-left:2px solid #b8860b'></div>"
            f"<div title='good' style='position:absolute;left:{good / top * 100:.0f}%;top:-2px;height:12px;border-left:2px solid #1e7e34'></div>"
            f"</div></div>")


def feedback_html(result, persona_name: str) -> str:
    fb = result.turn.feedback
    a = result.turn.analysis
    if fb["level"] == "assessment":
        return "<p>Assessment mode: no live feedback. Your full debrief comes at the end.</p>"
    parts = []
    shown_labels = set(a["labels"]) if fb["level"] == "coached" else {l for l in a["labels"] if FAMILY_OF[l] == "accusatory"}
    ev = [e for e in a["evidence"] if e["label"] in shown_labels]
    parts.append(f"<p class='rj-words'>{highlight(a['text'], ev)}</p>")
    parts.append(f"<p><b>Coded as:</b> {esc(', '.join(fb['labels_plain']) or 'nothing flagged')}</p>")
    if fb["tip"]:
        parts.append(f"<div class='rj-tip'><b>Tip:</b> {esc(fb['tip']['text'])}</div>")
    if fb["rewrite"]:
        parts.append(f"<div class='rj-rewrite'><b>Try instead:</b> \u201c{esc(fb['rewrite'])}\u201d</div>")
    for note in fb.get("notes") or ():
        parts.append(f"<div class='rj-tip'>{esc(note)}</div>")
    reply = getattr(result, "reply", None)
    if reply is not None and reply.notice:
        parts.append(f"<p class='rj-notice'>{esc(reply.notice)}</p>")
    return "".join(parts)


def group_panel_html(panel: dict, tip=None) -> str:
    """The room at a glance: the stages with the current one marked, who has spoken and who is waiting,
    the talking piece, trust (not in an assessment) and the agreement so far."""
    stages = "".join(
        f"<li{' class=rj-now' if sid == panel['stage'] else ''}>{'&#9654; ' if sid == panel['stage'] else ''}{esc(title)}</li>"
        for sid, title in panel["stages"])
    people = []
    for p in panel["people"]:
        state = p["state"]
        trust = f"; trust {state['trust']:.2f}" if state else ""
        mark = " &middot; <i>waiting to be heard in this stage</i>" if p["waiting"] else ""
        piece = " &middot; <b>holds the talking piece</b>" if panel.get("piece") == p["id"] else ""
        times = lambda n: "once" if n == 1 else f"{n} times"  # noqa: E731
        people.append(f"<li><b>{esc(p['name'])}</b> ({esc(p['role'])}): spoke {times(p['spoken'])}, "
                      f"{times(p['spoken_in_stage'])} in this stage{esc(trust)}{mark}{piece}</li>")
    items = "".join(f"<li>{'&#10003;' if i['agreed'] else '&#9744;'} {esc(i['description'])}</li>" for i in panel["agreement"])
    agreed = sum(i["agreed"] for i in panel["agreement"])
    head = f"<div class='rj-tip'><b>Tip:</b> {esc(tip.text)}</div>" if tip is not None else ""
    return (f"{head}<p><b>{esc(panel['format'].capitalize())}: stages</b></p><ol class='rj-stages'>{stages}</ol>"
            f"<p><b>In the room</b></p><ul>{''.join(people)}</ul>"
            f"<p><b>Agreement</b> ({agreed} of {panel['required']} needed)</p><ul>{items}</ul>")


def gauges_html(metrics: dict, trust: float | None, level: str) -> str:
    if level == "assessment":
        return ""
    rows = [
        gauge("Reflections per question", metrics.get("rq_ratio"), RQ_FAIR, RQ_GOOD, 3.0, lambda v: f"{v:.2f}"),
        gauge("Open questions", metrics.get("open_share"), OPEN_FAIR, OPEN_GOOD, 1.0, lambda v: f"{v * 100:.0f}%"),
        f"<div class='rj-gauge'><b>Empathy</b>: {metrics.get('empathy', 0)} &middot; "
        f"<b>Accusatory</b>: <span class='rj-{'good' if not metrics.get('accusatory_utterances') else 'below'}'>"
        f"{metrics.get('accusatory_utterances', 0)}</span> (target 0)</div>",
    ]
    if trust is not None:
        rows.append(gauge("Their trust", trust, 0.4, 0.65, 1.0, lambda v: f"{v:.2f}"))
    return "".join(rows)


CSS = """
.rj-good{color:#1e7e34}.rj-fair{color:#b8860b}.rj-below{color:#c0392b}
.rj-tip{background:#f1f3f5;padding:8px;border-radius:6px;margin:6px 0}
.rj-rewrite{background:#e9f7ef;padding:8px;border-radius:6px;margin:6px 0}
.rj-gauge{margin:6px 0}
.rj-now{font-weight:bold;color:#2c7be5}
"""


APP_CONCURRENCY = int(os.environ.get("RJCOACH_CONCURRENCY", "8"))
"""Events of one kind (say, every trainee's "Send") run up to this many at once; Gradio's default is 1,
which runs a whole class's messages one at a time and leaves the micro-batcher nothing to batch
(docs/load.md: 8 measured best on 2 cores; 16 and 32 gained nothing and cost memory)."""


def build_app(store: Store | None = None, library: Library | None = None, analyzer=None,
              host: str = "127.0.0.1", concurrency: int = APP_CONCURRENCY) -> gr.Blocks:
    store = store or Store()
    library = library or load_folder()
    if analyzer is None:
        from rjcoach.analyzer import get_analyzer
        from rjcoach.batching import BatchingAnalyzer

        analyzer = BatchingAnalyzer(get_analyzer())  # concurrent trainees share forward passes
    limiter = RateLimiter()
    logins = Logins()
    loopback = is_loopback(host)
    reports = private_dir("reports")
    scenario_choices = [(sc.title, sid) for sid, sc in sorted(library.scenarios.items())]

    def personas_for(scenario_id):
        if scenario_id not in library.scenarios:
            return []
        sc = library.scenarios[scenario_id]
        if sc.is_group:  # the trainee facilitates everyone on the roster
            names = ", ".join(p.name for p in library.personas_for(scenario_id))
            return [(f"Facilitate the {sc.format}: {names}", GROUP)]
        return [(f"{p.name} ({p.role}, {p.age}; difficulty {p.difficulty})", p.id) for p in library.personas_for(scenario_id)]

    def need_user(user) -> Principal:
        """The signed-in principal, if its sign-in is still live (idle and total expiry, sign-out)."""
        if not isinstance(user, Principal):
            raise gr.Error("Please sign in first.")
        try:
            return logins.check(user)
        except AuthError as exc:
            raise gr.Error(str(exc))

    def need_session(user, sess) -> PracticeSession | GroupSession:
        user = need_user(user)
        if not isinstance(sess, (PracticeSession, GroupSession)):
            raise gr.Error("Start a session first.")
        if sess.row.user_id != user.id:  # e.g. someone signed in again as another user
            raise gr.Error("That session is not yours.")
        return sess

    # handlers ------------------------------------------------------------------------------
    def first_run(username, password, confirm):
        if store.user_count() > 0:
            raise gr.Error("Accounts already exist: sign in instead.")
        if not loopback:
            raise gr.Error("First-run set-up only works on a server listening on 127.0.0.1.")
        if password != confirm:
            raise gr.Error("The two passwords differ.")
        try:
            user = add_user(store, username, password, "admin")
        except AuthError as exc:
            raise gr.Error(str(exc))
        return _signed_in(user)

    def do_sign_in(username, password, request: gr.Request):
        client = getattr(getattr(request, "client", None), "host", "") if request else ""
        try:
            user = sign_in(store, limiter, username, password, client)
        except AuthError as exc:
            raise gr.Error(str(exc))
        return _signed_in(user)

    def _signed_in(user: Principal):
        user = logins.issue(user)
        text = f"Signed in as **{esc(user.username)}** ({user.role})."
        if library.errors and user.role in ("admin", "instructor"):
            listed = "\n".join(f"- `{esc(str(e))}`" for e in library.errors[:20])
            text += (f"\n\n**{len(library.errors)} problem(s) in persona files**; those files were skipped "
                     f"(run `rjcoach persona validate`):\n{listed}")
        reviewer = user.role in ("instructor", "admin")
        return (user, gr.update(visible=False), gr.update(visible=False), gr.update(visible=True), text, "", "",
                gr.update(visible=reviewer), gr.update(visible=reviewer), gr.update(visible=reviewer))

    def sign_out(user):
        logins.end(user)
        return (None, None, gr.update(visible=store.user_count() == 0), gr.update(visible=store.user_count() > 0),
                gr.update(visible=False), "", [], "", "", gr.update(visible=False), gr.update(visible=False),
                gr.update(visible=False))

    def pick_scenario(scenario_id):
        choices = personas_for(scenario_id)
        sc = library.scenarios.get(scenario_id)
        brief = ""
        if sc:
            goals = "".join(f"<li>{esc(g.description)}</li>" for g in sc.goals)
            brief = f"<p>{esc(sc.summary)}</p><p><b>Goals</b></p><ul>{goals}</ul>"
            if sc.is_group:
                stages = " &rarr; ".join(esc(STAGE_TITLES[x]) for x in sc.stage_ids)
                brief += (f"<p><b>You facilitate.</b> Stages: {stages}. Speak to someone by name (or pick them "
                          "under <i>Speak to</i>), move on with <i>Next stage</i>"
                          + (", and pass the talking piece round the circle" if sc.format == "circle" else "")
                          + ". Everyone hears everything that is said.</p>")
        return gr.update(choices=choices, value=choices[0][1] if choices else None), brief

    def start(user, scenario_id, persona_id, level):
        user = need_user(user)
        seed = int.from_bytes(os.urandom(2), "big")
        try:
            if persona_id == GROUP:
                sess = GroupSession.start(store, library, user.id, scenario_id, level, seed=seed, analyzer=analyzer)
            else:
                sess = PracticeSession.start(store, library, user.id, scenario_id, persona_id, level,
                                             seed=seed, analyzer=analyzer)
        except (KeyError, ValueError) as exc:
            raise gr.Error(str(exc).strip("'\""))
        trust = None if level == "assessment" or isinstance(sess, GroupSession) else sess.state.trust
        return sess, chat_of(sess), "", gauges_html({}, trust, level), "", None

    def open_assessments(user):
        need_user(user)
        choices = [(f"{a.name} ({a.scenario_id}, {'the whole group' if a.persona_id == GROUP else a.persona_id})", a.id)
                   for a in store.assessments()]
        return gr.update(choices=choices, value=choices[0][1] if choices else None)

    def start_assessment(user, assessment_id):
        from rjcoach.assessment import AssessmentError, start_attempt

        user = need_user(user)
        try:
            sess = start_attempt(store, library, user, assessment_id, analyzer=analyzer)
        except (AssessmentError, KeyError) as exc:
            raise gr.Error(str(exc).strip("'\""))
        gr.Info("Assessment started: no live feedback, and every message counts. Your result comes at the end.")
        return sess, chat_of(sess), "", "", "", None

    def chat_of(sess) -> list[dict]:
        """The conversation as stored (the server's record is the truth, not the browser's copy)."""
        if isinstance(sess, GroupSession):
            msgs = [{"role": "assistant", "content": chat_text(
                f"You are facilitating: {sess.title()}. Open the meeting when you are ready.")}]
            for t in sess.history():
                msgs.append({"role": "user", "content": chat_text(t.trainee_text)})
                msgs += [{"role": "assistant", "content": chat_text(f"{u.get('name', '')}: {u.get('text', '')}")}
                         for u in t.persona.get("utterances", [])]
            return msgs
        p = sess.persona
        msgs = [{"role": "assistant", "content": chat_text(f"You are meeting {p.name}, {p.age}. Say hello when you are ready.")}]
        for t in sess.history():
            msgs += [{"role": "user", "content": chat_text(t.trainee_text)},
                     {"role": "assistant", "content": chat_text(t.persona_text)}]
        return msgs

    def send(user, sess, text):
        sess = need_session(user, sess)
        try:
            result = sess.turn(text)
        except MessageRejected as exc:
            gr.Warning(exc.hint)
            return chat_of(sess), text, gr.update(), gr.update()
        except StoreError as exc:
            raise gr.Error(f"Your message was not saved: {exc}. Please try again in a moment.")
        chat = chat_of(sess)
        level = sess.row.level
        group = isinstance(sess, GroupSession)
        trust = None if level == "assessment" or group else result.reply.state.trust
        return chat, "", feedback_html(result, ""), gauges_html(result.turn.feedback["metrics"], trust, level)

    def rewind(user, sess):
        sess = need_session(user, sess)
        try:
            undone = sess.rewind()
        except MessageRejected as exc:
            raise gr.Error(exc.hint)
        if undone is None:
            gr.Warning("Nothing to take back yet.")
            return chat_of(sess), gr.update()
        gr.Info("Last exchange taken back; it stays in your record. Try it another way.")
        return chat_of(sess), undone.trainee_text

    def unfinished(user):
        user = need_user(user)
        rows = [r for r in store.sessions_of(user.id) if r.status == "active"]
        choices = []
        for r in rows:
            p = library.personas.get(r.persona_id)
            sc = library.scenarios.get(r.scenario_id)
            name = p.name if p else (f"the {sc.format}" if sc is not None and r.persona_id == GROUP else r.persona_id)
            choices.append((f"{name}, {r.scenario_id}, started {r.created_at:%Y-%m-%d %H:%M}", r.id))
        return gr.update(choices=choices, value=choices[0][1] if choices else None)

    def resume(user, session_id):
        user = need_user(user)
        row = store.session(session_id) if isinstance(session_id, str) and session_id else None
        if row is None or row.user_id != user.id:  # the same answer for "missing", "malformed" and "not yours"
            raise gr.Error("No such session of yours.")
        try:
            sess = open_session(store, library, session_id, analyzer=analyzer)
        except KeyError as exc:
            raise gr.Error(str(exc).strip("'\""))
        level = row.level
        trust = None if level == "assessment" or isinstance(sess, GroupSession) else sess.state.trust
        return sess, chat_of(sess), "", gauges_html({}, trust, level), "", None

    def end(user, sess):
        from rjcoach.debrief import render_html, summary_html

        sess = need_session(user, sess)
        debrief = sess.end()
        page = render_html(debrief, store.turns(sess.id, include_rewound=True), user.username)
        path = reports / f"rjcoach-debrief-{sess.id}.html"
        path.write_text(page, encoding="utf-8")
        summary = summary_html(debrief) + "<p>Download the full report below.</p>"
        if sess.row.assessment_id is not None:  # the filed result first, in the page and the report
            from rjcoach.assessment import result_page

            result = result_page(store, user, sess.id)
            summary = result + summary
            head, sep, tail = page.partition("<body>")
            path.write_text(head + sep + result + tail, encoding="utf-8")
        return summary, str(path), None

    def group_view(user, sess):
        """Show the facilitation controls and the room for a group session; hide them otherwise."""
        if not isinstance(sess, GroupSession):
            return gr.update(visible=False), gr.update(), "", gr.update(visible=False)
        need_session(user, sess)
        choices = [("Whoever I name (or the stage's next voice)", AUTO), ("The whole group", EVERYONE)]
        if sess.scenario.format == "circle":
            choices.insert(0, ("Whoever holds the talking piece", PIECE))
        choices += [(f"{p.name} ({sess.world.role[pid]})", pid) for pid, p in sess.personas.items()]
        return (gr.update(visible=True), gr.update(choices=choices, value=sess.addressee),
                group_panel_html(sess.panel()), gr.update(visible=sess.scenario.format == "circle"))

    def group_panel(user, sess):
        if not isinstance(sess, GroupSession):
            return ""
        return group_panel_html(need_session(user, sess).panel())

    def need_group(user, sess) -> GroupSession:
        sess = need_session(user, sess)
        if not isinstance(sess, GroupSession):
            raise gr.Error("That is for a conference, circle or mediation session.")
        return sess

    def speak_to(user, sess, target):
        sess = need_group(user, sess)
        try:
            sess.speak_to(target)
        except MessageRejected as exc:
            raise gr.Error(exc.hint)
        return group_panel_html(sess.panel())

    def next_stage(user, sess):
        sess = need_group(user, sess)
        try:
            _stage, tip = sess.next_stage()
        except MessageRejected as exc:
            raise gr.Error(exc.hint)
        return group_panel_html(sess.panel(), tip)

    def pass_piece(user, sess):
        sess = need_group(user, sess)
        try:
            holder = sess.pass_piece()
        except MessageRejected as exc:
            raise gr.Error(exc.hint)
        gr.Info(f"The talking piece passes to {sess.personas[holder].name}.")
        return group_panel_html(sess.panel())

    # layout --------------------------------------------------------------------------------
    with gr.Blocks(title="rjcoach: restorative dialogue practice") as demo:
        user_state = gr.State(None)
        sess_state = gr.State(None)
        gr.Markdown("# rjcoach\nPractise restorative conversations and get feedback on every message.")
        with gr.Column(visible=store.user_count() == 0 and loopback) as setup_box:
            gr.Markdown("### First run: create the administrator account\nNo accounts exist yet. "
                        "This page appears once, only on a server listening on 127.0.0.1.")
            su_name = gr.Textbox(label="Username")
            su_pw = gr.Textbox(label="Password (at least 10 characters)", type="password")
            su_pw2 = gr.Textbox(label="Password again", type="password")
            su_btn = gr.Button("Create admin account and sign in", variant="primary")
        with gr.Column(visible=store.user_count() > 0) as signin_box:
            gr.Markdown("### Sign in")
            si_name = gr.Textbox(label="Username")
            si_pw = gr.Textbox(label="Password", type="password")
            si_btn = gr.Button("Sign in", variant="primary")
        with gr.Column(visible=False) as practice_box:
            with gr.Row():
                who = gr.Markdown()
                out_btn = gr.Button("Sign out", scale=0)
            with gr.Tabs():
                with gr.Tab("Practice", id="practice"):
                    with gr.Row():
                        scenario = gr.Dropdown(scenario_choices, label="Scenario", value=None)
                        persona = gr.Dropdown([], label="Who you will speak with", allow_custom_value=True)
                        level = gr.Radio(LEVEL_CHOICES, value="coached", label="Coaching level")
                    brief = gr.HTML()
                    with gr.Row():
                        start_btn = gr.Button("Start session", variant="primary")
                    with gr.Row():
                        mine = gr.Dropdown([], label="Your unfinished sessions", allow_custom_value=True)
                        mine_btn = gr.Button("Refresh list")
                        resume_btn = gr.Button("Resume")
                    with gr.Row():
                        exams = gr.Dropdown([], label="Or take an assessment (certification)", allow_custom_value=True)
                        exams_btn = gr.Button("Refresh assessments")
                        exam_btn = gr.Button("Start assessment")
                    with gr.Row():
                        with gr.Column(scale=3):
                            chat = gr.Chatbot(label="Conversation", height=420, render_markdown=False,
                                              sanitize_html=True, allow_tags=False, feedback_options=None)
                            msg = gr.Textbox(label="Your message", placeholder="Type what you would say...",
                                             max_lines=6, max_length=MAX_MESSAGE_CHARS * 2)
                            with gr.Row():
                                send_btn = gr.Button("Send", variant="primary")
                                again_btn = gr.Button("Try that again")
                                end_btn = gr.Button("End session")
                        with gr.Column(scale=2):
                            gr.Markdown("### Feedback")
                            feedback = gr.HTML()
                            gauges = gr.HTML()
                            with gr.Column(visible=False) as group_box:
                                gr.Markdown("### Facilitating")
                                to_whom = gr.Dropdown([(x, x) for x in (AUTO,)], value=AUTO, label="Speak to",
                                                      allow_custom_value=True)
                                with gr.Row():
                                    stage_btn = gr.Button("Next stage")
                                    piece_btn = gr.Button("Pass the talking piece")
                                room = gr.HTML()
                    debrief_box = gr.HTML()
                    report = gr.File(label="Debrief report (HTML)")
                tabs = build_review_tabs(store, library, user_state, need_user)

        signed = [user_state, setup_box, signin_box, practice_box, who, si_pw, su_pw, tabs["review"], tabs["cohorts"], tabs["assessments"]]
        su_btn.click(first_run, [su_name, su_pw, su_pw2], signed, api_name="first_run")
        si_btn.click(do_sign_in, [si_name, si_pw], signed, api_name="sign_in")
        out_btn.click(sign_out, user_state, [user_state, sess_state, setup_box, signin_box, practice_box, who, chat, feedback, debrief_box,
                                       tabs["review"], tabs["cohorts"], tabs["assessments"]], api_name="sign_out")
        scenario.change(pick_scenario, scenario, [persona, brief], api_name="pick_scenario")
        exams_btn.click(open_assessments, user_state, exams, api_name="assessments_open")
        show_group = dict(fn=group_view, inputs=[user_state, sess_state], outputs=[group_box, to_whom, room, piece_btn], api_name=False)
        exam_btn.click(start_assessment, [user_state, exams], [sess_state, chat, feedback, gauges, debrief_box, report],
                       api_name="start_assessment").then(**show_group)
        start_btn.click(start, [user_state, scenario, persona, level], [sess_state, chat, feedback, gauges, debrief_box, report],
                        api_name="start").then(**show_group)
        send_evt = dict(fn=send, inputs=[user_state, sess_state, msg], outputs=[chat, msg, feedback, gauges])
        refresh_room = dict(fn=group_panel, inputs=[user_state, sess_state], outputs=room, api_name=False)
        send_btn.click(**send_evt, api_name="send").then(**refresh_room)
        msg.submit(**send_evt, api_name=False).then(**refresh_room)
        again_btn.click(rewind, [user_state, sess_state], [chat, msg], api_name="rewind").then(**refresh_room)
        to_whom.change(speak_to, [user_state, sess_state, to_whom], room, api_name="speak_to")
        stage_btn.click(next_stage, [user_state, sess_state], room, api_name="next_stage")
        piece_btn.click(pass_piece, [user_state, sess_state], room, api_name="pass_piece")
        end_btn.click(end, [user_state, sess_state], [debrief_box, report, sess_state], api_name="end")
        mine_btn.click(unfinished, user_state, mine, api_name="my_sessions")
        resume_btn.click(resume, [user_state, mine], [sess_state, chat, feedback, gauges, debrief_box, report],
                         api_name="resume").then(**show_group)
    demo.queue(default_concurrency_limit=max(1, int(concurrency)))
    return demo


APP_TORCH_THREADS = 1
"""Short inputs from many sessions at once: one intra-op thread per call measured faster (rjcoach bench)."""


def serve(host: str = "127.0.0.1", port: int = 7860, store: Store | None = None, prevent_thread_lock: bool = False):
    """Start the app; serving beyond loopback needs accounts to exist already."""
    import torch

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    torch.set_num_threads(APP_TORCH_THREADS)
    store = store or Store()
    if not is_loopback(host) and store.user_count() == 0:
        raise SystemExit(f"refusing to listen on {host} with no accounts: create one with "
                         "`rjcoach user add --role admin USERNAME` or start on 127.0.0.1 first")
    demo = build_app(store=store, host=host)
    return demo.launch(server_name=host, server_port=port, prevent_thread_lock=prevent_thread_lock,
                       css=CSS, show_error=True, footer_links=[])
