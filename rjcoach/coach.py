"""The coach: analysis and history in, feedback out. Pure: no I/O, no model calls.

It picks one tip at a time by priority (accusatory language first, then a feeling the persona
expressed that went unacknowledged, then balance such as a run of closed questions with no
reflection), quotes the trainee's own words, suggests a restorative rewrite for an accusatory
message, and keeps the rubric's session metrics.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, Sequence

from rjcoach.analysis import Analysis
from rjcoach.labels import ACCUSATORY, LABELS, PLAIN_WORDS

Level = Literal["coached", "light", "assessment"]
LEVELS: tuple[str, ...] = ("coached", "light", "assessment")
ACKNOWLEDGING = frozenset({"emotion_label", "validation", "sympathy"})
REFLECTIVE = frozenset({"reflection", "emotion_label", "summary"})
# Rubric thresholds (shown as guides, not norms).
RQ_FAIR, RQ_GOOD = 1.0, 2.0
OPEN_FAIR, OPEN_GOOD = 0.5, 0.7


@dataclass(frozen=True)
class PriorTurn:
    """What the coach needs to know about an earlier exchange."""

    labels: frozenset[str]
    persona_emotion: str = "neutral"
    persona_text: str = ""


@dataclass(frozen=True)
class Metrics:
    utterances: int
    reflections: int
    questions: int
    open_questions: int
    closed_questions: int
    accusatory_utterances: int
    empathy: int
    restorative: int
    disclosures_offered: int  # persona turns that expressed a feeling
    disclosures_acknowledged: int  # ... acknowledged by the trainee in the next turn

    @property
    def rq_ratio(self) -> float | None:
        return self.reflections / self.questions if self.questions else None

    @property
    def open_share(self) -> float | None:
        asked = self.open_questions + self.closed_questions
        return self.open_questions / asked if asked else None

    @property
    def accusatory_rate(self) -> float:
        return self.accusatory_utterances / self.utterances if self.utterances else 0.0

    @property
    def acknowledged_share(self) -> float | None:
        return self.disclosures_acknowledged / self.disclosures_offered if self.disclosures_offered else None

    def band(self, name: str) -> str:
        """'good', 'fair' or 'below' against the rubric's lines (or 'n/a')."""
        if name == "rq_ratio":
            v, fair, good = self.rq_ratio, RQ_FAIR, RQ_GOOD
        elif name == "open_share":
            v, fair, good = self.open_share, OPEN_FAIR, OPEN_GOOD
        elif name == "accusatory_rate":
            return "good" if self.accusatory_utterances == 0 else "below"
        else:
            raise ValueError(f"no band for {name!r}")
        if v is None:
            return "n/a"
        return "good" if v >= good else "fair" if v >= fair else "below"


@dataclass(frozen=True)
class Tip:
    kind: str  # "accusatory", "missed_feeling", "balance", "praise"
    text: str
    quote: str | None = None


@dataclass(frozen=True)
class Feedback:
    level: str
    labels_plain: tuple[str, ...]
    tip: Tip | None
    rewrite: str | None
    metrics: Metrics
    show_labels: bool = True
    notes: tuple[str, ...] = field(default_factory=tuple)


def session_metrics(turns: Sequence[PriorTurn]) -> Metrics:
    """The rubric's per-session metrics from the trainee's labelled turns."""
    reflections = sum("reflection" in t.labels for t in turns)
    open_q = sum("open_question" in t.labels for t in turns)
    closed_q = sum("closed_question" in t.labels for t in turns)
    questions = sum(bool(t.labels & {"open_question", "closed_question"}) for t in turns)
    offered = acknowledged = 0
    for prev, nxt in zip(turns, turns[1:]):
        if prev.persona_emotion not in ("neutral", ""):
            offered += 1
            acknowledged += bool(nxt.labels & ACKNOWLEDGING)
    return Metrics(
        utterances=len(turns),
        reflections=reflections,
        questions=questions,
        open_questions=open_q,
        closed_questions=closed_q,
        accusatory_utterances=sum(bool(t.labels & ACCUSATORY) for t in turns),
        empathy=sum(bool(t.labels & {"validation", "sympathy"}) for t in turns),
        restorative=sum("restorative_question" in t.labels for t in turns),
        disclosures_offered=offered,
        disclosures_acknowledged=acknowledged,
    )


_WHY = re.compile(r"\b(?:why|how come)\s+(?:did|do|would|were|are|was|didn't|don't|wouldn't)?\s*(?:you|u|ya)\s+(?P<rest>[^?.!]*)", re.I)
_FEELING_WORDS = {
    "anger": "angry", "fear": "frightened", "sadness": "sad", "grief": "a real loss", "shame": "ashamed",
    "guilt": "guilty", "anxiety": "worried", "frustration": "frustrated", "numbness": "numb",
    "defiance": "fed up with being questioned", "hurt": "hurt", "embarrassment": "embarrassed",
    "hope": "hopeful", "relief": "relieved",
}


