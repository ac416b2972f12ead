"""How people in a group hear each other: an apology's wording, and what one participant's words do
to another's state. Pure: text, labels and states in, new states out; no models, no I/O.

In a conference or circle the persons do not only react to the facilitator. An apology lands or
falls flat with the harmed party depending on how it is worded and on where the harmed party is; a
parent sticking up for their child hardens the other side; a community member naming the wider harm
makes the responsible party sit up. The numbers below are the engine's, like ``persona_engine.EFFECTS``:
small moves that add up over a session, multiplied by each persona's own sensitivity.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from rjcoach.persona_engine import PersonaState, clamp
from rjcoach.persona_schema import Persona

_SORRY = re.compile(r"\b(sorry|apologi[sz]e|apologies|apology)\b", re.I)
_OWNS = re.compile(
    r"\b(my fault|it was me|i was wrong|i take (full )?responsibility|on me\b|i own)"
    r"|\bi(?: | \w+ | \w+ \w+ )(did|done|caused|made|wrecked|ruined|hurt|sprayed|took|stole|broke|threw|hit|punched|"
    r"shouldn'?t have|should not have|should have|messed up|let)\b", re.I)
_HARM = re.compile(
    r"\byour\s+\w+|\b(hurt|upset|scared|frightened|afraid|cost|lost|damage[ds]?|mess|wrecked|ruined|shut|closed|"
    r"worry|worried|stress|sleep|family|shop|home|dad|father|mum|mother|wall|car|window|name|nose|face)\b", re.I)
_EXCUSE = re.compile(
    r"\bbut\b|\b(it was|it's|its|it is|was|were) (just|only)\b|\bonly (a|some|paint|a bit|messing)\b|"
    r"\b(made me|forced me|pressured me|egged me on|their idea|his idea|her idea)\b|\bnot (that|even that) (bad|big)\b|"
    r"\bno big deal\b|\binsurance\b|\beveryone does\b|\bif you\b|\bwhatever\b|\b(said|say) sorry already\b|"
    r"\balready (said|told)\b|\bstarted it\b|\bhad it coming\b|\bover it\b|\bget over\b|\bhappy now\b", re.I)
_REPAIR = re.compile(
    r"\b(make it right|put it right|make (it )?up|fix|help|pay|clean|repaint|paint over|won'?t happen again|"
    r"never again|i'?ll|i will|i want to|i'd like to|whatever it takes)\b", re.I)
BLAMING_LABELS = frozenset({"accusation", "labeling", "victim_blaming", "minimizing", "generalization", "threat"})

LANDS = 0.6
"""An apology scoring at least this, with no excuse in it, is well worded."""
HALF = 0.25
"""Below LANDS and at least this, with no excuse: it is a start, no more."""


@dataclass(frozen=True)
class ApologyWording:
    says_sorry: bool
    owns_it: bool
    names_harm: bool
    repairs: bool
    excuses: bool
    blaming_labels: tuple[str, ...]
    score: float

    @property
    def verdict(self) -> str:
        """'lands', 'half' or 'flat': how the words alone would be heard."""
        if self.excuses or self.blaming_labels:
            return "flat"
        if self.score >= LANDS:
            return "lands"
        return "half" if self.score >= HALF else "flat"

    def as_dict(self) -> dict:
        return {"says_sorry": self.says_sorry, "owns_it": self.owns_it, "names_harm": self.names_harm,
                "repairs": self.repairs, "excuses": self.excuses, "blaming_labels": list(self.blaming_labels),
                "score": round(self.score, 3), "verdict": self.verdict}


def apology_wording(text: str, labels: frozenset[str] = frozenset()) -> ApologyWording:
    """How an apology is worded: sorry said, the act owned in the first person, the harm named, a
    repair offered, and no excuse (a "but", "only", someone else to blame, or a rubric accusatory
    label from the analyser such as minimising or victim blaming)."""
    sorry, owns = bool(_SORRY.search(text)), bool(_OWNS.search(text))
    names, repairs, excuses = bool(_HARM.search(text)), bool(_REPAIR.search(text)), bool(_EXCUSE.search(text))
    blaming = tuple(sorted(labels & BLAMING_LABELS))
    score = 0.35 * sorry + 0.3 * owns + 0.2 * names + 0.15 * repairs - 0.5 * excuses - 0.3 * bool(blaming)
    return ApologyWording(sorry, owns, names, repairs, excuses, blaming, max(-1.0, min(1.0, score)))


def _move(persona: Persona, state: PersonaState, kind: str, trust: float, distress: float, defensive: float) -> PersonaState:
    """Apply one heard effect, times the persona's sensitivity; trust is earned as slowly as from the
    facilitator (harder personas warm more slowly, and more slowly near the top)."""
    k = getattr(persona.sensitivity, kind)
    if trust > 0:
        trust *= (1.15 - 0.15 * persona.difficulty) * (1.0 - state.trust * 0.5)
    return replace(state, trust=clamp(state.trust + trust * k), distress=clamp(state.distress + distress * k),
                   defensiveness=clamp(state.defensiveness + defensive * k))


def hear_apology(harmed: Persona, state: PersonaState, wording: ApologyWording) -> tuple[PersonaState, str]:
    """The harmed party's state after an apology, and how they answer: 'accepts', 'doubts' or 'rejects'.

    Well-worded words land in proportion to how open the harmed party is (a guarded person takes in
    less of even a good apology, and doubts it while trust is low); excuses or blame make it worse
    than saying nothing, the more so the more distressed they are."""
    verdict = wording.verdict
    if verdict == "lands":
        openness = 1.0 - 0.6 * state.defensiveness
        new = _move(harmed, state, "restorative", 0.06 + 0.12 * openness, -0.08 * openness, -0.12 * openness)
        return new, "accepts" if new.trust >= 0.45 and new.defensiveness < 0.6 else "doubts"
    if verdict == "half":
        return _move(harmed, state, "restorative", 0.03, -0.02, -0.02), "doubts"
    return _move(harmed, state, "accusatory", -(0.10 + 0.06 * state.distress), 0.08, 0.10), "rejects"


# (kind of line, relation of the listener to the speaker) -> (sensitivity, trust, distress, defensiveness)
# Relations: "own" (the listener supports the speaker, or the speaker supports the listener),
# "other" (the other side), "neutral" (a community member, or anyone hearing one).
_HEARD: dict[tuple[str, str], tuple[str, float, float, float]] = {
    ("apology:lands", "own"): ("empathy", 0.04, -0.04, -0.04),  # a parent relieved
    ("apology:lands", "neutral"): ("empathy", 0.03, 0.0, -0.02),
    ("apology:flat", "own"): ("accusatory", -0.01, 0.03, 0.0),  # a parent embarrassed
    ("apology:flat", "neutral"): ("accusatory", -0.02, 0.0, 0.02),
    ("accepts", "other"): ("empathy", 0.06, -0.06, -0.08),  # the responsible party, forgiven a little
    ("accepts", "neutral"): ("empathy", 0.03, -0.02, -0.02),
    ("rejects", "other"): ("accusatory", -0.03, 0.05, 0.05),
    ("defends", "other"): ("accusatory", -0.04, 0.02, 0.05),  # the harmed side hears excuses
    ("defends", "own"): ("empathy", 0.02, -0.02, -0.03),  # the child feels backed
    ("rebukes", "other"): ("empathy", 0.04, -0.02, -0.03),  # the harm taken seriously
    ("rebukes", "own"): ("accusatory", 0.0, 0.03, 0.02),
    ("wider_harm", "other"): ("empathy", 0.0, 0.03, -0.02),  # the ripple sinks in
    ("wider_harm", "own"): ("empathy", 0.03, -0.02, -0.01),
    ("agrees", "other"): ("restorative", 0.03, -0.02, -0.03),
    ("disclosure", "other"): ("empathy", 0.03, -0.01, -0.03),  # the person behind the story
    ("soft", "other"): ("empathy", 0.02, 0.0, -0.02),
    ("hard", "other"): ("accusatory", -0.02, 0.01, 0.03),
}
SOFT_EMOTIONS = frozenset({"shame", "guilt", "hurt", "sadness", "grief", "fear", "anxiety", "embarrassment"})
HARD_EMOTIONS = frozenset({"defiance", "anger", "frustration"})


def line_kind(kind: str, emotion: str, verdict: str | None = None) -> str:
    """The key a spoken line is heard by: its own kind, or its emotion for ordinary replies."""
    if kind == "apology":
        return "apology:lands" if verdict == "lands" else "apology:flat" if verdict == "flat" else "apology:half"
    if kind == "apology_response":  # verdict: the answer given, 'accepts', 'doubts' or 'rejects'
        return verdict or "plain"
    if kind in ("defends", "rebukes", "wider_harm", "agrees", "disclosure"):
        return kind
    if emotion in SOFT_EMOTIONS:
        return "soft"
    if emotion in HARD_EMOTIONS or kind == "reaction":
        return "hard"
    return "plain"


def hear_line(listener: Persona, state: PersonaState, key: str, relation: str) -> PersonaState:
    """The listener's state after hearing another participant's line (``key`` from :func:`line_kind`)."""
    effect = _HEARD.get((key, relation))
    if effect is None:
        return state
    kind, t, s, d = effect
    return _move(listener, state, kind, t, s, d)
