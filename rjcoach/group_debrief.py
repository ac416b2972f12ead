"""The debrief of a facilitated conference, circle or mediation, and its part of the HTML report.

Everything a one-to-one debrief has (the rubric's session metrics, best and weakest moments with
rewrites, goals) plus facilitation: speaking shares, the stages taken and what happened in each,
neutrality toward either side, apologies and how they landed, and the agreement. Built from the
stored record only.
"""
from __future__ import annotations

import html

from rjcoach.coach import PriorTurn, session_metrics
from rjcoach.debrief import Debrief, GoalResult, rank_moments
from rjcoach.facilitation import Facilitation
from rjcoach.labels import ACCUSATORY
from rjcoach.persona_schema import Persona, Scenario
from rjcoach.store import PracticeSessionRow, StoredTurn

PALETTE = ("#2c7be5", "#c0392b", "#1e7e34", "#8e44ad", "#b8860b", "#16a085")
SIDE_WORDS = {"harmed": "the harmed party's side", "responsible": "the responsible party's side",
              "neutral": "community members", "everyone": "the whole group"}


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _labels(t: StoredTurn) -> frozenset[str]:
    return frozenset(t.analysis.get("labels", []))


def build_group_debrief(row: PracticeSessionRow, scenario: Scenario, personas: dict[str, Persona],
                        turns: list[StoredTurn]) -> Debrief:
    from rjcoach.group_session import _feeling_text, group_facilitation

    live = [t for t in turns if not t.rewound]
    metrics = session_metrics([PriorTurn(_labels(t), t.persona.get("emotion", "neutral"), _feeling_text(t))
                               for t in live])
    fac = group_facilitation(scenario, personas, turns)
    roster = [r.persona for r in scenario.roster]
    harmed = next(r.persona for r in scenario.roster if r.role == "harmed")
    timeline = []
    for t in live:
        states = t.persona.get("states", {})
        timeline.append({"position": t.position, "stage": t.persona.get("stage"),
                         "trust": states.get(harmed, {}).get("trust"),
                         "trusts": {p: states.get(p, {}).get("trust") for p in roster},
                         "labels": sorted(_labels(t)), "accusatory": bool(_labels(t) & ACCUSATORY),
                         "disclosure": t.persona.get("disclosure")})
    best, weakest = rank_moments(live)
    disclosures = [u.get("disclosure") for t in live for u in t.persona.get("utterances", []) if u.get("disclosure")]
    goals = _goals(scenario, personas, live, disclosures, fac)
    wanted = set(scenario.success)
    success = bool(goals) and all(g.reached for g in goals if g.id in wanted)
    final = live[-1].persona.get("states", {}) if live else {}
    group = {"participants": [{"id": p, "name": personas[p].name, "role": r.role,
                               "start": personas[p].start.model_dump(),
                               "end": final.get(p, personas[p].start.model_dump())}
                              for p, r in ((r.persona, r) for r in scenario.roster)],
             "format": scenario.format}
    names = ", ".join(personas[p].name for p in roster)
    return Debrief(row.id, f"the group ({names})", scenario.title, row.level, metrics, timeline, best, weakest,
                   goals, disclosures, success, sum(t.rewound for t in turns), personas[harmed].start.trust,
                   facilitation=fac, group=group)


def _goals(scenario: Scenario, personas: dict[str, Persona], live: list[StoredTurn], disclosures: list[str],
           fac: Facilitation) -> list[GoalResult]:
    """Goals of a group scenario. ``trust_at_least`` in a group means everyone in the room reached it
    at some point (the lowest of the participants' highest trust), a decision in docs/facilitation.md."""
    out = []
    for g in scenario.goals:
        if g.disclosure:
            reached = g.disclosure in disclosures
            out.append(GoalResult(g.id, g.description, reached, True, "disclosure made" if reached else "not reached"))
        elif g.label:
            n = sum(g.label in _labels(t) for t in live)
            out.append(GoalResult(g.id, g.description, n >= g.count, True, f"{n} of {g.count}"))
        elif g.agreement:
            out.append(GoalResult(g.id, g.description, fac.agreement_reached, True,
                                  f"{len(fac.agreed)} of {fac.agreement_required} items agreed by every party"))
        else:
            highs = {}
            for r in scenario.roster:
                seen = [t.persona.get("states", {}).get(r.persona, {}).get("trust") for t in live]
                highs[r.persona] = max([v for v in seen if v is not None] or [personas[r.persona].start.trust])
            low = min(highs, key=highs.get)
            out.append(GoalResult(g.id, g.description, highs[low] >= (g.trust_at_least or 0), True,
                                  f"lowest peak trust {highs[low]:.2f} ({personas[low].name}) of {g.trust_at_least:.2f}"))
    return out


