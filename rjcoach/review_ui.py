"""The instructor's and the trainee's review pages (Gradio): thin handlers over rjcoach.review.

Every handler takes the signed-in principal from server-side state and lets rjcoach.review decide
what it may see or change; hiding a tab is a convenience, never the protection.
"""
from __future__ import annotations

import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import gradio as gr

from rjcoach.files import private_dir
from rjcoach.labels import FAMILY_OF, LABELS, PLAIN_WORDS
from rjcoach.markup import FAMILY_COLOURS, esc, highlight
from rjcoach.review import (
    SORTS, VERDICTS, AccessDenied, Filters, ReviewError, SessionView, assign, comment, correct, create_cohort,
    list_sessions, managed_cohorts, rate, require_reviewer, reviewed_debrief, session_view, unassign,
)
from rjcoach.store import Store

TABLE_COLUMNS = ["started", "trainee", "cohorts", "scenario", "persona", "level", "messages", "R:Q", "open %",
                 "accusatory", "empathy", "restorative", "corrections", "rating", "id"]
LEVELS = ("coached", "light", "assessment", "imported")


def _guard(fn):
    """Turn access and input errors into messages in the browser (same words for 'missing' and 'not yours')."""
    import functools

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (AccessDenied, ReviewError) as exc:
            raise gr.Error(str(exc))
    return wrapped


def _date(text: str, field: str, end: bool = False) -> datetime | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        d = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    except ValueError:
        raise ReviewError(f"{field}: write the date as YYYY-MM-DD, not {text!r}") from None
    return d.replace(hour=23, minute=59, second=59) if end else d


def _label_chips(t) -> str:
    chips = []
    for label in LABELS:
        model, now = label in t.model_labels, label in t.labels
        if not (model or now):
            continue
        if model and now:
            state = "confirmed" if any(c.label == label and c.verdict == "confirm" for c in t.corrections) else "model"
        else:
            state = "rejected" if model else "added"
        style = {"model": "", "confirmed": "border:1px solid #1e7e34;", "rejected": "text-decoration:line-through;opacity:.6;",
                 "added": "border:1px dashed #6f42c1;"}[state]
        chips.append(f"<span class='rj-chip rj-{state}' title='{esc(state)}' style='background:{FAMILY_COLOURS[FAMILY_OF[label]]};"
                     f"{style}padding:1px 6px;border-radius:8px;margin-right:4px'>{esc(PLAIN_WORDS[label])}"
                     f"{'' if state == 'model' else ' (' + state + ')'}</span>")
    return "".join(chips) or "<span class='rj-none'>no rubric label</span>"


