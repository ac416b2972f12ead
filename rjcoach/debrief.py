"""The debrief at the end of a session, and its self-contained HTML report.

Built from the stored record only, so a resumed or reviewed session gives the same debrief.
Every piece of text from a trainee or a persona file is escaped: markup stays inert.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field

from rjcoach.coach import ACKNOWLEDGING, Metrics, PriorTurn, restorative_rewrite, session_metrics
from rjcoach.analysis import Analysis, Evidence
from rjcoach.labels import ACCUSATORY, LABELS, PLAIN_WORDS
from rjcoach.persona_schema import Persona, Scenario
from rjcoach.store import PracticeSessionRow, StoredTurn

GOOD = {"reflection": 1.0, "emotion_label": 1.0, "summary": 1.0, "validation": 1.0, "sympathy": 0.8,
        "restorative_question": 1.0, "open_question": 0.5, "encourager": 0.3}


@dataclass(frozen=True)
class Moment:
    position: int
    text: str
    labels: tuple[str, ...]
    persona_text: str
    score: float
    note: str
    rewrite: str | None = None


@dataclass(frozen=True)
class GoalResult:
    id: str
    description: str
    reached: bool
    applicable: bool
    detail: str


@dataclass
class Debrief:
    session_id: str
    persona_name: str
    scenario_title: str
    level: str
    metrics: Metrics
    timeline: list[dict]
    best: list[Moment]
    weakest: list[Moment]
    goals: list[GoalResult]
    disclosures: list[str]
    success: bool
    rewound: int
    start_trust: float
    notes: list[str] = field(default_factory=list)
    facilitation: object | None = None  # rjcoach.facilitation.Facilitation, for a group session
    group: dict | None = None  # the room: participants' names, roles, start and end states (group session)

    def bands(self) -> dict[str, str]:
        return {k: self.metrics.band(k) for k in ("rq_ratio", "open_share", "accusatory_rate")}


def _labels(t: StoredTurn) -> frozenset[str]:
    return frozenset(t.analysis.get("labels", []))


def build_debrief(row: PracticeSessionRow, persona: Persona, scenario: Scenario | None,
                  turns: list[StoredTurn]) -> Debrief:
    live = [t for t in turns if not t.rewound]
    prior = [PriorTurn(_labels(t), t.persona.get("emotion", "neutral"), t.persona_text) for t in live]
    metrics = session_metrics(prior)
    timeline = [
        {"position": t.position, "trust": t.persona.get("state", {}).get("trust"),
         "distress": t.persona.get("state", {}).get("distress"),
         "defensiveness": t.persona.get("state", {}).get("defensiveness"),
         "labels": sorted(_labels(t)), "accusatory": bool(_labels(t) & ACCUSATORY),
         "disclosure": t.persona.get("disclosure")}
        for t in live
    ]
    best, weakest = rank_moments(live)
    disclosures = [t.persona.get("disclosure") for t in live if t.persona.get("disclosure")]
    goals = _goals(scenario, persona, live, disclosures, row.seed)
    applicable = [g for g in goals if g.applicable]
    wanted = set(scenario.success) if scenario else set()
    success = bool(applicable) and all(g.reached for g in applicable if g.id in wanted)
    start = persona.start.trust
    return Debrief(row.id, persona.name, scenario.title if scenario else row.scenario_id, row.level, metrics,
                   timeline, best, weakest, goals, disclosures, success, sum(t.rewound for t in turns), start)


def rank_moments(live: list[StoredTurn]) -> tuple[list[Moment], list[Moment]]:
    """The two best and the two weakest messages, each with what made it so (and a rewrite)."""
    moments = []
    for i, t in enumerate(live):
        labels = _labels(t)
        score = sum(GOOD.get(label, 0.0) for label in labels) - 2.0 * len(labels & ACCUSATORY)
        note = ", ".join(PLAIN_WORDS[label] for label in LABELS if label in labels) or "no rubric label"
        missed = i > 0 and live[i - 1].persona.get("emotion", "neutral") != "neutral" and not labels & ACKNOWLEDGING
        if missed:
            score -= 1.0
            note += f"; the feeling in \u201c{live[i - 1].persona_text[:80]}\u201d went unacknowledged"
        a = Analysis(t.trainee_text, None, labels, {}, tuple(Evidence(**e) for e in t.analysis.get("evidence", [])))
        moments.append(Moment(t.position, t.trainee_text, tuple(sorted(labels)), t.persona_text, score, note,
                              restorative_rewrite(a)))
    ranked = sorted(moments, key=lambda m: (-m.score, m.position))
    best = [m for m in ranked if m.score > 0][:2]
    weakest = [m for m in sorted(moments, key=lambda m: (m.score, m.position)) if m.score < 0.5 and m not in best][:2]
    return best, weakest


def _goals(scenario, persona, live, disclosures, _seed) -> list[GoalResult]:
    if scenario is None:
        return []
    own = {d.id for d in persona.disclosures}
    max_trust = max([t.persona.get("state", {}).get("trust", 0.0) for t in live] or [persona.start.trust])
    out = []
    for g in scenario.goals:
        if g.disclosure:
            applicable = g.disclosure in own
            reached = g.disclosure in disclosures
            detail = "disclosure made" if reached else ("not reached" if applicable else "belongs to another person in this scenario")
        elif g.label:
            n = sum(g.label in _labels(t) for t in live)
            applicable, reached = True, n >= g.count
            detail = f"{n} of {g.count}"
        else:
            applicable, reached = True, max_trust >= (g.trust_at_least or 0)
            detail = f"highest trust {max_trust:.2f} of {g.trust_at_least:.2f}"
        out.append(GoalResult(g.id, g.description, reached, applicable, detail))
    return out


# -- HTML report -------------------------------------------------------------------------------
def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _fmt(v, pct=False) -> str:
    if v is None:
        return "n/a"
    return f"{v * 100:.0f}%" if pct else f"{v:.2f}"


def timeline_svg(timeline: list[dict], start: float) -> str:
    """Trust per turn as an inline SVG line, with accusatory turns and disclosures marked."""
    if not timeline:
        return "<p>No turns.</p>"
    w, h, pad = 640, 200, 30
    n = len(timeline)
    xs = [pad + (w - 2 * pad) * (i / max(1, n - 1 if n > 1 else 1)) for i in range(n)]

    def y(v):
        return h - pad - (h - 2 * pad) * (v or 0.0)

    pts = " ".join(f"{x:.1f},{y(t['trust']):.1f}" for x, t in zip(xs, timeline))
    marks = []
    for x, t in zip(xs, timeline):
        colour = "#c0392b" if t["accusatory"] else ("#8e44ad" if t["disclosure"] else "#2c7be5")
        title = _e(f"turn {t['position']}: trust {_fmt(t['trust'])}; " + (", ".join(t["labels"]) or "no label"))
        marks.append(f'<circle cx="{x:.1f}" cy="{y(t["trust"]):.1f}" r="5" fill="{colour}"><title>{title}</title></circle>')
    return (f'<svg viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="trust per turn">'
            f'<line x1="{pad}" y1="{y(start):.1f}" x2="{w - pad}" y2="{y(start):.1f}" stroke="#999" stroke-dasharray="4"/>'
            f'<text x="{pad}" y="{y(start) - 4:.1f}" font-size="10" fill="#666">start trust</text>'
            f'<polyline points="{pts}" fill="none" stroke="#2c7be5" stroke-width="2"/>{"".join(marks)}'
            f'<text x="{pad}" y="{h - 8}" font-size="10" fill="#666">red: accusatory; purple: disclosure</text></svg>')


def render_html(d: Debrief, turns: list[StoredTurn], trainee: str = "") -> str:
    m, bands = d.metrics, d.bands()
    rows = [
        ("Reflection-to-question ratio", _fmt(m.rq_ratio), "fair \u2265 1, good \u2265 2", bands["rq_ratio"]),
        ("Open questions", _fmt(m.open_share, pct=True), "fair \u2265 50%, good \u2265 70%", bands["open_share"]),
        ("Accusatory messages", f"{m.accusatory_utterances} of {m.utterances}", "target 0", bands["accusatory_rate"]),
        ("Empathy (validation, sympathy)", str(m.empathy), "", ""),
        ("Restorative questions", str(m.restorative), "", ""),
        ("Feelings acknowledged next turn", f"{m.disclosures_acknowledged} of {m.disclosures_offered}", "", ""),
    ]
    metric_rows = "".join(f"<tr><td>{_e(a)}</td><td>{_e(b)}</td><td>{_e(c)}</td><td class='{_e(dd)}'>{_e(dd)}</td></tr>" for a, b, c, dd in rows)
    goal_rows = "".join(
        f"<tr><td>{_e(g.description)}</td><td>{'reached' if g.reached else ('n/a' if not g.applicable else 'not reached')}</td><td>{_e(g.detail)}</td></tr>"
        for g in d.goals)

    def moments(ms):
        if not ms:
            return "<p>None.</p>"
        out = []
        for mo in ms:
            rw = f"<p class='rewrite'>Try: \u201c{_e(mo.rewrite)}\u201d</p>" if mo.rewrite else ""
            who = "" if d.facilitation is not None else f"{_e(d.persona_name.split()[0])}: "  # group lines carry names
            out.append(f"<div class='moment'><p><b>Turn {mo.position}</b>: \u201c{_e(mo.text)}\u201d</p>"
                       f"<p class='note'>{_e(mo.note)}</p><p class='reply'>{who}{_e(mo.persona_text)}</p>{rw}</div>")
        return "".join(out)

    transcript = []
    for t in turns:
        cls = "rewound" if t.rewound else ""
        labels = ", ".join(PLAIN_WORDS[label] for label in LABELS if label in t.analysis.get("labels", []))
        transcript.append(f"<div class='turn {cls}'><p class='you'><b>You</b>{' (tried again)' if t.rewound else ''}: {_e(t.trainee_text)}"
                          f"<br><span class='labels'>{_e(labels or 'no rubric label')}</span></p>"
                          + (f"<p class='them'>{_group_lines(t)}</p></div>" if d.facilitation is not None else
                             f"<p class='them'><b>{_e(d.persona_name)}</b>: {_e(t.persona_text)}</p></div>"))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rjcoach debrief</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>
body{{font-family:system-ui,sans-serif;max-width:860px;margin:2em auto;color:#222;line-height:1.45}}
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left}}
.good{{color:#1e7e34}}.fair{{color:#b8860b}}.below{{color:#c0392b}}.moment{{border-left:4px solid #2c7be5;padding-left:10px;margin:10px 0}}
.rewrite{{color:#1e7e34}}.note{{color:#555}}.labels{{color:#666;font-size:.9em}}.rewound{{opacity:.55}}
.turn{{border-bottom:1px solid #eee}}
</style></head><body>
<h1>Debrief: {_e(d.scenario_title)}</h1>
<p>With {_e(d.persona_name)} &middot; coaching level {_e(d.level)} &middot; {m.utterances} messages{(' &middot; ' + str(d.rewound) + ' tried again') if d.rewound else ''}
{(' &middot; trainee ' + _e(trainee)) if trainee else ''} &middot; session {_e(d.session_id)}</p>
<p><b>{'Scenario goals reached.' if d.success else 'Scenario goals not all reached.'}</b>
The rubric's thresholds are guides from expert practice, not norms; flags support an instructor's judgement.</p>
<h2>Session metrics</h2><table><tr><th>measure</th><th>value</th><th>guide</th><th></th></tr>{metric_rows}</table>
{_trust_part(d)}
<h2>Goals</h2><table><tr><th>goal</th><th>result</th><th>detail</th></tr>{goal_rows}</table>
<h2>Best moments</h2>{moments(d.best)}
<h2>Moments to practise</h2>{moments(d.weakest)}
<h2>Transcript</h2>{''.join(transcript)}
</body></html>"""


