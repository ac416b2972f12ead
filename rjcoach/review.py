"""Instructor review: who may see which session, corrections, comments, ratings, and listings.

Access is decided here, on the server, for every call; the UI and the command line only call
these functions. The rules:

- an admin sees every session;
- an instructor sees the sessions of trainees in the cohorts the instructor belongs to;
- a trainee sees only their own sessions (and the comments on them), and changes nothing here.

A session that exists but may not be seen gets the same answer as one that does not exist.
Corrections are stored beside the model's output, never over it; a message's *reviewed* labels
are the model's labels with the corrections applied in the order they were made.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

from rjcoach.auth import Principal
from rjcoach.coach import PriorTurn, session_metrics
from rjcoach.labels import FAMILY_OF, LABELS
from rjcoach.store import PracticeSessionRow, Store, StoredTurn, as_utc

VERDICTS = ("confirm", "reject", "add")
REVIEWERS = ("instructor", "admin")
MAX_COMMENT_CHARS = 2000
MAX_NOTE_CHARS = 4000
RATINGS = (1, 2, 3, 4, 5)
CLI_ADMIN = Principal(0, "(command line)", "admin")
"""Who the command line acts as: it runs on the agency's machine with the database's credentials."""
SORTS = {
    "newest": "newest first",
    "oldest": "oldest first",
    "most_accusatory": "most accusatory first",
    "lowest_rq": "lowest reflection-to-question ratio first",
    "lowest_open": "lowest share of open questions first",
    "most_corrected": "most corrections first",
    "unreviewed": "not yet rated first",
}


class AccessDenied(PermissionError):
    """The caller may not do this; the message is safe to show and reveals nothing about others."""


class ReviewError(ValueError):
    """A review input is not valid; the message names the field and the limit."""


# -- who sees what ----------------------------------------------------------------------------
def visible_user_ids(store: Store, who: Principal) -> list[int] | None:
    """The users whose sessions ``who`` may see; None means everyone (admin)."""
    if who.role == "admin":
        return None
    if who.role == "instructor":
        ids: set[int] = set()
        for cohort in store.cohorts_of(who.id):
            ids.update(u.id for u in store.members(cohort.id) if u.role == "trainee")
        return sorted(ids)
    return [who.id]


def can_see(store: Store, who: Principal, row: PracticeSessionRow) -> bool:
    allowed = visible_user_ids(store, who)
    return allowed is None or row.user_id in allowed


def session_for(store: Store, who: Principal, session_id: str) -> PracticeSessionRow:
    """The session if ``who`` may see it; otherwise AccessDenied (also for a missing session)."""
    row = store.session(session_id) if isinstance(session_id, str) and session_id else None
    if row is None or not can_see(store, who, row):
        raise AccessDenied("No such session that you may see.")
    return row


def require_reviewer(who: Principal) -> None:
    if not isinstance(who, Principal) or who.role not in REVIEWERS:
        raise AccessDenied("Only instructors and admins can do that.")


def reviewable(store: Store, who: Principal, session_id: str) -> PracticeSessionRow:
    require_reviewer(who)
    return session_for(store, who, session_id)


# -- cohorts ----------------------------------------------------------------------------------
COHORT_NAME_MAX = 64


def create_cohort(store: Store, who: Principal, name: str) -> int:
    """Admins and instructors create cohorts; an instructor who creates one belongs to it."""
    require_reviewer(who)
    name = (name or "").strip()
    if not name or len(name) > COHORT_NAME_MAX:
        raise ReviewError(f"cohort name: 1 to {COHORT_NAME_MAX} characters")
    if store.cohort(name) is not None:
        raise ReviewError(f"cohort {name!r} already exists")
    cid = store.create_cohort(name)
    if who.role == "instructor":
        store.add_member(cid, who.id)
    return cid


def _managed_cohort(store: Store, who: Principal, name: str):
    require_reviewer(who)
    cohort = store.cohort(name or "")
    if cohort is None or (who.role != "admin" and who.id not in {u.id for u in store.members(cohort.id)}):
        raise AccessDenied(f"No cohort {name!r} that you manage.")
    return cohort


def assign(store: Store, who: Principal, cohort_name: str, username: str) -> bool:
    """Put a trainee (or, for an admin, an instructor) in a cohort; False if already there."""
    cohort = _managed_cohort(store, who, cohort_name)
    user = store.user(username or "")
    if user is None:
        raise ReviewError(f"no user {username!r}")
    if user.role == "admin" or (user.role == "instructor" and who.role != "admin"):
        raise ReviewError(f"{username!r} is {user.role}: only an admin assigns instructors, and admins see everything already")
    return store.add_member(cohort.id, user.id)


def unassign(store: Store, who: Principal, cohort_name: str, username: str) -> bool:
    cohort = _managed_cohort(store, who, cohort_name)
    user = store.user(username or "")
    if user is None:
        raise ReviewError(f"no user {username!r}")
    if user.role == "instructor" and who.role != "admin":
        raise ReviewError("only an admin removes instructors from a cohort")
    return store.remove_member(cohort.id, user.id)


def managed_cohorts(store: Store, who: Principal) -> list:
    require_reviewer(who)
    return store.cohorts() if who.role == "admin" else store.cohorts_of(who.id)


# -- corrections ------------------------------------------------------------------------------
def reviewed_labels(model_labels: Iterable[str], corrections: Iterable) -> frozenset[str]:
    """The model's labels with an instructor's corrections applied in order (the last word wins)."""
    labels = set(model_labels)
    for c in corrections:
        if c.verdict == "reject":
            labels.discard(c.label)
        else:  # confirm or add: the label is there
            labels.add(c.label)
    return frozenset(labels)


def correct(store: Store, who: Principal, turn_id: int, label: str, verdict: str) -> int:
    """Confirm, reject or add one rubric label on one trainee message."""
    if verdict not in VERDICTS:
        raise ReviewError(f"verdict must be one of {', '.join(VERDICTS)}, not {verdict!r}")
    if label not in FAMILY_OF:
        raise ReviewError(f"label {label!r} is not a rubric id; choose from {', '.join(LABELS)}")
    session_id = store.turn_session(int(turn_id)) if str(turn_id).isdigit() else None
    if session_id is None:
        raise AccessDenied("No such message that you may review.")
    reviewable(store, who, session_id)
    return store.add_correction(int(turn_id), label, verdict, who.id)


def comment(store: Store, who: Principal, session_id: str, text: str, turn_id: int | None = None) -> int:
    reviewable(store, who, session_id)
    text = (text or "").strip()
    if not text:
        raise ReviewError("comment: write something first (an empty comment is not saved)")
    if len(text) > MAX_COMMENT_CHARS:
        raise ReviewError(f"comment: {len(text)} characters; the limit is {MAX_COMMENT_CHARS}")
    if turn_id is not None and store.turn_session(int(turn_id)) != session_id:
        raise ReviewError(f"comment: message {turn_id} is not in this session")
    return store.add_comment(session_id, turn_id, who.id, text)


def rate(store: Store, who: Principal, session_id: str, rating: int, note: str = "") -> None:
    reviewable(store, who, session_id)
    try:
        rating = int(rating)
    except (TypeError, ValueError):
        raise ReviewError(f"rating: a whole number from {RATINGS[0]} to {RATINGS[-1]}, not {rating!r}") from None
    if rating not in RATINGS:
        raise ReviewError(f"rating: a whole number from {RATINGS[0]} to {RATINGS[-1]}, not {rating}")
    note = (note or "").strip()
    if len(note) > MAX_NOTE_CHARS:
        raise ReviewError(f"note: {len(note)} characters; the limit is {MAX_NOTE_CHARS}")
    store.set_review(session_id, who.id, rating, note)


# -- one session, as a reviewer (or its trainee) sees it ---------------------------------------
@dataclass(frozen=True)
class ReviewedTurn:
    turn: StoredTurn
    model_labels: frozenset[str]
    labels: frozenset[str]  # after corrections
    corrections: tuple  # FlagCorrection rows, oldest first
    comments: tuple  # Comment rows on this message

    def reviewed(self) -> StoredTurn:
        """The stored turn with the reviewed labels (evidence only for labels still there)."""
        from dataclasses import replace

        a = dict(self.turn.analysis or {})
        a["labels"] = [label for label in LABELS if label in self.labels]
        a["evidence"] = [e for e in a.get("evidence") or [] if e.get("label") in self.labels]
        return replace(self.turn, analysis=a)


@dataclass
class SessionView:
    row: PracticeSessionRow
    trainee: str
    turns: list[ReviewedTurn]  # rewound turns included, in order
    session_comments: list  # comments on the session as a whole
    review: object | None  # SessionReview or None
    authors: dict[int, str] = field(default_factory=dict)

    @property
    def metrics(self):
        return metrics_of([t for t in self.turns if not t.turn.rewound])


def reviewed_debrief(view: SessionView, library):
    """The debrief of an app session rebuilt from the reviewed labels; None for imported sessions
    or a persona no longer in the library."""
    from rjcoach.debrief import build_debrief
    from rjcoach.persona_schema import GROUP

    if library is not None and view.row.persona_id == GROUP and view.row.source != "import":
        from rjcoach.group_debrief import build_group_debrief

        scenario = library.scenarios.get(view.row.scenario_id)
        if scenario is None or not scenario.is_group or any(r.persona not in library.personas for r in scenario.roster):
            return None
        turns = [t.reviewed() for t in view.turns]
        personas = {r.persona: library.personas[r.persona] for r in scenario.roster}
        return build_group_debrief(view.row, scenario, personas, turns), turns
    persona = library.personas.get(view.row.persona_id) if library is not None else None
    if view.row.source == "import" or persona is None:
        return None
    turns = [t.reviewed() for t in view.turns]
    return build_debrief(view.row, persona, library.scenarios.get(view.row.scenario_id), turns), turns


def metrics_of(turns: list[ReviewedTurn]):
    return session_metrics([PriorTurn(t.labels, t.turn.persona.get("emotion", "neutral"), t.turn.persona_text)
                            for t in turns])


def session_view(store: Store, who: Principal, session_id: str) -> SessionView:
    row = session_for(store, who, session_id)
    return views(store, [row])[0]


def views(store: Store, rows: list[PracticeSessionRow]) -> list[SessionView]:
    """Review views of sessions already access-checked by the caller."""
    ids = [r.id for r in rows]
    corrections: dict[int, list] = {}
    for c in store.corrections(ids) if ids else []:
        corrections.setdefault(c.turn_id, []).append(c)
    comments = store.comments(ids) if ids else []
    reviews = store.reviews(ids) if ids else {}
    names = {u.id: u.username for u in store.users()}
    out = []
    for row in rows:
        turns = []
        for t in store.turns(row.id, include_rewound=True):
            model = frozenset(t.analysis.get("labels", []))
            cs = tuple(corrections.get(t.id, ()))
            turns.append(ReviewedTurn(t, model, reviewed_labels(model, cs), cs,
                                      tuple(c for c in comments if c.turn_id == t.id)))
        out.append(SessionView(row, names.get(row.user_id, "?"), turns,
                                 [c for c in comments if c.session_id == row.id and c.turn_id is None],
                                 reviews.get(row.id), names))
    return out


# -- listing -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Filters:
    trainee: str | None = None  # username
    cohort: str | None = None  # cohort name
    scenario: str | None = None
    persona: str | None = None
    level: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class SessionSummary:
    id: str
    trainee: str
    cohorts: tuple[str, ...]
    scenario: str
    persona: str
    level: str
    source: str
    status: str
    created_at: datetime
    messages: int
    rq_ratio: float | None
    open_share: float | None
    accusatory: int
    accusatory_rate: float
    empathy: int
    restorative: int
    acknowledged_share: float | None
    corrections: int
    comments: int
    rating: int | None


def list_sessions(store: Store, who: Principal, filters: Filters = Filters(), sort: str = "newest") -> list[SessionSummary]:
    """Sessions ``who`` may review, filtered and sorted, with the rubric's session metrics."""
    require_reviewer(who)
    if sort not in SORTS:
        raise ReviewError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    allowed = visible_user_ids(store, who)
    users = {u.id: u for u in store.users()}
    cohort_names = store.cohort_names_by_user()
    ids = allowed
    if filters.trainee:
        ids = [uid for uid in (ids if ids is not None else users) if users[uid].username == filters.trainee]
    if filters.cohort:
        ids = [uid for uid in (ids if ids is not None else users) if filters.cohort in cohort_names.get(uid, [])]
    rows = store.all_sessions(ids)
    rows = [r for r in rows if (not filters.scenario or r.scenario_id == filters.scenario)
            and (not filters.persona or r.persona_id == filters.persona)
            and (not filters.level or r.level == filters.level)
            and (filters.since is None or as_utc(r.created_at) >= as_utc(filters.since))
            and (filters.until is None or as_utc(r.created_at) <= as_utc(filters.until))]
    out = []
    for v in views(store, rows):
        live = [t for t in v.turns if not t.turn.rewound]
        m = metrics_of(live)
        r = v.row
        out.append(SessionSummary(
            r.id, v.trainee, tuple(cohort_names.get(r.user_id, [])), r.scenario_id, r.persona_id, r.level,
            r.source, r.status, r.created_at, m.utterances, m.rq_ratio, m.open_share, m.accusatory_utterances,
            m.accusatory_rate, m.empathy, m.restorative, m.acknowledged_share,
            sum(len(t.corrections) for t in v.turns),
            len(v.session_comments) + sum(len(t.comments) for t in v.turns),
            v.review.rating if v.review else None))
    return sort_summaries(out, sort)


def sort_summaries(items: list[SessionSummary], sort: str) -> list[SessionSummary]:
    low = float("inf")
    keys = {
        "newest": lambda s: -as_utc(s.created_at).timestamp(),
        "oldest": lambda s: as_utc(s.created_at).timestamp(),
        "most_accusatory": lambda s: (-s.accusatory_rate, -s.accusatory, -as_utc(s.created_at).timestamp()),
        "lowest_rq": lambda s: (low if s.rq_ratio is None else s.rq_ratio, -as_utc(s.created_at).timestamp()),
        "lowest_open": lambda s: (low if s.open_share is None else s.open_share, -as_utc(s.created_at).timestamp()),
        "most_corrected": lambda s: (-s.corrections, -as_utc(s.created_at).timestamp()),
        "unreviewed": lambda s: (s.rating is not None, -as_utc(s.created_at).timestamp()),
    }
    return sorted(items, key=keys[sort])