# -- HTML --------------------------------------------------------------------------------------------
def shares_svg(fac: Facilitation) -> str:
    """Each participant's share of the words said, as bars, with the even share marked."""
    shares = fac.shares
    if not shares:
        return ""
    w, bar, pad = 640, 22, 170
    h = len(shares) * (bar + 8) + 24
    even = 1 / len(shares)
    top = max(max(shares.values()), even) * 1.1 or 1
    rows = []
    for i, (pid, share) in enumerate(shares.items()):
        y = 8 + i * (bar + 8)
        width = (w - pad - 60) * share / top
        rows.append(f'<text x="0" y="{y + 15}" font-size="12">{_e(fac.participants[pid])}</text>'
                    f'<rect x="{pad}" y="{y}" width="{width:.1f}" height="{bar}" fill="{PALETTE[i % len(PALETTE)]}"/>'
                    f'<text x="{pad + width + 6:.1f}" y="{y + 15}" font-size="12">{share * 100:.0f}% '
                    f'({fac.lines.get(pid, 0)} {"line" if fac.lines.get(pid, 0) == 1 else "lines"})</text>')
    x_even = pad + (w - pad - 60) * even / top
    return (f'<svg viewBox="0 0 {w} {h}" width="100%" style="max-width:{w}px" role="img" aria-label="speaking shares">{"".join(rows)}'
            f'<line x1="{x_even:.1f}" y1="0" x2="{x_even:.1f}" y2="{h - 16}" stroke="#555" stroke-dasharray="4"/>'
            f'<text x="{x_even + 4:.1f}" y="{h - 4}" font-size="10" fill="#555">even share</text></svg>')


def trust_lines_svg(d: Debrief) -> str:
    """Everyone's trust per facilitator message, one line each, stage changes marked."""
    if not d.timeline or not d.group:
        return "<p>No turns.</p>"
    w, h, pad = 640, 220, 30
    n = len(d.timeline)
    xs = [pad + (w - 2 * pad) * (i / max(1, n - 1)) for i in range(n)]

    def y(v):
        return h - pad - (h - 2 * pad) * (v or 0.0)

    out, legend = [], []
    for i, part in enumerate(d.group["participants"]):
        colour = PALETTE[i % len(PALETTE)]
        pts = " ".join(f"{x:.1f},{y(t['trusts'].get(part['id'])):.1f}" for x, t in zip(xs, d.timeline))
        out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"><title>{_e(part["name"])}</title></polyline>')
        legend.append(f'<text x="{pad + i * 150}" y="12" font-size="11" fill="{colour}">{_e(part["name"])}</text>')
    prev = None
    for x, t in zip(xs, d.timeline):
        if t["stage"] != prev and prev is not None:
            out.append(f'<line x1="{x:.1f}" y1="20" x2="{x:.1f}" y2="{h - pad}" stroke="#bbb" stroke-dasharray="3">'
                       f'<title>{_e(t["stage"])}</title></line>')
        if t["accusatory"]:
            out.append(f'<circle cx="{x:.1f}" cy="{h - pad + 8}" r="4" fill="#c0392b"><title>accusatory message, turn {t["position"]}</title></circle>')
        prev = t["stage"]
    return (f'<svg viewBox="0 0 {w} {h}" width="100%" style="max-width:{w}px" role="img" aria-label="trust per message, everyone">{"".join(legend)}'
            f'{"".join(out)}<text x="{pad}" y="{h - 4}" font-size="10" fill="#666">dashed: a new stage; red dot: an '
            f'accusatory message</text></svg>')


