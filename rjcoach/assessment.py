"""Assessments for certification: a fixed scenario, person and seed, no live feedback, and pass
criteria built from the rubric's session metrics.

An instructor (or admin) defines an assessment; every trainee who takes it meets the same person
with the same seed, so results are comparable. When the attempt ends, each criterion is measured
on the stored record (the model's flags at that moment: the result is filed as it was decided and
never recomputed), and the result is stored with the attempt.
"""
from __future__ import annotations

import html
import operator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from rjcoach.coach import Metrics

# metric id -> (words, how it is read from a debrief, unit)
METRICS: dict[str, tuple[str, str]] = {
    "open_share": ("share of open questions", "pct"),
    "rq_ratio": ("reflection-to-question ratio", "ratio"),
    "accusatory_utterances": ("accusatory messages", "count"),
    "accusatory_rate": ("share of accusatory messages", "pct"),
    "empathy": ("empathy messages (validation, sympathy)", "count"),
    "restorative": ("restorative questions", "count"),
    "acknowledged_share": ("feelings acknowledged in the next message", "pct"),
    "utterances": ("messages", "count"),
    "goals_reached": ("scenario success goals reached (1 = all)", "flag"),
    # Facilitation (conference, circle, mediation only): rjcoach.facilitation.Facilitation
    "agreement_reached": ("concrete agreement reached (1 = yes)", "flag"),
    "everyone_heard": ("every participant spoke (1 = yes)", "flag"),
    "speaking_balance": ("speaking balance (1 = equal shares)", "ratio"),
    "stage_fit_share": ("share of questions that fit the stage", "pct"),
    "summarised_share": ("share of stage changes with a summary first", "pct"),
    "stages_reached": ("stages taken", "count"),
}
FACILITATION_METRICS = ("agreement_reached", "everyone_heard", "speaking_balance", "stage_fit_share",
                        "summarised_share", "stages_reached")
OPS = {">=": operator.ge, "<=": operator.le, "==": operator.eq}


class AssessmentError(ValueError):
    """An assessment definition is not valid; the message names the field."""


@dataclass(frozen=True)
class Criterion:
    metric: str
    op: str
    threshold: float

    def check(self) -> "Criterion":
        if self.metric not in METRICS:
            raise AssessmentError(f"criterion metric {self.metric!r} is not one of {', '.join(METRICS)}")
        if self.op not in OPS:
            raise AssessmentError(f"criterion {self.metric}: operator must be one of {', '.join(OPS)}, not {self.op!r}")
        try:
            value = float(self.threshold)
        except (TypeError, ValueError):
            raise AssessmentError(f"criterion {self.metric}: threshold must be a number, not {self.threshold!r}") from None
        if value != value or value < 0:
            raise AssessmentError(f"criterion {self.metric}: threshold must be a number of at least 0")
        return Criterion(self.metric, self.op, value)

    def describe(self) -> str:
        words, unit = METRICS[self.metric]
        return f"{words} {self.op} {_fmt(self.threshold, unit)}"


DEFAULT_CRITERIA = (
    Criterion("open_share", ">=", 0.5),
    Criterion("rq_ratio", ">=", 1.0),
    Criterion("accusatory_utterances", "<=", 0),
    Criterion("utterances", ">=", 6),
    Criterion("goals_reached", "==", 1),
)
"""The rubric's 'fair' lines, no accusatory language, a real conversation, and the scenario's goals."""
GROUP_DEFAULT_CRITERIA = DEFAULT_CRITERIA + (
    Criterion("agreement_reached", "==", 1),
    Criterion("everyone_heard", "==", 1),
)
"""For a conference, circle or mediation: the same, plus an agreement and every voice heard."""


@dataclass(frozen=True)
class CriterionResult:
    criterion: Criterion
    value: float | None
    passed: bool


@dataclass(frozen=True)
class Result:
    passed: bool
    criteria: tuple[CriterionResult, ...]

    def to_dict(self) -> dict:
        return {"passed": self.passed,
                "criteria": [{**asdict(r.criterion), "value": r.value, "passed": r.passed} for r in self.criteria]}

    @classmethod
    def from_dict(cls, d: dict) -> "Result":
        return cls(bool(d["passed"]), tuple(
            CriterionResult(Criterion(c["metric"], c["op"], c["threshold"]), c["value"], bool(c["passed"]))
            for c in d["criteria"]))