def transcript_html(view: SessionView, library=None) -> str:
    """The session as a reviewer (or its trainee) reads it: flags, tips shown, persona state, comments,
    then the debrief rebuilt from the reviewed flags (app sessions)."""
    r = view.row
    m = view.metrics
    fmt = lambda v, pct=False: "n/a" if v is None else (f"{v * 100:.0f}%" if pct else f"{v:.2f}")  # noqa: E731
    head = (f"<h3>{esc(view.trainee)} &middot; {esc(r.title or r.scenario_id)} &middot; {esc(r.persona_id)} &middot; "
            f"{esc(r.level)} &middot; {r.created_at:%Y-%m-%d %H:%M} &middot; {esc(r.status)}</h3>"
            f"<p>Reflections per question {fmt(m.rq_ratio)} ({m.band('rq_ratio')}); open questions "
            f"{fmt(m.open_share, True)} ({m.band('open_share')}); accusatory messages {m.accusatory_utterances} of "
            f"{m.utterances}; empathy {m.empathy}; restorative questions {m.restorative}; feelings acknowledged "
            f"{m.disclosures_acknowledged} of {m.disclosures_offered}. <small>Computed from the reviewed flags.</small></p>")
    if view.review:
        head += (f"<div class='rj-review'><b>Instructor rating: {view.review.rating}/5</b> by "
                 f"{esc(view.authors.get(view.review.reviewer_id, '?'))}<br>{esc(view.review.note)}</div>")
    for c in view.session_comments:
        head += f"<div class='rj-comment'><b>{esc(view.authors.get(c.author_id, '?'))}</b>: {esc(c.text)}</div>"
    rows = []
    for t in view.turns:
        st = t.turn
        state = st.persona.get("state") or {}
        state_txt = ", ".join(f"{k} {state[k]:.2f}" for k in ("trust", "distress", "defensiveness")
                              if isinstance(state.get(k), (int, float)))
        tip = (st.feedback or {}).get("tip")
        shown = []
        if tip and (st.feedback or {}).get("level") != "assessment":
            shown.append(f"<div class='rj-tip'><b>Tip shown:</b> {esc(tip.get('text', ''))}</div>")
        if (st.feedback or {}).get("rewrite"):
            shown.append(f"<div class='rj-rewrite'><b>Rewrite shown:</b> {esc(st.feedback['rewrite'])}</div>")
        notes = "".join(f"<div class='rj-comment'><b>{esc(view.authors.get(c.author_id, '?'))}</b>: {esc(c.text)}</div>"
                        for c in t.comments)
        speaker = st.persona.get("speaker") or r.persona_id
        if st.persona.get("group"):  # a conference, circle or mediation: each participant's line, and the stage
            said = "<br>".join(f"<b>{esc(u.get('name', ''))}</b> <small>({esc(u.get('kind', ''))})</small>: "
                               f"{esc(u.get('text', ''))}" for u in st.persona.get("utterances", []))
            stage = esc(str(st.persona.get("stage", "")).replace("_", " "))
            to = st.persona.get("to", "")
            state_txt = f"stage: {stage}; spoken to: {to}"
        else:
            said = f"<b>{esc(speaker)}:</b> {esc(st.persona_text)}"
        rows.append(
            f"<div class='rj-turn{' rj-rewound' if st.rewound else ''}' id='turn-{st.id}' "
            f"style='border-bottom:1px solid #eee;padding:6px 0{';opacity:.6' if st.rewound else ''}'>"
            f"<p><b>#{st.position}{' (taken back)' if st.rewound else ''} trainee:</b> "
            f"{highlight(st.trainee_text, [e for e in st.analysis.get('evidence', []) if e['label'] in t.labels])}</p>"
            f"<p>{_label_chips(t)}</p>{''.join(shown)}"
            f"<p>{said}"
            f"{' <small>(' + esc(state_txt) + ')</small>' if state_txt else ''}</p>{notes}</div>")
    debrief = ""
    rebuilt = reviewed_debrief(view, library)
    if rebuilt is not None:
        from rjcoach.debrief import summary_html

        debrief = f"<div class='rj-debrief'>{summary_html(rebuilt[0])}</div>"
    return head + "".join(rows) + debrief


def turn_choices(view: SessionView) -> list[tuple[str, int]]:
    return [(f"#{t.turn.position}{' (taken back)' if t.turn.rewound else ''}: {t.turn.trainee_text[:70]}", t.turn.id)
            for t in view.turns]


def _describe(c: dict) -> str:
    from rjcoach.assessment import Criterion

    return Criterion(c["metric"], c["op"], c["threshold"]).describe()


def summaries_table(rows) -> list[list]:
    return [[f"{r.created_at:%Y-%m-%d %H:%M}", r.trainee, ", ".join(r.cohorts), r.scenario, r.persona, r.level,
             r.messages, "" if r.rq_ratio is None else round(r.rq_ratio, 2),
             "" if r.open_share is None else round(r.open_share * 100), r.accusatory, r.empathy, r.restorative,
             r.corrections, r.rating or "", r.id] for r in rows]


