"""Exports: sessions as JSON or CSV, one session as an HTML report, corrections as training data.

The schema of every file is described in docs/export-schema.md (``SCHEMA_VERSION``). Access is
the review module's: ``who`` exports only the sessions it may see, and asking for a session it may
not see raises ``review.AccessDenied`` rather than leaving it out. The command line
(``rjcoach export ...``) runs on the agency's machine with database access and acts as an admin.

Labels are given twice for every message: what the model said, and the *reviewed* labels (the
model's with the instructor's corrections applied in order). Session metrics are computed from the
reviewed labels of the live (not rewound) messages.
"""
from __future__ import annotations

import csv
import html
import json
import os
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from rjcoach.auth import Principal
from rjcoach.labels import FAMILY_OF, LABELS, PLAIN_WORDS
from rjcoach.review import CLI_ADMIN, AccessDenied, reviewed_debrief, ReviewedTurn, SessionView, views, metrics_of, session_for, visible_user_ids
from rjcoach.store import PracticeSessionRow, Store, as_utc

SCHEMA_VERSION = 1
SCHEMA_NAME = "rjcoach-export"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
LABEL_SEP = ";"  # between label ids inside one CSV cell

METRIC_FIELDS = ("utterances", "reflections", "questions", "open_questions", "closed_questions", "rq_ratio",
                 "open_share", "accusatory_utterances", "accusatory_rate", "empathy", "restorative",
                 "disclosures_offered", "disclosures_acknowledged", "acknowledged_share")
STATE_FIELDS = ("trust", "distress", "defensiveness")


# -- which sessions ------------------------------------------------------------------------------
def select_sessions(store: Store, who: Principal, session_ids: list[str] | None = None,
                    trainee: str | None = None, cohort: str | None = None) -> list[PracticeSessionRow]:
    """The sessions to export, oldest first.

    With ``session_ids``, exactly those (each must be visible to ``who``, else AccessDenied); without,
    every session ``who`` may see. ``trainee`` (username) and ``cohort`` (name) narrow either list.
    """
    if not isinstance(who, Principal):
        raise AccessDenied("Sign in first.")
    if session_ids is not None:
        rows, seen = [], set()
        for sid in session_ids:
            row = session_for(store, who, sid)
            if row.id not in seen:
                seen.add(row.id)
                rows.append(row)
    else:
        rows = store.all_sessions(visible_user_ids(store, who))
    if trainee is not None:
        user = store.user(trainee)
        rows = [r for r in rows if user is not None and r.user_id == user.id]
    if cohort is not None:
        c = store.cohort(cohort)
        members = {u.id for u in store.members(c.id)} if c is not None else set()
        rows = [r for r in rows if r.user_id in members]
    return sorted(rows, key=lambda r: (as_utc(r.created_at), r.id))


# -- JSON ----------------------------------------------------------------------------------------
def export_json(store: Store, who: Principal, session_ids: list[str] | None = None, *,
                trainee: str | None = None, cohort: str | None = None) -> dict:
    """The versioned export document (see docs/export-schema.md)."""
    rows = select_sessions(store, who, session_ids, trainee, cohort)
    cohorts = store.cohort_names_by_user()
    return {
        "schema": SCHEMA_NAME,
        "schema_version": SCHEMA_VERSION,
        "exported_at": _iso(datetime.now(timezone.utc)),
        "sessions": [_session_doc(v, cohorts) for v in views(store, rows)],
    }


