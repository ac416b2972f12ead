"""Persona and scenario files: the pydantic models every YAML file in ``personas/`` must satisfy.

A persona is one simulated person; a scenario is an incident with a roster of personas. Both carry
``schema_version`` and ``kind``. Unknown keys are errors (a typo never passes silently).
"""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

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
GROUP_FORMATS = ("mediation", "conference", "circle")
STAGES = ("opening", "responsible_account", "harmed_account", "supporters", "what_needs_to_happen", "agreement")
"""The stages of a restorative conference, in the order a facilitator takes them."""
DEFAULT_STAGES: dict[str, tuple[str, ...]] = {
    "conference": STAGES,
    "circle": STAGES,
    # Mediation: two parties, no supporters' round; the harmed party is heard first.
    "mediation": ("opening", "harmed_account", "responsible_account", "what_needs_to_happen", "agreement"),
}
ID_PATTERN = r"^[a-z][a-z0-9_]{1,48}$"
GROUP = "(group)"
"""The persona id stored for a multi-party session: the trainee facilitates the whole roster."""
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


Replies = Annotated[list[ReplyIn], AfterValidator(_replies)]
"""Authored lines, each a plain string or a ``{text, emotion}`` mapping; read as :class:`Reply`."""


class Topic(Strict):
    """How the persona answers when the trainee raises this topic."""

    prompts: list[str] = Field(min_length=2, description="trainee phrasings that raise the topic")
    guarded: Replies = Field(min_length=2, description="replies while trust is low")
    open: Replies = Field(min_length=2, description="replies once trust is high")



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

    accusation: Replies = Field(min_length=2)
    labeling: Replies = Field(min_length=2)
    victim_blaming: Replies = Field(min_length=2)
    threat: Replies = Field(min_length=2)
    minimizing: Replies = Field(min_length=2)
    why_question: Replies = Field(min_length=2)
    generalization: Replies = Field(min_length=2)



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


class ApologyLines(Strict):
    """What the responsible party says when invited to speak to the harmed party.

    ``sincere`` lines are said when the responsible party trusts the process enough, ``deflecting``
    ones (excuses, blame, "but") when they are defensive. Whether an apology lands is decided by its
    wording (rjcoach.hearing.apology_quality) and the harmed party's state, not by this tag.
    """

    prompts: list[str] = Field(default_factory=list, max_length=20,
                               description="extra facilitator phrasings that invite the apology")
    sincere: Replies = Field(min_length=2)
    deflecting: Replies = Field(min_length=2)



class ApologyResponses(Strict):
    """How the harmed party answers an apology: it lands, half lands, or falls flat."""

    accepts: Replies = Field(min_length=2)
    doubts: Replies = Field(min_length=2)
    rejects: Replies = Field(min_length=2)



class Participant(Strict):
    """A roster person's lines for a multi-party session (conference, circle, mediation)."""

    supports: str | None = Field(default=None, pattern=ID_PATTERN,
                                 description="persona id of the person they are there for (parents, supporters)")
    apology: ApologyLines | None = None  # the responsible party
    on_apology: ApologyResponses | None = None  # the harmed party
    defends: Replies = Field(default_factory=list, description="when the person they support is blamed")
    rebukes: Replies = Field(default_factory=list, description="when the person they support dodges or blames")
    wider_harm: Replies = Field(default_factory=list, description="community: the harm beyond the people here")
    agrees: Replies = Field(default_factory=list, description="saying yes to a proposal ({item} is its description)")
    declines: Replies = Field(default_factory=list, description="not ready to say yes ({item} likewise)")


    @model_validator(mode="after")
    def _placeholders(self) -> "Participant":
        import re

        for name in ("defends", "rebukes", "wider_harm", "agrees", "declines"):
            for reply in getattr(self, name):
                stray = [m for m in re.findall(r"\{[^}]*\}?", reply.text) if m != "{item}"]
                if stray or (name not in ("agrees", "declines") and "{item}" in reply.text):
                    raise ValueError(f"{name}: {stray[0] if stray else '{item}'} is not a placeholder here "
                                     "(only agrees and declines lines may use {item})")
        return self


class AgreementItem(Strict):
    """Something the group can agree to; it is agreed when every party says yes."""

    id: str = Field(pattern=ID_PATTERN)
    description: str = Field(min_length=3, max_length=300)
    prompts: list[str] = Field(min_length=2, max_length=20, description="facilitator phrasings that propose it")
    parties: list[str] = Field(min_length=1, max_length=6, description="persona ids who must say yes")
    min_trust: float = Field(default=0.5, ge=0.0, le=1.0)

    @field_validator("parties")
    @classmethod
    def _once(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("each party at most once")
        return v


class Agreement(Strict):
    items: list[AgreementItem] = Field(min_length=1, max_length=12)
    required: int = Field(default=1, ge=1, le=12, description="items agreed for a concrete agreement")

    @model_validator(mode="after")
    def _fits(self) -> "Agreement":
        ids = [i.id for i in self.items]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"agreement item ids used twice: {', '.join(dupes)}")
        if self.required > len(self.items):
            raise ValueError(f"required is {self.required} but there are only {len(self.items)} items")
        return self