def restorative_rewrite(analysis: Analysis) -> str | None:
    """A suggested restorative way to say an accusatory message (or None if it is not accusatory)."""
    labels = analysis.labels
    if not labels & ACCUSATORY:
        return None
    if "victim_blaming" in labels:  # first: a softer "why" would still put the harm on them
        return "None of this is on you. What has been the hardest part since it happened?"
    m = _WHY.search(analysis.text)
    if "why_question" in labels and m and m.group("rest").strip():
        rest = m.group("rest").strip().rstrip(",;")
        return f"What was going on for you when you decided to {rest}?"
    if "threat" in labels:
        return "I'd like us to work this out together. What would make it easier to talk about what happened?"
    if "labeling" in labels:
        return "I want to understand what happened, not judge who you are. Can you tell me about that night?"
    if "minimizing" in labels:
        return "It sounds like this has hit you harder than people realise. How has it been for you?"
    if "generalization" in labels:
        return "Let's talk about this time, not what people assume. What happened, from your side?"
    if "accusation" in labels:
        return "Help me understand what happened, in your own words."
    return "What happened, from where you were standing?"


def _quote(analysis: Analysis, labels: set[str] | frozenset[str]) -> str | None:
    for e in analysis.evidence:
        if e.label in labels:
            return e.text
    return None


def coach(analysis: Analysis, history: Sequence[PriorTurn], level: str = "coached",
          persona_name: str = "they") -> Feedback:
    """Feedback for the newest message. ``history`` holds the earlier exchanges, oldest first."""
    if level not in LEVELS:
        raise ValueError(f"coaching level must be one of {', '.join(LEVELS)}, got {level!r}")
    now = PriorTurn(analysis.labels)
    metrics = session_metrics([*history, now])
    plain = tuple(PLAIN_WORDS[label] for label in LABELS if label in analysis.labels)
    if level == "assessment":
        return Feedback(level, (), None, None, metrics, show_labels=False)
    accusatory = analysis.labels & ACCUSATORY
    rewrite = restorative_rewrite(analysis)
    tip: Tip | None = None
    if accusatory:
        worst = next(label for label in LABELS if label in accusatory)
        quote = _quote(analysis, accusatory) or analysis.text.strip()
        advice = {
            "accusation": "presumes guilt, and people defend themselves instead of telling you what happened",
            "labeling": "names the person instead of the behaviour; people stop listening when they are labelled",
            "victim_blaming": "puts the harm on the person harmed; it wounds and shuts them down",
            "threat": "coerces; people comply or dig in, they do not open up",
            "minimizing": "shrinks what happened to them; they will feel unheard",
            "why_question": "a 'why' asks them to justify themselves; a 'what' invites their story",
            "generalization": "lumps the person in with a group; talk about this person and this event",
        }[worst]
        tip = Tip("accusatory", f"\u201c{quote}\u201d {advice}.", quote)
    elif level == "coached":
        last = history[-1] if history else None
        if last and last.persona_emotion not in ("neutral", "") and not analysis.labels & ACKNOWLEDGING:
            word = _FEELING_WORDS.get(last.persona_emotion, last.persona_emotion)
            said = last.persona_text.strip()
            short = (said[:90] + "\u2026") if len(said) > 90 else said
            tip = Tip(
                "missed_feeling",
                f"{persona_name} sounded {word} (\u201c{short}\u201d). Naming it first, for example "
                f"\u201cYou sound {word}\u201d, shows you heard it.",
                short or None,
            )
        else:
            run = 0
            for t in [*history, now][::-1]:
                if "closed_question" in t.labels and not t.labels & REFLECTIVE:
                    run += 1
                else:
                    break
            if run >= 3:
                tip = Tip("balance", f"That is {run} closed questions in a row with no reflection. "
                          "Try giving back what you have heard before the next question.")
            elif metrics.questions >= 4 and (metrics.rq_ratio or 0) < RQ_FAIR / 2:
                tip = Tip("balance", f"{metrics.questions} questions, {metrics.reflections} reflections so far. "
                          "A reflection (\u201cSo for you, ...\u201d) often opens more than another question.")
            elif analysis.labels & (REFLECTIVE | {"restorative_question", "validation"}):
                good = analysis.labels & (REFLECTIVE | {"restorative_question", "validation"})
                quote = _quote(analysis, good) or analysis.text.strip()
                kind = next(PLAIN_WORDS[label] for label in LABELS if label in good)
                tip = Tip("praise", f"Good {kind}: \u201c{quote}\u201d.", quote)
    if level == "light":
        plain = tuple(PLAIN_WORDS[label] for label in LABELS if label in accusatory)
    return Feedback(level, plain, tip, rewrite, metrics, show_labels=True)