def parse_criteria(items) -> tuple[Criterion, ...]:
    """Criteria from dicts or Criterion objects, checked; at least one, each metric at most once."""
    out = []
    for item in items or ():
        c = item if isinstance(item, Criterion) else Criterion(item.get("metric"), item.get("op"), item.get("threshold"))
        out.append(c.check())
    if not out:
        raise AssessmentError("an assessment needs at least one criterion")
    seen = [c.metric for c in out]
    dupes = sorted({m for m in seen if seen.count(m) > 1})
    if dupes:
        raise AssessmentError(f"criteria: each metric at most once ({', '.join(dupes)} repeated)")
    return tuple(out)


def measure(metrics: Metrics, goals_reached: bool, facilitation=None) -> dict[str, float | None]:
    values: dict[str, float | None] = {name: getattr(metrics, name) for name in METRICS
                                       if name != "goals_reached" and name not in FACILITATION_METRICS}
    values["goals_reached"] = 1.0 if goals_reached else 0.0
    f = facilitation
    values.update({
        "agreement_reached": None if f is None else float(f.agreement_reached),
        "everyone_heard": None if f is None else float(f.everyone_heard),
        "speaking_balance": None if f is None else f.balance,
        "stage_fit_share": None if f is None else f.stage_fit_share,
        "summarised_share": None if f is None else f.summarised_share,
        "stages_reached": None if f is None else float(f.stages_reached),
    })
    return values


def evaluate(criteria, metrics: Metrics, goals_reached: bool, facilitation=None) -> Result:
    """Each criterion against the measured value; a value the session cannot have (no questions
    asked: no ratio; no stage change: no summary share) fails its criterion, because the skill was
    not shown."""
    values = measure(metrics, goals_reached, facilitation)
    results = []
    for c in parse_criteria(criteria):
        v = values[c.metric]
        results.append(CriterionResult(c, v, v is not None and OPS[c.op](round(v, 6), c.threshold)))
    return Result(all(r.passed for r in results), tuple(results))


def _fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "n/a (not shown)"
    if unit == "pct":
        return f"{v * 100:.0f}%"
    if unit == "ratio":
        return f"{v:.2f}"
    if unit == "flag":
        return "yes" if v >= 1 else "no"
    return f"{v:g}"


def result_rows(result: Result) -> list[tuple[str, str, str]]:
    """(criterion, measured value, PASS/FAIL) for the result page and the report."""
    return [(r.criterion.describe(), _fmt(r.value, METRICS[r.criterion.metric][1]), "PASS" if r.passed else "FAIL")
            for r in result.criteria]


