"""Progress over time, per trainee and per cohort: the rubric's session metrics, session by session.

Everything is computed from the reviewed labels (the model's flags with instructors' corrections
applied), so a corrected flag changes the figures an academy reports. A session counts once it
has at least one message that was not taken back; rewound messages are left out, as in the debrief.

The cohort line is the mean over trainees of their n-th session (n = 1, 2, ...), so trainees who
practise more do not outweigh the others at any one step; ``n`` says how many trainees each
point averages.
"""
from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from rjcoach.auth import Principal
from rjcoach.coach import OPEN_FAIR, OPEN_GOOD, RQ_FAIR, RQ_GOOD
from rjcoach.labels import ACCUSATORY, LABELS, PLAIN_WORDS
from rjcoach.review import AccessDenied, views, metrics_of, require_reviewer, visible_user_ids
from rjcoach.store import Store

# metric -> (title, fair line, good line, higher is better)
METRICS: dict[str, tuple[str, float, float, bool]] = {
    "rq_ratio": ("Reflections per question", RQ_FAIR, RQ_GOOD, True),
    "open_share": ("Share of open questions", OPEN_FAIR, OPEN_GOOD, True),
    "accusatory_rate": ("Share of accusatory messages (target 0)", 0.0, 0.0, False),
    "acknowledged_share": ("Feelings acknowledged in the next message", 0.5, 0.8, True),
}
TRIP_LABELS = tuple(label for label in LABELS if label in ACCUSATORY or label == "advice")
"""What a trainee 'trips on': accusatory labels and unasked advice."""


@dataclass(frozen=True)
class Point:
    session_id: str
    when: datetime
    scenario: str
    messages: int
    values: dict[str, float | None]


@dataclass(frozen=True)
class TraineeProgress:
    username: str
    points: list[Point]  # oldest first
    trips: list[tuple[str, int]]  # (label, messages carrying it), most frequent first
    messages: int

    @property
    def first(self) -> Point | None:
        return self.points[0] if self.points else None

    @property
    def latest(self) -> Point | None:
        return self.points[-1] if self.points else None


@dataclass(frozen=True)
class CohortProgress:
    name: str
    trainees: list[TraineeProgress]
    steps: list[dict[str, tuple[float | None, int]]]  # per n-th session: metric -> (mean, trainees averaged)
    first: dict[str, tuple[float | None, int]]
    latest: dict[str, tuple[float | None, int]]
    trips: list[tuple[str, int]]


def _mean(values: list[float | None]) -> tuple[float | None, int]:
    xs = [v for v in values if v is not None]
    return (statistics.fmean(xs) if xs else None), len(xs)


def _progress_of(store: Store, user) -> TraineeProgress:
    points, trips, messages = [], Counter(), 0
    for view in views(store, list(reversed(store.all_sessions([user.id])))):  # oldest first
        live = [t for t in view.turns if not t.turn.rewound]
        if not live:
            continue
        m = metrics_of(live)
        values = {name: getattr(m, name) for name in METRICS}
        points.append(Point(view.row.id, view.row.created_at, view.row.scenario_id, m.utterances, values))
        messages += len(live)
        for t in live:
            trips.update(label for label in TRIP_LABELS if label in t.labels)
    return TraineeProgress(user.username, points, trips.most_common(), messages)


def trainee_progress(store: Store, who: Principal, username: str) -> TraineeProgress:
    """A trainee's own progress, or a trainee that a reviewer may see."""
    user = store.user(username or "")
    if user is None or user.role != "trainee":
        raise AccessDenied(f"No trainee {username!r} that you may see.")
    allowed = visible_user_ids(store, who)
    if allowed is not None and user.id not in allowed:
        raise AccessDenied(f"No trainee {username!r} that you may see.")
    return _progress_of(store, user)


def cohort_progress(store: Store, who: Principal, name: str) -> CohortProgress:
    require_reviewer(who)
    cohort = store.cohort(name or "")
    members = store.members(cohort.id) if cohort else []
    if cohort is None or (who.role != "admin" and who.id not in {u.id for u in members}):
        raise AccessDenied(f"No cohort {name!r} that you may see.")
    trainees = [_progress_of(store, u) for u in members if u.role == "trainee"]
    longest = max((len(t.points) for t in trainees), default=0)
    steps = [{k: _mean([t.points[i].values[k] for t in trainees if len(t.points) > i]) for k in METRICS}
             for i in range(longest)]
    active = [t for t in trainees if t.points]
    first = {k: _mean([t.first.values[k] for t in active]) for k in METRICS}
    latest = {k: _mean([t.latest.values[k] for t in active]) for k in METRICS}
    trips = Counter()
    for t in trainees:
        trips.update(dict(t.trips))
    return CohortProgress(cohort.name, trainees, steps, first, latest, trips.most_common())