def _group_lines(t: StoredTurn) -> str:
    lines = t.persona.get("utterances") or []
    stage = t.persona.get("stage", "")
    head = f"<span class='labels'>[{_e(stage.replace('_', ' '))}]</span><br>" if stage else ""
    return head + "<br>".join(f"<b>{_e(u.get('name', ''))}</b>: {_e(u.get('text', ''))}" for u in lines)


def _trust_part(d: Debrief) -> str:
    if d.facilitation is not None:
        from rjcoach.group_debrief import facilitation_html

        return facilitation_html(d)
    return f"<h2>Trust over the conversation</h2>{timeline_svg(d.timeline, d.start_trust)}"


def summary_html(d: Debrief) -> str:
    """The debrief as a fragment for the app (the report is render_html)."""
    m = d.metrics
    bands = d.bands()

    def fmt(v, pct=False):
        return "n/a" if v is None else (f"{v * 100:.0f}%" if pct else f"{v:.2f}")

    goals = "".join(f"<li>{'&#10003;' if g.reached else '&#10007;'} {_e(g.description)} ({_e(g.detail)})</li>" for g in d.goals)
    best = "".join(f"<li>\u201c{_e(x.text)}\u201d: {_e(x.note)}</li>" for x in d.best) or "<li>none</li>"
    weak = "".join(f"<li>\u201c{_e(x.text)}\u201d: {_e(x.note)}" + (f"<br>Try: \u201c{_e(x.rewrite)}\u201d" if x.rewrite else "") + "</li>" for x in d.weakest) or "<li>none</li>"
    return (f"<h2>Debrief</h2><p>Reflections per question {fmt(m.rq_ratio)} ({bands['rq_ratio']}); open questions "
            f"{fmt(m.open_share, True)} ({bands['open_share']}); accusatory messages {m.accusatory_utterances} "
            f"({bands['accusatory_rate']}); empathy {m.empathy}; restorative questions {m.restorative}.</p>"
            + (_trust_part(d) if d.facilitation is not None else
               f"<h3>Trust and flags, turn by turn</h3>{timeline_svg(d.timeline, d.start_trust)}") +
            f"<h3>Goals</h3><ul>{goals}</ul><h3>Best moments</h3><ul>{best}</ul><h3>Moments to practise</h3><ul>{weak}</ul>")