def build_review_tabs(store: Store, library, user_state: gr.State, need_user) -> dict:
    """The review, cohort/progress and history tabs; returns the tabs whose visibility depends on role.

    ``need_user(state)`` returns the signed-in principal or raises (not signed in, expired).
    """
    _who = need_user
    from rjcoach.progress import cohort_html, cohort_progress, trainee_html, trainee_progress

    scenario_ids = sorted(library.scenarios)
    exports = private_dir("exports")
    from rjcoach.persona_schema import GROUP

    persona_ids = sorted(library.personas) + ([GROUP] if any(sc.is_group for sc in library.scenarios.values()) else [])

    # handlers ----------------------------------------------------------------------------------
    @_guard
    def review_list(user, trainee, cohort, scenario, persona, level, since, until, sort):
        who = _who(user)
        rows = list_sessions(store, who, _filters(trainee, cohort, scenario, persona, level, since, until), sort or "newest")
        choices = [(f"{r.created_at:%Y-%m-%d %H:%M} {r.trainee}, {r.scenario}, {r.messages} msg", r.id) for r in rows]
        return (summaries_table(rows),
                gr.update(choices=choices, value=choices[0][1] if choices else None),
                f"{len(rows)} session(s)")

    def _filters(trainee, cohort, scenario, persona, level, since, until) -> Filters:
        return Filters(trainee=(trainee or "").strip() or None, cohort=cohort or None, scenario=scenario or None,
                       persona=persona or None, level=level or None, since=_date(since, "from"),
                       until=_date(until, "until", end=True))

    def _out_dir(who) -> Path:
        return Path(tempfile.mkdtemp(prefix=f"rjcoach-export-{who.id}-", dir=exports))

    @_guard
    def review_export(user, trainee, cohort, scenario, persona, level, since, until, fmt):
        """The listed sessions (same filters) as versioned JSON or a zip of CSV files."""
        from rjcoach.export import write_csv, write_json

        who = _who(user)
        ids = [r.id for r in list_sessions(store, who, _filters(trainee, cohort, scenario, persona, level, since, until))]
        if not ids:
            raise ReviewError("no sessions match these filters: nothing to export")
        folder = _out_dir(who)
        if fmt == "json":
            path = folder / "rjcoach-sessions.json"
            write_json(path, store, who, ids)
            return str(path)
        write_csv(folder / "csv", store, who, ids)
        archive = shutil.make_archive(str(folder / "rjcoach-sessions-csv"), "zip", folder / "csv")
        return archive

    @_guard
    def review_report(user, session_id):
        from rjcoach.export import session_report_html

        who = _who(user)
        require_reviewer(who)
        page = session_report_html(store, library, who, session_id)
        path = _out_dir(who) / f"rjcoach-review-{session_id}.html"
        path.write_text(page, encoding="utf-8")
        return str(path)

    @_guard
    def review_open(user, session_id):
        who = _who(user)
        require_reviewer(who)
        view = session_view(store, who, session_id)
        turns = turn_choices(view)
        return (transcript_html(view, library), gr.update(choices=turns, value=turns[0][1] if turns else None),
                gr.update(choices=[("the whole session", "")] + turns, value=""),
                view.review.rating if view.review else None, view.review.note if view.review else "")

    @_guard
    def review_correct(user, session_id, turn_id, label, verdict):
        who = _who(user)
        if not turn_id:
            raise ReviewError("choose a message first")
        if not label:
            raise ReviewError("choose a label")
        view = session_view(store, who, session_id)
        if int(turn_id) not in {t.turn.id for t in view.turns}:
            raise ReviewError("that message is not in the open session")
        correct(store, who, int(turn_id), label, verdict)
        return transcript_html(session_view(store, who, session_id), library)

    @_guard
    def review_comment(user, session_id, turn_id, text):
        who = _who(user)
        comment(store, who, session_id, text, int(turn_id) if turn_id not in (None, "") else None)
        return transcript_html(session_view(store, who, session_id), library), ""

    @_guard
    def review_rate(user, session_id, rating, note):
        who = _who(user)
        if rating is None:
            raise ReviewError("rating: choose 1 to 5")
        rate(store, who, session_id, rating, note)
        gr.Info("Rating saved.")
        return transcript_html(session_view(store, who, session_id), library)

    @_guard
    def cohort_new(user, name):
        who = _who(user)
        create_cohort(store, who, name)
        return cohort_overview(who), gr.update(choices=_cohort_names(who)), gr.update(choices=_cohort_names(who))

    @_guard
    def cohort_assign(user, name, username, action):
        who = _who(user)
        changed = (assign if action == "add" else unassign)(store, who, name, (username or "").strip())
        if not changed:
            gr.Info("No change.")
        return cohort_overview(who)

    def _cohort_names(who):
        return [c.name for c in managed_cohorts(store, who)]

    def cohort_overview(who) -> str:
        parts = []
        for c in managed_cohorts(store, who):
            members = store.members(c.id)
            parts.append(f"<li><b>{esc(c.name)}</b>: instructors "
                         f"{esc(', '.join(u.username for u in members if u.role == 'instructor') or '-')}; trainees "
                         f"{esc(', '.join(u.username for u in members if u.role == 'trainee') or '-')}</li>")
        return f"<ul>{''.join(parts)}</ul>" if parts else "<p>No cohorts yet.</p>"

    @_guard
    def cohorts_refresh(user):
        who = _who(user)
        names = _cohort_names(who)
        return cohort_overview(who), gr.update(choices=names), gr.update(choices=names), gr.update(choices=names)

    @_guard
    def progress_of(user, trainee, cohort):
        who = _who(user)
        if (trainee or "").strip():
            return trainee_html(trainee_progress(store, who, trainee.strip()))
        if cohort:
            return cohort_html(cohort_progress(store, who, cohort))
        raise ReviewError("choose a trainee or a cohort")

    @_guard
    def history_list(user):
        who = _who(user)
        rows = [r for r in store.sessions_of(who.id)]
        reviews = store.reviews([r.id for r in rows]) if rows else {}
        choices = [(f"{r.created_at:%Y-%m-%d %H:%M} {r.title or r.scenario_id}, {r.persona_id}"
                    f"{' - rated ' + str(reviews[r.id].rating) + '/5' if r.id in reviews else ''}", r.id) for r in rows]
        progress = trainee_html(trainee_progress(store, who, who.username)) if who.role == "trainee" else ""
        return gr.update(choices=choices, value=choices[0][1] if choices else None), progress

    @_guard
    def history_open(user, session_id):
        who = _who(user)
        row = store.session(session_id) if session_id else None
        if row is None or row.user_id != who.id:  # history is one's own, whatever the role
            raise AccessDenied("No such session of yours.")
        return transcript_html(session_view(store, who, session_id), library)

    @_guard
    def assessment_define(user, name, scenario, persona, seed, open_min, rq_min, acc_max, msgs_min, goals):
        from rjcoach.assessment import AssessmentError, define

        who = _who(user)
        criteria = [{"metric": "open_share", "op": ">=", "threshold": (open_min or 0) / 100},
                    {"metric": "rq_ratio", "op": ">=", "threshold": rq_min or 0},
                    {"metric": "accusatory_utterances", "op": "<=", "threshold": acc_max or 0},
                    {"metric": "utterances", "op": ">=", "threshold": msgs_min or 0}]
        if goals:
            criteria.append({"metric": "goals_reached", "op": "==", "threshold": 1})
        sc = library.scenarios.get(scenario)
        if sc is not None and sc.is_group:  # a conference, circle or mediation: an agreement, every voice heard
            criteria += [{"metric": "agreement_reached", "op": "==", "threshold": 1},
                         {"metric": "everyone_heard", "op": "==", "threshold": 1}]
        try:
            define(store, library, who, name, scenario, persona, seed, criteria)
        except AssessmentError as exc:
            raise ReviewError(str(exc)) from None
        gr.Info(f"Assessment {name!r} is open for attempts.")
        return assessment_overview(user)

    @_guard
    def assessment_overview(user):
        from rjcoach.assessment import attempts

        who = _who(user)
        require_reviewer(who)
        specs = "".join(
            f"<li><b>{esc(a.name)}</b>: {esc(a.scenario_id)} with {esc(a.persona_id)}, seed {a.seed}; "
            f"{esc('; '.join(_describe(c) for c in a.criteria))}</li>" for a in store.assessments())
        rows = attempts(store, who)
        table = "".join(
            f"<tr><td>{a.started:%Y-%m-%d %H:%M}</td><td>{esc(a.assessment)}</td><td>{esc(a.trainee)}</td>"
            f"<td>{'in progress' if a.passed is None else ('PASS' if a.passed else 'FAIL')}</td><td>{esc(a.session_id)}</td></tr>"
            for a in rows)
        choices = [(f"{a.started:%Y-%m-%d %H:%M} {a.trainee}, {a.assessment}", a.session_id) for a in rows if a.passed is not None]
        html_out = (f"<h3>Open assessments</h3><ul>{specs or '<li>none yet</li>'}</ul><h3>Attempts</h3>"
                    f"<table class='rj-table'><tr><th>started</th><th>assessment</th><th>trainee</th><th>result</th>"
                    f"<th>attempt</th></tr>{table}</table>")
        return html_out, gr.update(choices=choices, value=choices[0][1] if choices else None)

    @_guard
    def assessment_result(user, session_id):
        from rjcoach.assessment import AssessmentError, result_page

        who = _who(user)
        try:
            page = result_page(store, who, session_id, standalone=True)
        except AssessmentError as exc:
            raise ReviewError(str(exc)) from None
        path = _out_dir(who) / f"rjcoach-assessment-{session_id}.html"
        path.write_text(page, encoding="utf-8")
        return result_page(store, who, session_id), str(path)

    # layout ------------------------------------------------------------------------------------
    with gr.Tab("My history", id="history") as history_tab:
        gr.Markdown("Your past sessions, with your instructor's comments and rating.")
        with gr.Row():
            h_pick = gr.Dropdown([], label="Session", allow_custom_value=True)
            h_refresh = gr.Button("Refresh")
            h_open = gr.Button("Open", variant="primary")
        h_view = gr.HTML()
        h_progress = gr.HTML()
    with gr.Tab("Review", id="review", visible=False) as review_tab:
        with gr.Row():
            f_trainee = gr.Textbox(label="Trainee (username)")
            f_cohort = gr.Dropdown([], label="Cohort", allow_custom_value=True)
            f_scenario = gr.Dropdown([""] + scenario_ids, value="", label="Scenario", allow_custom_value=True)
            f_persona = gr.Dropdown([""] + persona_ids, value="", label="Persona", allow_custom_value=True)
        with gr.Row():
            f_level = gr.Dropdown([""] + list(LEVELS), value="", label="Coaching level")
            f_since = gr.Textbox(label="From (YYYY-MM-DD)")
            f_until = gr.Textbox(label="Until (YYYY-MM-DD)")
            f_sort = gr.Dropdown([(v, k) for k, v in SORTS.items()], value="newest", label="Sort")
            f_go = gr.Button("List sessions", variant="primary")
        f_count = gr.Markdown()
        table = gr.Dataframe(headers=TABLE_COLUMNS, interactive=False, wrap=True, label="Sessions")
        with gr.Row():
            pick = gr.Dropdown([], label="Session to open", allow_custom_value=True)
            open_btn = gr.Button("Open session", variant="primary")
        with gr.Row():
            x_format = gr.Radio([("JSON", "json"), ("CSV files (zip)", "csv")], value="json", label="Export the listed sessions as")
            x_go = gr.Button("Export listed sessions")
            x_report = gr.Button("HTML report of the open session")
        x_file = gr.File(label="Download")
        view = gr.HTML()
        with gr.Accordion("Correct a flag", open=True):
            with gr.Row():
                c_turn = gr.Dropdown([], label="Message", allow_custom_value=True)
                c_label = gr.Dropdown([(f"{PLAIN_WORDS[lb]} ({lb})", lb) for lb in LABELS], label="Label")
                c_verdict = gr.Radio(list(VERDICTS), value="reject", label="Verdict")
                c_apply = gr.Button("Apply")
        with gr.Accordion("Comment and rate", open=True):
            with gr.Row():
                m_turn = gr.Dropdown([("the whole session", "")], value="", label="On", allow_custom_value=True)
                m_text = gr.Textbox(label="Comment (the trainee sees it)", lines=2)
                m_add = gr.Button("Add comment")
            with gr.Row():
                r_rating = gr.Radio([1, 2, 3, 4, 5], label="Overall rating")
                r_note = gr.Textbox(label="Overall note", lines=2)
                r_save = gr.Button("Save rating")
    with gr.Tab("Cohorts and progress", id="cohorts", visible=False) as cohorts_tab:
        with gr.Row():
            k_name = gr.Textbox(label="New cohort name")
            k_create = gr.Button("Create cohort")
            k_refresh = gr.Button("Refresh")
        with gr.Row():
            k_cohort = gr.Dropdown([], label="Cohort", allow_custom_value=True)
            k_user = gr.Textbox(label="Username")
            k_action = gr.Radio([("add to cohort", "add"), ("remove from cohort", "remove")], value="add", label="")
            k_apply = gr.Button("Apply")
        k_list = gr.HTML()
        with gr.Row():
            p_trainee = gr.Textbox(label="Progress of trainee (username)")
            p_cohort = gr.Dropdown([], label="... or of cohort", allow_custom_value=True)
            p_go = gr.Button("Show progress", variant="primary")
        p_view = gr.HTML()

    with gr.Tab("Assessments", id="assessments", visible=False) as assess_tab:
        gr.Markdown("Define an assessment: every trainee meets the same person with the same seed, with no live "
                    "feedback and no taking back; the result is filed when the attempt ends.")
        with gr.Row():
            a_name = gr.Textbox(label="Name")
            a_scenario = gr.Dropdown(scenario_ids, label="Scenario", allow_custom_value=True)
            a_persona = gr.Dropdown(persona_ids, label=f"Person ({GROUP} for a conference, circle or mediation)",
                                    allow_custom_value=True)
            a_seed = gr.Number(value=1, precision=0, label="Seed")
        with gr.Row():
            a_open = gr.Number(value=50, label="Open questions at least (%)")
            a_rq = gr.Number(value=1.0, label="Reflections per question at least")
            a_acc = gr.Number(value=0, precision=0, label="Accusatory messages at most")
            a_msgs = gr.Number(value=6, precision=0, label="Messages at least")
            a_goals = gr.Checkbox(value=True, label="Scenario goals reached")
        with gr.Row():
            a_create = gr.Button("Create assessment", variant="primary")
            a_refresh = gr.Button("Refresh attempts")
        a_list = gr.HTML()
        with gr.Row():
            a_pick = gr.Dropdown([], label="Finished attempt", allow_custom_value=True)
            a_open_btn = gr.Button("Show result")
        a_view = gr.HTML()
        a_file = gr.File(label="Result report (HTML)")

    # wiring ------------------------------------------------------------------------------------
    a_create.click(assessment_define, [user_state, a_name, a_scenario, a_persona, a_seed, a_open, a_rq, a_acc, a_msgs,
                                       a_goals], [a_list, a_pick], api_name="assessment_create")
    a_refresh.click(assessment_overview, user_state, [a_list, a_pick], api_name="assessment_attempts")
    a_open_btn.click(assessment_result, [user_state, a_pick], [a_view, a_file], api_name="assessment_result")
    f_go.click(review_list, [user_state, f_trainee, f_cohort, f_scenario, f_persona, f_level, f_since, f_until, f_sort],
               [table, pick, f_count], api_name="review_list")
    filter_inputs = [f_trainee, f_cohort, f_scenario, f_persona, f_level, f_since, f_until]
    x_go.click(review_export, [user_state, *filter_inputs, x_format], x_file, api_name="review_export")
    x_report.click(review_report, [user_state, pick], x_file, api_name="review_report")
    open_btn.click(review_open, [user_state, pick], [view, c_turn, m_turn, r_rating, r_note], api_name="review_open")
    c_apply.click(review_correct, [user_state, pick, c_turn, c_label, c_verdict], view, api_name="review_correct")
    m_add.click(review_comment, [user_state, pick, m_turn, m_text], [view, m_text], api_name="review_comment")
    r_save.click(review_rate, [user_state, pick, r_rating, r_note], view, api_name="review_rate")
    k_create.click(cohort_new, [user_state, k_name], [k_list, k_cohort, p_cohort], api_name="cohort_create")
    k_apply.click(cohort_assign, [user_state, k_cohort, k_user, k_action], k_list, api_name="cohort_assign")
    k_refresh.click(cohorts_refresh, user_state, [k_list, k_cohort, p_cohort, f_cohort], api_name="cohorts")
    p_go.click(progress_of, [user_state, p_trainee, p_cohort], p_view, api_name="progress")
    h_refresh.click(history_list, user_state, [h_pick, h_progress], api_name="history")
    h_open.click(history_open, [user_state, h_pick], h_view, api_name="history_open")
    return {"review": review_tab, "cohorts": cohorts_tab, "history": history_tab, "assessments": assess_tab}