class Goal(Strict):
    """A trainee goal, checked from the session record."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,48}$")
    description: str = Field(min_length=3, max_length=300)
    disclosure: str | None = Field(default=None, pattern=ID_PATTERN)  # reached when this disclosure id is made
    label: str | None = None  # reached when the trainee uses this rubric label ...
    count: int = Field(default=1, ge=1, le=50)  # ... at least this many times
    trust_at_least: float | None = Field(default=None, ge=0.0, le=1.0)
    agreement: Literal[True] | None = None  # multi-party: reached when a concrete agreement is made

    @model_validator(mode="after")
    def _one_check(self) -> "Goal":
        checks = [self.disclosure is not None, self.label is not None, self.trust_at_least is not None,
                  self.agreement is not None]
        if sum(checks) != 1:
            raise ValueError("a goal needs exactly one of: disclosure, label, trust_at_least, agreement")
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
    # Multi-party formats only (mediation, conference, circle):
    stages: list[Literal[STAGES]] | None = None  # type: ignore[valid-type]  # default: DEFAULT_STAGES[format]
    talking_piece: list[str] | None = None  # circle order (persona ids); default: roster order
    participants: dict[str, Participant] | None = None
    agreement: Agreement | None = None

    @property
    def is_group(self) -> bool:
        return self.format in GROUP_FORMATS

    @property
    def stage_ids(self) -> tuple[str, ...]:
        if not self.is_group:
            return ()
        return tuple(self.stages) if self.stages else DEFAULT_STAGES[self.format]

    @property
    def circle_order(self) -> tuple[str, ...]:
        return tuple(self.talking_piece) if self.talking_piece else tuple(r.persona for r in self.roster)

    @model_validator(mode="after")
    def _consistent(self) -> "Scenario":
        roles = [r.role for r in self.roster]
        if "harmed" not in roles or "responsible" not in roles:
            raise ValueError("roster needs a harmed and a responsible party")
        goal_ids = {g.id for g in self.goals}
        unknown = [s for s in self.success if s not in goal_ids]
        if unknown:
            raise ValueError(f"success names unknown goal ids: {', '.join(unknown)}")
        if self.is_group:
            self._check_group()
        else:
            extra = [k for k in ("stages", "talking_piece", "participants", "agreement") if getattr(self, k) is not None]
            if extra:
                raise ValueError(f"{', '.join(extra)}: only for the mediation, conference and circle formats")
            if any(g.agreement for g in self.goals):
                raise ValueError("an agreement goal needs a mediation, conference or circle format")
        return self

    def _check_group(self) -> None:
        ids = [r.persona for r in self.roster]
        if len(set(ids)) != len(ids):
            raise ValueError("roster: each person at most once in a multi-party session")
        if self.format == "mediation" and (len(ids) != 2 or sorted(r.role for r in self.roster) != ["harmed", "responsible"]):
            raise ValueError("mediation: the roster is exactly one harmed and one responsible party")
        if self.format != "mediation" and len(ids) < 3:
            raise ValueError(f"{self.format}: the roster needs three to six participants")
        if [r.role for r in self.roster].count("responsible") != 1 or [r.role for r in self.roster].count("harmed") != 1:
            raise ValueError("a multi-party roster has exactly one harmed and one responsible party")
        stages = self.stage_ids
        if stages[0] != "opening" or stages[-1] != "agreement" or len(set(stages)) != len(stages):
            raise ValueError("stages: start with opening, end with agreement, each stage once")
        if self.format == "mediation" and "supporters" in stages:
            raise ValueError("stages: a mediation has no supporters' stage (two parties only)")
        if self.talking_piece is not None:
            if self.format != "circle":
                raise ValueError("talking_piece: only for the circle format")
            if sorted(self.talking_piece) != sorted(ids):
                raise ValueError("talking_piece: list every roster person exactly once")
        if self.participants is None:
            raise ValueError(f"participants: a {self.format} needs lines for every roster person")
        if self.agreement is None:
            raise ValueError(f"agreement: a {self.format} needs the items the group can agree to")
        missing = [i for i in ids if i not in self.participants]
        stray = [k for k in self.participants if k not in ids]
        if missing or stray:
            raise ValueError("participants: one entry per roster person"
                             + (f"; missing {', '.join(missing)}" if missing else "")
                             + (f"; not on the roster: {', '.join(stray)}" if stray else ""))
        role_of = {r.persona: r.role for r in self.roster}
        for pid, part in self.participants.items():
            role = role_of[pid]
            where = f"participants.{pid}"
            if (role == "responsible") != (part.apology is not None):
                raise ValueError(f"{where}.apology: the responsible party, and only they, have apology lines")
            if (role == "harmed") != (part.on_apology is not None):
                raise ValueError(f"{where}.on_apology: the harmed party, and only they, have replies to an apology")
            if part.wider_harm and role != "community":
                raise ValueError(f"{where}.wider_harm: only a community member speaks to the wider harm")
            if part.supports is not None and role not in ("parent", "supporter"):
                raise ValueError(f"{where}.supports: only a parent or supporter is there for someone")
            if (part.defends or part.rebukes) and part.supports is None:
                raise ValueError(f"{where}: defends and rebukes lines need supports (whom they are there for)")
            if part.supports is not None:
                if part.supports not in ids or part.supports == pid:
                    raise ValueError(f"{where}.supports: {part.supports!r} is not another person on the roster")
                if not part.defends or not part.rebukes:
                    raise ValueError(f"{where}: someone who supports another needs defends and rebukes lines")
            if role in ("parent", "supporter") and part.supports is None:
                raise ValueError(f"{where}.supports: say whom this {role} is there for")
            if role == "community" and not part.wider_harm:
                raise ValueError(f"{where}.wider_harm: a community member needs lines on the wider harm")
        for item in self.agreement.items:
            bad = [p for p in item.parties if p not in ids]
            if bad:
                raise ValueError(f"agreement.items.{item.id}.parties: not on the roster: {', '.join(bad)}")