def result_html(name: str, trainee: str, scenario: str, persona: str, seed: int, result: Result,
                finished: datetime | None, session_id: str, standalone: bool = False) -> str:
    """The result as an academy files it: each criterion, the measured value, pass or fail."""
    e = lambda x: html.escape(str(x), quote=True)  # noqa: E731
    rows = "".join(f"<tr><td>{e(a)}</td><td>{e(b)}</td><td class='{b2.lower()}'><b>{e(b2)}</b></td></tr>"
                   for a, b, b2 in result_rows(result))
    when = (finished or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    body = (f"<h2>Assessment result: {e(name)}</h2>"
            f"<p>Trainee <b>{e(trainee)}</b> &middot; scenario {e(scenario)} &middot; speaking with {e(persona)} "
            f"&middot; seed {seed} &middot; finished {e(when)} &middot; attempt {e(session_id)}</p>"
            f"<p class='{'pass' if result.passed else 'fail'}'><b>Overall: {'PASS' if result.passed else 'FAIL'}</b> "
            f"({sum(r.passed for r in result.criteria)} of {len(result.criteria)} criteria met)</p>"
            f"<table><tr><th>criterion</th><th>measured</th><th>result</th></tr>{rows}</table>"
            "<p><small>Measured from the automatic rubric coding at the end of the attempt. Flags support an "
            "instructor's judgement; an instructor may review the transcript before the result is filed.</small></p>")
    if not standalone:
        return body
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>rjcoach assessment result</title>"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            "<style>body{font-family:system-ui,sans-serif;max-width:820px;margin:2em auto}table{border-collapse:collapse;"
            "width:100%}td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left}.pass{color:#1e7e34}"
            ".fail{color:#c0392b}</style></head><body>" + body + "</body></html>")


# -- defining, taking and reading assessments (access decided here, as in rjcoach.review) -----------
NAME_MAX = 64


def define(store, library, who, name: str, scenario_id: str, persona_id: str, seed: int, criteria=None) -> int:
    """An instructor or admin defines an assessment; the definition is fixed once attempts exist."""
    from rjcoach.review import require_reviewer

    require_reviewer(who)
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX:
        raise AssessmentError(f"name: 1 to {NAME_MAX} characters")
    if store.assessment_named(name) is not None:
        raise AssessmentError(f"an assessment named {name!r} already exists")
    try:
        scenario = library.check_pair(scenario_id, persona_id)
    except KeyError as exc:
        raise AssessmentError(exc.args[0]) from None
    if criteria is None:
        criteria = GROUP_DEFAULT_CRITERIA if scenario.is_group else DEFAULT_CRITERIA
    try:
        seed = int(seed)
    except (TypeError, ValueError):
        raise AssessmentError(f"seed: a whole number, not {seed!r}") from None
    if not 0 <= seed < 2**31:
        raise AssessmentError("seed: a whole number from 0 to 2147483647")
    checked = parse_criteria(criteria)
    if not scenario.is_group:
        group_only = [c.metric for c in checked if c.metric in FACILITATION_METRICS]
        if group_only:
            raise AssessmentError(f"criteria {', '.join(group_only)}: only for a conference, circle or mediation; "
                                  f"{scenario_id!r} is one-to-one")
    return store.create_assessment(name, scenario_id, persona_id, seed, [asdict(c) for c in checked], who.id)


def start_attempt(store, library, who, assessment_id, analyzer=None):
    """A new attempt: the assessment's scenario, person and seed, no live feedback, no taking back."""
    from rjcoach.persona_schema import GROUP
    from rjcoach.session import PracticeSession

    spec = store.assessment(int(assessment_id)) if str(assessment_id).isdigit() else None
    if spec is None or not spec.active:
        raise AssessmentError("no such assessment open for attempts")
    if spec.persona_id == GROUP:
        from rjcoach.group_session import GroupSession

        return GroupSession.start(store, library, who.id, spec.scenario_id, "assessment", seed=spec.seed,
                                  analyzer=analyzer, assessment_id=spec.id)
    return PracticeSession.start(store, library, who.id, spec.scenario_id, spec.persona_id, "assessment",
                                 seed=spec.seed, analyzer=analyzer, assessment_id=spec.id)


@dataclass(frozen=True)
class Attempt:
    session_id: str
    assessment: str
    trainee: str
    started: datetime
    status: str
    passed: bool | None  # None while the attempt is open


def attempts(store, who, assessment_id: int | None = None) -> list[Attempt]:
    """Attempts ``who`` may see (a trainee: their own; an instructor: their cohorts'; an admin: all)."""
    from rjcoach.review import visible_user_ids

    allowed = visible_user_ids(store, who)
    names = {u.id: u.username for u in store.users()}
    specs = {a.id: a.name for a in store.assessments(active_only=False)}
    out = []
    for row in store.all_sessions(allowed):
        if row.assessment_id is None or (assessment_id is not None and row.assessment_id != assessment_id):
            continue
        filed = store.result_of(row.id)
        out.append(Attempt(row.id, specs.get(row.assessment_id, "?"), names.get(row.user_id, "?"), row.created_at,
                           row.status, filed.passed if filed else None))
    return out


def result_page(store, who, session_id: str, standalone: bool = False) -> str:
    """The filed result of an attempt ``who`` may see."""
    from rjcoach.review import session_for

    row = session_for(store, who, session_id)
    filed = store.result_of(row.id)
    if row.assessment_id is None or filed is None:
        raise AssessmentError("that session is not a finished assessment attempt")
    spec = store.assessment(row.assessment_id)
    trainee = store.user_by_id(row.user_id)
    return result_html(spec.name, trainee.username if trainee else "?", spec.scenario_id, spec.persona_id, spec.seed,
                       Result.from_dict(filed.result), filed.finished_at, row.id, standalone)
