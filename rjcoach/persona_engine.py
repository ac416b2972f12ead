"""The embedded persona engine: offline, deterministic for a given seed.

A persona is an agent: it *observes* a message with its analysis (never the model's internals)
and *acts* with a reply and its new state. Its state moves with how it is spoken to; its reply is
chosen by meaning from the topics its file authors, in the variant its state calls for, without
repeating itself; disclosures come when trust passes their threshold and the topic invites them.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from rjcoach.labels import ACCUSATORY
from rjcoach.persona_schema import TOPICS, Persona, Reply

OPEN_TRUST = 0.55
OPEN_MAX_DEFENSIVENESS = 0.6
OFF_TOPIC_SIMILARITY = 0.32
INTERROGATION_RUN = 3

# How each label moves the state, before the persona's own sensitivity multiplies it.
# (trust, distress, defensiveness) deltas; `kind` names the sensitivity that applies.
EFFECTS: dict[str, tuple[str, float, float, float]] = {
    "reflection": ("listening", 0.06, -0.02, -0.04),
    "emotion_label": ("listening", 0.06, -0.03, -0.03),
    "summary": ("listening", 0.05, -0.02, -0.03),
    "encourager": ("listening", 0.02, 0.0, -0.01),
    "open_question": ("listening", 0.01, 0.0, 0.0),
    "validation": ("empathy", 0.07, -0.04, -0.05),
    "sympathy": ("empathy", 0.05, -0.03, -0.02),
    "restorative_question": ("restorative", 0.05, 0.0, -0.02),
    # Accusatory labels each hurt in their own way.
    "accusation": ("accusatory", -0.12, 0.05, 0.15),  # presumed guilty: digs in
    "labeling": ("accusatory", -0.15, 0.06, 0.15),  # insulted
    "victim_blaming": ("accusatory", -0.15, 0.12, 0.08),  # wounded
    "threat": ("accusatory", -0.14, 0.12, 0.18),  # frightened or provoked
    "minimizing": ("accusatory", -0.10, 0.06, 0.06),  # dismissed
    "why_question": ("accusatory", -0.05, 0.02, 0.08),  # put on the defensive
    "generalization": ("accusatory", -0.10, 0.04, 0.10),  # lumped in
    "advice": ("accusatory", -0.02, 0.0, 0.03),  # unasked advice grates a little
}
LISTENING_MOVES = frozenset({"reflection", "emotion_label", "summary", "validation", "sympathy", "encourager"})
QUESTION_MOVES = frozenset({"open_question", "closed_question", "restorative_question"})
# Worst first, for choosing which reaction a message with several accusatory labels gets.
REACTION_ORDER = ("threat", "labeling", "victim_blaming", "accusation", "minimizing", "generalization", "why_question")


@dataclass(frozen=True)
class PersonaState:
    trust: float
    distress: float
    defensiveness: float
    closed_run: int = 0
    turn: int = 0
    disclosed: tuple[str, ...] = ()
    topic: str | None = None  # what the conversation is about, for replies to reflections

    def as_dict(self) -> dict:
        return {
            "trust": round(self.trust, 3),
            "distress": round(self.distress, 3),
            "defensiveness": round(self.defensiveness, 3),
            "closed_run": self.closed_run,
            "turn": self.turn,
            "disclosed": list(self.disclosed),
            "topic": self.topic,
        }


@dataclass(frozen=True)
class Observation:
    """What a persona hears: who spoke, the words, and the analyser's labels for them."""

    text: str
    labels: frozenset[str]
    speaker: str = "trainee"


@dataclass(frozen=True)
class PersonaTurn:
    """What a persona says back, with tags for the coach and the state after the message."""

    persona_id: str
    text: str
    emotion: str
    topic: str  # a topic name, or "reaction:<label>"
    disclosure: str | None
    variant: str  # "open", "guarded", "reaction", "disclosure"
    state: PersonaState
    similarity: float
    backend: str = "embedded"  # "embedded", an LLM backend's name, or "embedded-fallback"
    notice: str | None = None  # why the engine switched, for the record and the trainee

    @property
    def tags(self) -> dict:
        return {"emotion": self.emotion, "disclosure": self.disclosure, "topic": self.topic,
                "variant": self.variant, "backend": self.backend}


class PersonaAgent(Protocol):
    persona: Persona

    def observe(self, obs: Observation) -> None: ...

    def act(self) -> PersonaTurn: ...


def pick_unused(used: dict[str, list[int]], key: str, replies: list[Reply], seed: str) -> Reply:
    """Next unused reply of ``key`` in a seeded order (kept in ``used``); a list starts again, in a
    fresh order from ``seed``, only when used up."""
    order = used.get(key)
    if not order:
        rng = random.Random(seed)
        order = list(range(len(replies)))
        rng.shuffle(order)
    idx = order.pop(0)
    used[key] = order
    return replies[idx]