def write_json(path: Path | str, store: Store, who: Principal, session_ids: list[str] | None = None, *,
               trainee: str | None = None, cohort: str | None = None) -> int:
    """Write the export document to ``path`` (UTF-8); returns the number of sessions."""
    doc = export_json(store, who, session_ids, trainee=trainee, cohort=cohort)
    _atomic_write(Path(path), json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
    return len(doc["sessions"])


def _session_doc(v: SessionView, cohorts: dict[int, list[str]]) -> dict:
    r = v.row
    return {
        "id": r.id,
        "trainee": v.trainee,
        "cohorts": cohorts.get(r.user_id, []),
        "scenario": r.scenario_id,
        "persona": r.persona_id,
        "level": r.level,
        "source": r.source,
        "title": r.title,
        "status": r.status,
        "created_at": _iso(r.created_at),
        "ended_at": _iso(r.ended_at),
        "metrics": _metrics_doc(v),
        "review": _review_doc(v),
        "comments": [_comment_doc(c, v.authors) for c in v.session_comments],
        "turns": [_turn_doc(t, v.authors) for t in v.turns],
    }


def _metrics_doc(v: SessionView) -> dict:
    m = metrics_of([t for t in v.turns if not t.turn.rewound])
    return {name: _num(getattr(m, name)) for name in METRIC_FIELDS}


def _review_doc(v: SessionView) -> dict | None:
    if v.review is None:
        return None
    return {"rating": v.review.rating, "note": v.review.note, "reviewer": v.authors.get(v.review.reviewer_id, "?"),
            "updated_at": _iso(v.review.updated_at)}


def _comment_doc(c, authors: dict[int, str]) -> dict:
    return {"id": c.id, "author": authors.get(c.author_id, "?"), "text": c.text, "created_at": _iso(c.created_at)}


def _turn_doc(t: ReviewedTurn, authors: dict[int, str]) -> dict:
    s = t.turn
    a = s.analysis or {}
    tip, rewrite = _shown(s.feedback)
    persona = s.persona or {}
    state = persona.get("state") or {}
    return {
        "id": s.id,
        "position": s.position,
        "rewound": bool(s.rewound),
        "trainee_text": s.trainee_text,
        "context": a.get("context"),
        "model_labels": _ordered(t.model_labels),
        "scores": {k: _num(v) for k, v in (a.get("scores") or {}).items()},
        "evidence": list(a.get("evidence") or []),
        "reviewed_labels": _ordered(t.labels),
        "corrections": [{"label": c.label, "verdict": c.verdict, "reviewer": authors.get(c.reviewer_id, "?"),
                         "created_at": _iso(c.created_at)} for c in t.corrections],
        "comments": [_comment_doc(c, authors) for c in t.comments],
        "tip": tip,
        "rewrite": rewrite,
        "persona_text": s.persona_text,
        "persona_speaker": persona.get("speaker"),
        "persona_emotion": persona.get("emotion"),
        "persona_state": {k: _num(state[k]) for k in STATE_FIELDS if state.get(k) is not None},
    }


def _shown(feedback: dict | None) -> tuple[dict | None, str | None]:
    """The tip and rewrite the trainee saw (none at the assessment level, where nothing is shown)."""
    fb = feedback or {}
    if fb.get("level") == "assessment":
        return None, None
    tip = fb.get("tip")
    return (dict(tip) if isinstance(tip, dict) else None), fb.get("rewrite")


# -- CSV -----------------------------------------------------------------------------------------
SESSION_COLUMNS = ("session_id", "trainee", "cohorts", "scenario", "persona", "level", "source", "title", "status",
                   "created_at", "ended_at", "messages", "rewound", *METRIC_FIELDS, "corrections", "comments",
                   "rating", "review_note", "reviewer")
TURN_COLUMNS = ("session_id", "turn_id", "position", "rewound", "trainee_text", "context", "model_labels",
                "reviewed_labels", "tip_kind", "tip_text", "rewrite", "persona_text", "persona_emotion", *STATE_FIELDS)
FLAG_COLUMNS = ("session_id", "turn_id", "label", "family", "score", "source", "status")
CORRECTION_COLUMNS = ("correction_id", "session_id", "turn_id", "label", "family", "verdict", "reviewer", "created_at")
COMMENT_COLUMNS = ("comment_id", "session_id", "turn_id", "author", "text", "created_at")


def safe_cell(value):
    """A CSV cell a spreadsheet will not run: text starting with = + - @ tab or CR gets a leading '.

    Numbers (and None, written as an empty cell) are returned unchanged; only text is escaped.
    """
    if value is None or isinstance(value, (bool, int, float)):
        return int(value) if isinstance(value, bool) else value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def write_csv(folder: Path | str, store: Store, who: Principal, session_ids: list[str] | None = None, *,
              trainee: str | None = None, cohort: str | None = None) -> dict[str, int]:
    """Write sessions.csv, turns.csv, flags.csv, corrections.csv and comments.csv into ``folder``.

    Returns the number of data rows written per file name.
    """
    rows = select_sessions(store, who, session_ids, trainee, cohort)
    cohorts = store.cohort_names_by_user()
    tables: dict[str, tuple[tuple[str, ...], list[tuple]]] = {
        "sessions.csv": (SESSION_COLUMNS, []), "turns.csv": (TURN_COLUMNS, []), "flags.csv": (FLAG_COLUMNS, []),
        "corrections.csv": (CORRECTION_COLUMNS, []), "comments.csv": (COMMENT_COLUMNS, []),
    }
    for v in views(store, rows):
        r, names = v.row, v.authors
        live = [t for t in v.turns if not t.turn.rewound]
        m = metrics_of(live)
        all_comments = list(v.session_comments) + [c for t in v.turns for c in t.comments]
        tables["sessions.csv"][1].append((
            r.id, v.trainee, "; ".join(cohorts.get(r.user_id, [])), r.scenario_id, r.persona_id, r.level, r.source,
            r.title, r.status, _iso(r.created_at), _iso(r.ended_at), len(live), len(v.turns) - len(live),
            *(_num(getattr(m, f)) for f in METRIC_FIELDS), sum(len(t.corrections) for t in v.turns),
            len(all_comments), v.review.rating if v.review else None, v.review.note if v.review else None,
            names.get(v.review.reviewer_id, "?") if v.review else None))
        for t in v.turns:
            s = t.turn
            a = s.analysis or {}
            tip, rewrite = _shown(s.feedback)
            state = (s.persona or {}).get("state") or {}
            tables["turns.csv"][1].append((
                r.id, s.id, s.position, bool(s.rewound), s.trainee_text, a.get("context"),
                LABEL_SEP.join(_ordered(t.model_labels)), LABEL_SEP.join(_ordered(t.labels)),
                tip.get("kind") if tip else None, tip.get("text") if tip else None, rewrite, s.persona_text,
                (s.persona or {}).get("emotion"), *(_num(state.get(k)) for k in STATE_FIELDS)))
            scores = a.get("scores") or {}
            for label, source, status in flag_statuses(t):
                tables["flags.csv"][1].append((r.id, s.id, label, FAMILY_OF[label], _num(scores.get(label)),
                                               source, status))
            for c in t.corrections:
                tables["corrections.csv"][1].append((c.id, r.id, s.id, c.label, FAMILY_OF.get(c.label), c.verdict,
                                                     names.get(c.reviewer_id, "?"), _iso(c.created_at)))
        for c in sorted(all_comments, key=lambda c: c.id):
            tables["comments.csv"][1].append((c.id, r.id, c.turn_id, names.get(c.author_id, "?"), c.text,
                                              _iso(c.created_at)))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, (columns, data) in tables.items():
        with (folder / name).open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(columns)
            w.writerows([safe_cell(x) for x in row] for row in data)
    return {name: len(data) for name, (_, data) in tables.items()}


def flag_statuses(t: ReviewedTurn) -> list[tuple[str, str, str]]:
    """(label, source, status) per model flag and per label an instructor added, in rubric order.

    A model flag is ``kept`` (no correction), ``confirmed`` (the last correction on it confirmed or
    re-added it) or ``rejected``; a label the model did not flag but the reviewed set has is ``added``.
    """
    last = {c.label: c.verdict for c in t.corrections}
    out = []
    for label in LABELS:
        if label in t.model_labels:
            status = "rejected" if label not in t.labels else ("confirmed" if label in last else "kept")
            out.append((label, "model", status))
        elif label in t.labels:
            out.append((label, "instructor", "added"))
    return out


# -- HTML report ---------------------------------------------------------------------------------
def session_report_html(store: Store, library, who: Principal, session_id: str) -> str:
    """A self-contained HTML report of one session, with the instructor's review.

    App sessions whose persona is in ``library`` get the trainee's debrief (built from the reviewed
    labels) plus the review; imported sessions (or a persona no longer available) get a plain
    transcript report. Every piece of stored text is escaped.
    """
    from rjcoach.debrief import render_html

    row = session_for(store, who, session_id)
    v = views(store, [row])[0]
    rebuilt = reviewed_debrief(v, library)
    if rebuilt is None:
        return _plain_report(v)
    debrief, turns = rebuilt
    page = render_html(debrief, turns, v.trainee)
    head, sep, tail = page.rpartition("</body>")
    return head + _review_html(v) + sep + tail


def _e(x) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def _plain(labels) -> str:
    return ", ".join(PLAIN_WORDS[label] for label in LABELS if label in labels)


def _review_html(v: SessionView) -> str:
    names = v.authors
    parts = ["<h2>Instructor review</h2>",
             "<p class='labels'>Labels in this report are the reviewed labels: the analyser's, with the "
             "instructor's corrections applied.</p>"]
    if v.review is not None:
        parts.append(f"<p><b>Rating</b>: {_e(v.review.rating)} of 5 &middot; <b>reviewer</b>: "
                     f"{_e(names.get(v.review.reviewer_id, '?'))}</p>")
        if v.review.note:
            parts.append(f"<p class='note'><b>Note</b>: {_e(v.review.note)}</p>")
    else:
        parts.append("<p>Not rated yet.</p>")
    items = [f"<li><b>{_e(names.get(c.author_id, '?'))}</b> ({_e(_iso(c.created_at))}): {_e(c.text)}</li>"
             for c in v.session_comments]
    for t in v.turns:
        items += [f"<li><b>{_e(names.get(c.author_id, '?'))}</b> on turn {t.turn.position} "
                  f"(\u201c{_e(t.turn.trainee_text[:80])}\u201d, {_e(_iso(c.created_at))}): {_e(c.text)}</li>"
                  for c in t.comments]
    parts.append(f"<h3>Comments</h3><ul>{''.join(items)}</ul>" if items else "<h3>Comments</h3><p>None.</p>")
    changes = []
    for t in v.turns:
        for label, _, status in flag_statuses(t):
            if status in ("rejected", "added"):
                changes.append(f"<li>Turn {t.turn.position}: {_e(PLAIN_WORDS[label])} {status}</li>")
    if changes:
        parts.append(f"<h3>Flags the instructor changed</h3><ul>{''.join(changes)}</ul>")
    return "".join(parts) + "\n"


def _plain_report(v: SessionView) -> str:
    r = v.row
    m = metrics_of([t for t in v.turns if not t.turn.rewound])

    def f(x, pct=False):
        return "n/a" if x is None else (f"{x * 100:.0f}%" if pct else f"{x:.2f}")

    metric_rows = [
        ("Messages", m.utterances), ("Reflection-to-question ratio", f(m.rq_ratio)),
        ("Open questions", f(m.open_share, pct=True)),
        ("Accusatory messages", f"{m.accusatory_utterances} of {m.utterances}"),
        ("Empathy (validation, sympathy)", m.empathy), ("Restorative questions", m.restorative),
        ("Feelings acknowledged next turn", f"{m.disclosures_acknowledged} of {m.disclosures_offered}"),
    ]
    turns = []
    for t in v.turns:
        statuses = flag_statuses(t)
        rejected = [label for label, _, s in statuses if s == "rejected"]
        added = [label for label, _, s in statuses if s == "added"]
        changed = ""
        if rejected or added:
            changed = (" <span class='changed'>(instructor: " + "; ".join(
                x for x in (f"removed {_plain(rejected)}" if rejected else "",
                            f"added {_plain(added)}" if added else "") if x) + ")</span>")
        comments = "".join(f"<p class='comment'><b>{_e(v.authors.get(c.author_id, '?'))}</b>: {_e(c.text)}</p>"
                           for c in t.comments)
        speaker = (t.turn.persona or {}).get("speaker") or "Other person"
        reply = f"<p class='them'><b>{_e(speaker)}</b>: {_e(t.turn.persona_text)}</p>" if t.turn.persona_text else ""
        turns.append(
            f"<div class='turn{' rewound' if t.turn.rewound else ''}'><p class='you'><b>Turn {t.turn.position}</b>"
            f"{' (tried again)' if t.turn.rewound else ''}: {_e(t.turn.trainee_text)}<br>"
            f"<span class='labels'>{_e(_plain(t.labels) or 'no rubric label')}</span>{changed}</p>"
            f"{comments}{reply}</div>")
    title = r.title or f"{r.scenario_id} / {r.persona_id}"
    metrics_html = "".join(f"<tr><td>{_e(a)}</td><td>{_e(b)}</td></tr>" for a, b in metric_rows)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rjcoach session report</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>
body{{font-family:system-ui,sans-serif;max-width:860px;margin:2em auto;color:#222;line-height:1.45}}
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left}}
.labels{{color:#666;font-size:.9em}}.changed{{color:#b8860b;font-size:.9em}}.rewound{{opacity:.55}}
.comment{{border-left:4px solid #2c7be5;padding-left:10px;color:#333}}.turn{{border-bottom:1px solid #eee}}
</style></head><body>
<h1>Session report: {_e(title)}</h1>
<p>Trainee {_e(v.trainee)} &middot; {_e(r.source)} session &middot; scenario {_e(r.scenario_id)} &middot;
persona {_e(r.persona_id)} &middot; {_e(_iso(r.created_at))} &middot; session {_e(r.id)}</p>
<p>The rubric's thresholds are guides from expert practice, not norms; flags support an instructor's judgement.</p>
<h2>Session metrics (reviewed labels)</h2>
<table><tr><th>measure</th><th>value</th></tr>{metrics_html}</table>
{_review_html(v)}<h2>Transcript</h2>{''.join(turns) or '<p>No messages.</p>'}
</body></html>"""


# -- corrections as training data ----------------------------------------------------------------
def corrections_utterances(store: Store) -> tuple[list, list[str]]:
    """Every corrected trainee message as an ``Utterance``, and a reason for each one left out.

    A message an instructor corrected counts as fully reviewed: its reviewed label set is the truth
    for all 17 labels. Lines the training loader would refuse are left out (and named): text or
    context beyond the schema's limits, a label set that breaks a rubric rule, and the same words
    coded differently (the most recently corrected coding is kept) or repeated with the same context.
    """
    from pydantic import ValidationError

    from rjcoach.dataset import Utterance, normalise, rubric_problems
    from rjcoach.review import reviewed_labels

    by_turn: dict[int, list] = {}
    for c in store.corrections():
        by_turn.setdefault(c.turn_id, []).append(c)
    sessions: dict[str, dict] = {}
    candidates = []  # (latest correction id, Utterance)
    skipped: list[str] = []
    for turn_id, cs in sorted(by_turn.items()):
        sid = store.turn_session(turn_id)
        if sid is None:
            continue
        if sid not in sessions:
            sessions[sid] = {t.id: t for t in store.turns(sid, include_rewound=True)}
        t = sessions[sid][turn_id]
        a = t.analysis or {}
        labels = reviewed_labels(a.get("labels", []), cs)
        row = {"id": f"corr-{turn_id}", "text": t.trainee_text, "context": a.get("context") or None,
               "labels": _ordered(labels), "setting": "other", "speaker": "none",
               "note": f"session {sid}, message {t.position}: labels reviewed by an instructor"}
        try:
            u = Utterance.model_validate(row)
        except ValidationError as exc:
            skipped.append(f"corr-{turn_id}: " + "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()))
            continue
        errors, _ = rubric_problems(u)
        if errors:
            skipped.append(f"corr-{turn_id}: reviewed labels break a rubric rule: {'; '.join(errors)}")
            continue
        candidates.append((max(c.id for c in cs), u))
    by_text: dict[str, list] = {}
    for latest, u in candidates:
        by_text.setdefault(normalise(u.text), []).append((latest, u))
    kept = []
    for group in by_text.values():
        group.sort(key=lambda x: -x[0])  # the most recent instructor decision first
        truth = group[0][1].labels
        contexts: set[str] = set()
        for _, u in group:
            ctx = (u.context or "").strip().lower()
            if u.labels != truth:
                skipped.append(f"{u.id}: the same words were coded differently in {group[0][1].id} "
                               "(reviewed more recently, kept)")
            elif ctx in contexts:
                skipped.append(f"{u.id}: the same words and context are already in the file")
            else:
                contexts.add(ctx)
                kept.append(u)
    kept.sort(key=lambda u: int(u.id.split("-", 1)[1]))
    return kept, skipped


def export_corrections(store: Store, out_path: Path | str, log=None) -> int:
    """Write every corrected trainee message as a JSON line (``rjcoach.dataset`` schema).

    Rewound messages count too. Each line is validated with ``Utterance`` before writing; the file
    is replaced as a whole. ``log`` (if given) is called with one message per line left out.
    Returns the number of lines written.
    """
    items, skipped = corrections_utterances(store)
    for reason in skipped:
        if log is not None:
            log(f"left out {reason}")
    lines = [json.dumps(u.model_dump(exclude_none=True), ensure_ascii=False) for u in items]
    _atomic_write(Path(out_path), "".join(line + "\n" for line in lines))
    return len(lines)


# -- command line --------------------------------------------------------------------------------
def register_cli(subparsers) -> None:
    """Add ``rjcoach export`` (corrections, sessions, report) to the main parser's sub-commands."""
    import argparse

    db = argparse.ArgumentParser(add_help=False)
    db.add_argument("--database-url", help="SQLAlchemy URL (default: RJCOACH_DATABASE_URL or data/runs)")
    p = subparsers.add_parser("export", help="export sessions, reports and reviewed training data (as admin)")
    esub = p.add_subparsers(dest="export_command", required=True)

    c = esub.add_parser("corrections", parents=[db],
                        help="corrected trainee messages as training data (the 'corrections' source)")
    c.add_argument("--out", help="JSONL file (default: data/corrections/corrections.jsonl, "
                                 "or RJCOACH_CORRECTIONS_DIR/corrections.jsonl)")
    c.set_defaults(func=cmd_export_corrections)

    s = esub.add_parser("sessions", parents=[db], help="sessions with turns, flags, corrections and comments")
    s.add_argument("--format", required=True, choices=["csv", "json"])
    s.add_argument("--out", required=True, help="a .json file, or a folder for the CSV files")
    s.add_argument("--trainee", help="only this trainee's sessions (username)")
    s.add_argument("--cohort", help="only sessions of this cohort's members (name)")
    s.set_defaults(func=cmd_export_sessions)

    r = esub.add_parser("report", parents=[db], help="one session as a self-contained HTML report")
    r.add_argument("session_id")
    r.add_argument("--out", required=True, help="FILE.html")
    r.set_defaults(func=cmd_export_report)


def _fail(msg: str) -> int:
    print(f"rjcoach export: {msg}", file=sys.stderr)
    return 2


def cmd_export_corrections(args) -> int:
    from rjcoach.sources import corrections_dir
    from rjcoach.store import StoreError

    out = Path(args.out) if args.out else corrections_dir() / "corrections.jsonl"
    try:
        n = export_corrections(Store(args.database_url), out, log=lambda m: print(m, file=sys.stderr))
    except (StoreError, OSError) as exc:
        return _fail(str(exc))
    print(f"wrote {n} reviewed messages to {out}")
    return 0


def cmd_export_sessions(args) -> int:
    from rjcoach.store import StoreError

    try:
        store = Store(args.database_url)
        if args.trainee and store.user(args.trainee) is None:
            return _fail(f"no user {args.trainee!r}")
        if args.cohort and store.cohort(args.cohort) is None:
            return _fail(f"no cohort {args.cohort!r}")
        if args.format == "json":
            n = write_json(args.out, store, CLI_ADMIN, trainee=args.trainee, cohort=args.cohort)
            print(f"wrote {n} sessions to {args.out}")
        else:
            counts = write_csv(args.out, store, CLI_ADMIN, trainee=args.trainee, cohort=args.cohort)
            print(f"wrote {counts['sessions.csv']} sessions to {args.out}/ ("
                  + ", ".join(f"{k}: {v} rows" for k, v in counts.items()) + ")")
    except (StoreError, OSError) as exc:
        return _fail(str(exc))
    return 0


def cmd_export_report(args) -> int:
    from rjcoach.persona_loader import load_folder
    from rjcoach.store import StoreError

    try:
        page = session_report_html(Store(args.database_url), load_folder(), CLI_ADMIN, args.session_id)
        _atomic_write(Path(args.out), page)
    except (StoreError, OSError, AccessDenied) as exc:
        return _fail(str(exc))
    print(f"wrote {args.out}")
    return 0


# -- helpers -------------------------------------------------------------------------------------
def _ordered(labels) -> list[str]:
    return [label for label in LABELS if label in labels]


def _iso(dt: datetime | None) -> str | None:
    """ISO 8601 in UTC, or None."""
    return None if dt is None else as_utc(dt).isoformat()


def _num(x):
    """Floats rounded to 4 places; ints, None and the rest unchanged."""
    return round(x, 4) if isinstance(x, float) else x


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
