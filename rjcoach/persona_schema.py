"""Persona and scenario files: the pydantic models every YAML file in ``personas/`` must satisfy.

A persona is one simulated person; a scenario is an incident with a roster of personas. Both carry
``schema_version`` and ``kind``. Unknown keys are errors (a typo never passes silently).
"""
from __future__ import annotations

from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rjcoach.labels import ACCUSATORY

SCHEMA_VERSION = 1
ROLES = ("harmed", "responsible", "parent", "supporter", "community")
TEMPERAMENTS = ("grieving", "angry", "anxious", "defiant", "ashamed", "numb", "guarded", "warm")
EMOTIONS = (
    "neutral", "anger", "fear", "sadness", "grief", "shame", "guilt", "anxiety", "frustration",
    "numbness", "defiance", "hope", "relief", "hurt", "embarrassment",
)
TOPICS = (
    "what_happened", "impact", "feelings", "other_party", "what_would_help", "process",
    "small_talk", "off_topic",
)
FORMATS = ("one_to_one", "mediation", "conference", "circle")
ID_PATTERN = r"^[a-z][a-z0-9_]{1,48}$"
Emotion = Literal[EMOTIONS]  # type: ignore[valid-type]
Text = Field(min_length=1, max_length=600)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Reply(Strict):
    """One authored line, with the emotion it expresses (for the coach) when that is not neutral."""

    text: str = Text
    emotion: Emotion = "neutral"


ReplyIn = Union[str, Reply]


def _replies(values: list[ReplyIn]) -> list[Reply]:
    return [Reply(text=v) if isinstance(v, str) else v for v in values]


class Topic(Strict):
    """How the persona answers when the trainee raises this topic."""

    prompts: list[str] = Field(min_length=2, description="trainee phrasings that raise the topic")
    guarded: list[ReplyIn] = Field(min_length=2, description="replies while trust is low")
    open: list[ReplyIn] = Field(min_length=2, description="replies once trust is high")

    @field_validator("guarded", "open")
    @classmethod
    def _as_replies(cls, v: list[ReplyIn]) -> list[Reply]:
        return _replies(v)


class Disclosure(Strict):
    """Something the persona reveals only once trust is high enough and the topic invites it."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,48}$")
    topics: list[Literal[TOPICS]] = Field(min_length=1)  # type: ignore[valid-type]
    min_trust: float = Field(ge=0.0, le=1.0)
    text: str = Text
    emotion: Emotion = "neutral"


class Voice(Strict):
    style: str = Field(min_length=3, max_length=300, description="register and manner of speech")
    temperament: Literal[TEMPERAMENTS]  # type: ignore[valid-type]
    phrases: list[str] = Field(default_factory=list, max_length=20)


class State(Strict):
    trust: float = Field(ge=0.0, le=1.0)
    distress: float = Field(ge=0.0, le=1.0)
    defensiveness: float = Field(ge=0.0, le=1.0)


class Sensitivity(Strict):
    """Multipliers on how much each kind of trainee move shifts this persona's state (0 to 3)."""

    listening: float = Field(default=1.0, ge=0.0, le=3.0)
    empathy: float = Field(default=1.0, ge=0.0, le=3.0)
    restorative: float = Field(default=1.0, ge=0.0, le=3.0)
    accusatory: float = Field(default=1.0, ge=0.0, le=3.0)
    interrogation: float = Field(default=1.0, ge=0.0, le=3.0)


class Reactions(Strict):
    """In-character replies to each accusatory label (the rubric's accusatory family)."""

    accusation: list[ReplyIn] = Field(min_length=2)
    labeling: list[ReplyIn] = Field(min_length=2)
    victim_blaming: list[ReplyIn] = Field(min_length=2)
    threat: list[ReplyIn] = Field(min_length=2)
    minimizing: list[ReplyIn] = Field(min_length=2)
    why_question: list[ReplyIn] = Field(min_length=2)
    generalization: list[ReplyIn] = Field(min_length=2)

    @field_validator("*")
    @classmethod
    def _as_replies(cls, v: list[ReplyIn]) -> list[Reply]:
        return _replies(v)


assert set(Reactions.model_fields) == set(ACCUSATORY)


class Persona(Strict):
    schema_version: Literal[1]
    kind: Literal["persona"]
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,48}$")
    name: str = Field(min_length=1, max_length=80)
    age: int = Field(ge=5, le=110)
    role: Literal[ROLES]  # type: ignore[valid-type]
    scenario: str = Field(pattern=r"^[a-z][a-z0-9_]{1,48}$")
    difficulty: int = Field(ge=1, le=3)
    background: str = Field(min_length=10, max_length=1500)
    voice: Voice
    knows: list[str] = Field(min_length=1, description="what they know about the incident")
    feels: list[str] = Field(min_length=1, description="what they feel about it")
    needs: list[str] = Field(min_length=1, description="what they need to make things right")
    start: State
    sensitivity: Sensitivity = Field(default_factory=Sensitivity)
    topics: dict[Literal[TOPICS], Topic]  # type: ignore[valid-type]
    disclosures: list[Disclosure] = Field(min_length=1)
    reactions: Reactions

    @model_validator(mode="after")
    def _complete(self) -> "Persona":
        missing = [t for t in TOPICS if t not in self.topics]
        if missing:
            raise ValueError(f"topics missing: {', '.join(missing)} (every topic needs replies)")
        ids = [d.id for d in self.disclosures]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"disclosure ids used twice: {', '.join(dupes)}")
        return self


class RosterEntry(Strict):
    persona: str = Field(pattern=r"^[a-z][a-z0-9_]{1,48}$")
    role: Literal[ROLES]  # type: ignore[valid-type]


class Goal(Strict):
    """A trainee goal, checked from the session record."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,48}$")
    description: str = Field(min_length=3, max_length=300)
    disclosure: str | None = Field(default=None, pattern=ID_PATTERN)  # reached when this disclosure id is made
    label: str | None = None  # reached when the trainee uses this rubric label ...
    count: int = Field(default=1, ge=1, le=50)  # ... at least this many times
    trust_at_least: float | None = Field(default=None, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _one_check(self) -> "Goal":
        checks = [self.disclosure is not None, self.label is not None, self.trust_at_least is not None]
        if sum(checks) != 1:
            raise ValueError("a goal needs exactly one of: disclosure, label, trust_at_least")
        if self.label is not None:
            from rjcoach.labels import FAMILY_OF

            if self.label not in FAMILY_OF:
                raise ValueError(f"unknown rubric label {self.label!r}")
        return self


class Scenario(Strict):
    schema_version: Literal[1]
    kind: Literal["scenario"]
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,48}$")
    title: str = Field(min_length=3, max_length=120)
    format: Literal[FORMATS] = "one_to_one"  # type: ignore[valid-type]
    summary: str = Field(min_length=10, max_length=2000)
    facts: list[str] = Field(min_length=1, description="background known to everyone")
    roster: list[RosterEntry] = Field(min_length=2, max_length=6)
    goals: list[Goal] = Field(min_length=1)
    success: list[str] = Field(min_length=1, description="goal ids that together count as success")

    @model_validator(mode="after")
    def _consistent(self) -> "Scenario":
        roles = [r.role for r in self.roster]
        if "harmed" not in roles or "responsible" not in roles:
            raise ValueError("roster needs a harmed and a responsible party")
        goal_ids = {g.id for g in self.goals}
        unknown = [s for s in self.success if s not in goal_ids]
        if unknown:
            raise ValueError(f"success names unknown goal ids: {', '.join(unknown)}")
        return self