def clamp(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


def update_state(persona: Persona, state: PersonaState, labels: frozenset[str], weight: float = 1.0) -> PersonaState:
    """The new state after one trainee message, from its rubric labels (pure).

    ``weight`` scales the whole move: 1 for the person spoken to, less for someone who overhears it
    in a group (rjcoach.circle)."""
    sens = persona.sensitivity
    d_trust = d_distress = d_def = 0.0
    accusatory = bool(labels & ACCUSATORY)
    for label in labels:
        if label not in EFFECTS:
            continue
        if accusatory and EFFECTS[label][0] != "accusatory":
            continue  # warm words in the same breath as blame do not land
        kind, t, s, d = EFFECTS[label]
        k = getattr(sens, kind)
        d_trust += t * k
        d_distress += s * k
        d_def += d * k
    closed_only = "closed_question" in labels and not labels & {"reflection", "emotion_label", "summary", "open_question"}
    closed_run = state.closed_run + 1 if closed_only else 0
    if closed_run >= INTERROGATION_RUN:  # a run of closed questions feels like interrogation
        k = sens.interrogation
        d_trust -= 0.04 * k
        d_def += 0.06 * k
    # Harder personas warm up more slowly; trust grows slowly near the top.
    if d_trust > 0:
        d_trust *= (1.15 - 0.15 * persona.difficulty) * (1.0 - state.trust * 0.5)
        d_trust = min(d_trust, 0.12)
    else:
        d_trust = max(d_trust, -0.3)
    d_trust, d_distress, d_def = d_trust * weight, d_distress * weight, d_def * weight
    return replace(
        state,
        trust=clamp(state.trust + d_trust),
        distress=clamp(state.distress + d_distress),
        defensiveness=clamp(state.defensiveness + d_def),
        closed_run=closed_run,
        turn=state.turn + 1,
    )


class TopicIndex:
    """Embeddings of every topic prompt of a persona, for matching by meaning."""

    def __init__(self, persona: Persona) -> None:
        from rjcoach.embeddings import embed

        self.topics: list[str] = []
        prompts: list[str] = []
        for name in TOPICS:
            for p in persona.topics[name].prompts:
                self.topics.append(name)
                prompts.append(p)
        self.vectors = embed(prompts)

    def match(self, text: str) -> tuple[str, float]:
        from rjcoach.embeddings import embed_one

        if not text.strip():
            return "off_topic", 0.0
        sims = self.vectors @ embed_one(text)
        best = int(np.argmax(sims))
        return self.topics[best], float(sims[best])


_INDEX_CACHE: dict[tuple[str, int], TopicIndex] = {}


def topic_index(persona: Persona) -> TopicIndex:
    key = (persona.id, hash(persona.model_dump_json()))
    if key not in _INDEX_CACHE:
        _INDEX_CACHE[key] = TopicIndex(persona)
    return _INDEX_CACHE[key]


def persona_lines(persona: Persona) -> list[str]:
    """Every line the embedded engine can say for ``persona``, word for word (its topic replies,
    disclosures and reactions to accusatory language): what a trainee's message will answer."""
    lines = [r.text for topic in persona.topics.values() for r in (*topic.guarded, *topic.open)]
    lines += [d.text for d in persona.disclosures]
    lines += [r.text for label in REACTION_ORDER for r in getattr(persona.reactions, label)]
    return list(dict.fromkeys(lines))


@dataclass
class EmbeddedPersona:
    """A persona played by the embedded engine."""

    persona: Persona
    seed: int = 0
    state: PersonaState = field(init=False)
    _pending: Observation | None = field(init=False, default=None)
    _used: dict[str, list[int]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        s = self.persona.start
        self.state = PersonaState(s.trust, s.distress, s.defensiveness)
        self.index = topic_index(self.persona)

    def observe(self, obs: Observation) -> None:
        self.state = update_state(self.persona, self.state, obs.labels)
        self._pending = obs

    def act(self) -> PersonaTurn:
        if self._pending is None:
            raise RuntimeError("act() before observe(): a persona answers a message")
        obs, self._pending = self._pending, None
        return self.respond(obs)

    def respond(self, obs: Observation) -> PersonaTurn:
        """The reply to a message whose effect on the state has already been applied (a group
        session moves every participant's state itself, then asks the person spoken to for a reply)."""
        topic, sim = self.index.match(obs.text)
        gives_back = obs.labels & LISTENING_MOVES
        asks = obs.labels & QUESTION_MOVES
        if gives_back and not asks and self.state.topic and (sim < 0.5 or topic in ("off_topic", "small_talk")):
            # A reflection or an empathic remark keeps the conversation where it was.
            topic = self.state.topic
        elif sim < OFF_TOPIC_SIMILARITY:
            topic = "off_topic"
        if topic not in ("off_topic", "small_talk"):
            self.state = replace(self.state, topic=topic)
        accusatory = [label for label in REACTION_ORDER if label in obs.labels]
        if accusatory:
            label = accusatory[0]
            reply = self._pick(f"reaction:{label}", getattr(self.persona.reactions, label))
            return self._turn(reply, f"reaction:{label}", None, "reaction", sim)
        for d in self.persona.disclosures:
            if d.id not in self.state.disclosed and topic in d.topics and self.state.trust >= d.min_trust:
                self.state = replace(self.state, disclosed=self.state.disclosed + (d.id,))
                return self._turn(Reply(text=d.text, emotion=d.emotion), topic, d.id, "disclosure", sim)
        is_open = self.state.trust >= OPEN_TRUST and self.state.defensiveness < OPEN_MAX_DEFENSIVENESS
        variant = "open" if is_open else "guarded"
        replies = getattr(self.persona.topics[topic], variant)
        return self._turn(self._pick(f"{topic}:{variant}", replies), topic, None, variant, sim)

    def _pick(self, key: str, replies: list[Reply]) -> Reply:
        return pick_unused(self._used, key, replies, f"{self.seed}:{self.persona.id}:{key}:{self.state.turn}")

    def _turn(self, reply: Reply, topic: str, disclosure: str | None, variant: str, sim: float) -> PersonaTurn:
        return PersonaTurn(self.persona.id, reply.text, reply.emotion, topic, disclosure, variant, self.state, round(sim, 4))