def facilitation_html(d: Debrief) -> str:
    """The facilitation part of the debrief (page and report)."""
    fac: Facilitation = d.facilitation  # type: ignore[assignment]
    if fac is None:
        return ""
    pct = lambda v: "n/a" if v is None else f"{v * 100:.0f}%"  # noqa: E731
    rows = [
        ("Everyone heard", "yes" if fac.everyone_heard else "no: " + ", ".join(
            fac.participants[p] for p in fac.participants if not fac.lines.get(p)), "everyone speaks"),
        ("Speaking balance", f"{fac.balance:.2f}", "1 = equal shares; below 0.5 someone was barely heard"),
        ("Questions that fit the stage", f"{fac.questions_fitting} of {fac.questions_to_someone} ({pct(fac.stage_fit_share)})",
         "put to the people the stage is for"),
        ("Summarised before moving on", f"{fac.moves_summarised} of {fac.moves} stage changes ({pct(fac.summarised_share)})",
         "a summary in the last two messages of a stage"),
        ("Neutral", "yes" if fac.neutral else "no: " + "; ".join(
            f"{n} toward {SIDE_WORDS[s]}" for s, n in fac.accusatory_by_side.items() if n), "no accusatory language toward either side"),
        ("Ground rules in the opening", "yes" if fac.ground_rules else "no", "how the meeting will go, one at a time"),
        ("Agreement", f"{len(fac.agreed)} of {fac.agreement_required} items needed"
         + (" (reached)" if fac.agreement_reached else " (not reached)"), "concrete items every party said yes to"),
    ]
    table = "".join(f"<tr><td>{_e(a)}</td><td>{_e(b)}</td><td>{_e(c)}</td></tr>" for a, b, c in rows)
    stages = "".join(
        f"<tr><td>{_e(s['title'])}</td><td>{s['messages']}</td><td>{_e(', '.join(fac.participants.get(p, p) for p in s['heard']) or 'nobody')}</td>"
        f"<td>{s['fitting']} of {s['questions']}</td><td>{s['restorative']}</td><td>{'yes' if s['summarised'] else 'no'}</td></tr>"
        for s in fac.stages)
    apologies = "".join(
        f"<li>\u201c{_e(a.get('text', ''))}\u201d: worded to {'land' if a.get('verdict') == 'lands' else 'half land' if a.get('verdict') == 'half' else 'fall flat'}"
        f"{_wording(a.get('wording') or {})}; answered: {_e(a.get('answer', 'no answer'))}</li>" for a in fac.apologies) \
        or "<li>No apology was invited.</li>"
    people = "".join(
        f"<tr><td>{_e(p['name'])}</td><td>{_e(p['role'])}</td><td>{p['start']['trust']:.2f} \u2192 {p['end']['trust']:.2f}</td>"
        f"<td>{p['start']['defensiveness']:.2f} \u2192 {p['end']['defensiveness']:.2f}</td></tr>"
        for p in (d.group or {}).get("participants", []))
    return (f"<h2>Facilitation</h2><table><tr><th>measure</th><th>value</th><th>guide</th></tr>{table}</table>"
            f"<h3>Speaking shares</h3>{shares_svg(fac)}"
            f"<h3>Stages</h3><table><tr><th>stage</th><th>your messages</th><th>heard</th><th>questions that fit</th>"
            f"<th>restorative questions</th><th>summarised</th></tr>{stages}</table>"
            f"<h3>Everyone's trust</h3>{trust_lines_svg(d)}"
            f"<table><tr><th>person</th><th>role</th><th>trust</th><th>defensiveness</th></tr>{people}</table>"
            f"<h3>Apologies</h3><ul>{apologies}</ul>")


def _wording(w: dict) -> str:
    if not w:
        return ""
    good = [name for key, name in (("says_sorry", "says sorry"), ("owns_it", "owns it"), ("names_harm", "names the harm"),
                                   ("repairs", "offers repair")) if w.get(key)]
    bad = (["an excuse"] if w.get("excuses") else []) + [x.replace("_", " ") for x in w.get("blaming_labels", [])]
    return _e(f" ({', '.join(good) or 'no apology words'}" + (f"; but {', '.join(bad)}" if bad else "") + ")")