# -- drawing ------------------------------------------------------------------------------------
def line_svg(metric: str, series: list[tuple[str, list[float | None]]], width: int = 520, height: int = 180) -> str:
    """A small line plot of one metric over sessions, with the rubric's fair and good lines.

    ``series`` is (name, values by session number); a None value leaves a gap.
    """
    from html import escape

    title, fair, good, higher = METRICS[metric]
    values = [v for _, vs in series for v in vs if v is not None]
    top = max([1.0, *values, good * 1.1]) if metric == "rq_ratio" else 1.0
    n = max((len(vs) for _, vs in series), default=0)
    left, right, pad = 44, 10, 22

    def x(i: int) -> float:
        return left + (width - left - right) * (i / max(n - 1, 1))

    def y(v: float) -> float:
        return pad + (height - 2 * pad) * (1 - v / top)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{escape(title)} by session">',
             f'<text x="{left}" y="14" font-size="12" font-family="sans-serif">{escape(title)}</text>',
             f'<line x1="{left}" y1="{y(0):.1f}" x2="{width - right}" y2="{y(0):.1f}" stroke="#999"/>',
             f'<text x="4" y="{y(0) + 4:.1f}" font-size="10" font-family="sans-serif">0</text>',
             f'<text x="4" y="{y(top) + 4:.1f}" font-size="10" font-family="sans-serif">{top:g}</text>']
    if higher:
        for v, name, colour in ((fair, "fair", "#b8860b"), (good, "good", "#1e7e34")):
            parts.append(f'<line x1="{left}" y1="{y(v):.1f}" x2="{width - right}" y2="{y(v):.1f}" stroke="{colour}" '
                         f'stroke-dasharray="4 3"><title>{name}: {v:g}</title></line>')
            parts.append(f'<text x="{width - right - 28}" y="{y(v) - 3:.1f}" font-size="10" fill="{colour}" '
                         f'font-family="sans-serif">{name}</text>')
    palette = ("#2c7be5", "#c0392b", "#6f42c1", "#20c997", "#fd7e14", "#495057")
    for k, (name, vs) in enumerate(series):
        colour = palette[k % len(palette)]
        run: list[str] = []
        for i, v in enumerate(vs + [None]):
            if v is None:
                if len(run) > 1:
                    parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(run)}"/>')
                run = []
                continue
            run.append(f"{x(i):.1f},{y(min(v, top)):.1f}")
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(min(v, top)):.1f}" r="3" fill="{colour}">'
                         f'<title>{escape(name)}, session {i + 1}: {v:.2f}</title></circle>')
    for i in range(n):
        parts.append(f'<text x="{x(i) - 3:.1f}" y="{height - 6}" font-size="10" font-family="sans-serif">{i + 1}</text>')
    parts.append("</svg>")
    return "".join(parts)


def fmt_metric(metric: str, v: float | None) -> str:
    """A metric's value as shown: the ratio with two decimals, shares in percent."""
    if v is None:
        return "n/a"
    return f"{v:.2f}" if metric == "rq_ratio" else f"{v * 100:.0f}%"


def trainee_html(p: TraineeProgress) -> str:
    from html import escape

    if not p.points:
        return f"<p>{escape(p.username)} has no sessions with messages yet.</p>"
    rows = "".join(
        f"<tr><td>{escape(METRICS[k][0])}</td><td>{fmt_metric(k, p.first.values[k])}</td><td>{fmt_metric(k, p.latest.values[k])}</td></tr>"
        for k in METRICS)
    trips = "".join(f"<li>{escape(PLAIN_WORDS[label])} ({label}): {n} message(s)</li>" for label, n in p.trips[:5]) \
        or "<li>nothing flagged</li>"
    plots = "".join(line_svg(k, [(p.username, [pt.values[k] for pt in p.points])]) for k in METRICS)
    return (f"<h3>{escape(p.username)}: {len(p.points)} session(s), {p.messages} message(s)</h3>"
            f"<table class='rj-table'><tr><th>Metric</th><th>First session</th><th>Latest session</th></tr>{rows}</table>"
            f"<p><b>Trips on most</b></p><ul>{trips}</ul>{plots}")


def cohort_html(c: CohortProgress) -> str:
    from html import escape

    def cell(k, pair):
        v, n = pair
        return f"{fmt_metric(k, v)} <small>(n={n})</small>"

    rows = "".join(f"<tr><td>{escape(METRICS[k][0])}</td><td>{cell(k, c.first[k])}</td><td>{cell(k, c.latest[k])}</td></tr>"
                   for k in METRICS)
    trips = "".join(f"<li>{escape(PLAIN_WORDS[label])} ({label}): {n} message(s)</li>" for label, n in c.trips[:5]) \
        or "<li>nothing flagged</li>"
    plots = "".join(line_svg(k, [("cohort mean", [s[k][0] for s in c.steps])]) for k in METRICS)
    per = "".join(f"<li>{escape(t.username)}: {len(t.points)} session(s); trips on "
                  f"{escape(', '.join(PLAIN_WORDS[label] for label, _ in t.trips[:3]) or 'nothing')}</li>"
                  for t in c.trainees)
    return (f"<h3>Cohort {escape(c.name)}: {len(c.trainees)} trainee(s)</h3>"
            f"<table class='rj-table'><tr><th>Metric (mean over trainees)</th><th>First session</th>"
            f"<th>Latest session</th></tr>{rows}</table><p><b>Trips on most</b></p><ul>{trips}</ul>"
            f"<p>Each point is the mean over trainees of their n-th session.</p>{plots}<ul>{per}</ul>")
