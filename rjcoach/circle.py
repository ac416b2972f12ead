"""A multi-party world: a restorative conference, a circle, or a mediation, with the trainee facilitating.

ParlAI's idea of a world: several agents (the embedded personas), one exchange at a time. The
trainee speaks to someone (by name, by choosing them, by passing the talking piece, or the group);
everyone in the room hears it, the person spoken to answers, and the others hear that answer too:
an apology lands or falls flat with the harmed party by its wording and their state, a parent
defends or rebukes their child, a community member names the wider harm. The session follows the
conference's stages, and agreement items are agreed only when every party to them says yes.

Deterministic for a scenario, a seed and the same messages (the same seed gives the same circle).
The analysis of the trainee's words comes in from outside; ``label_fn`` (optional) labels a
participant's apology with the analyser so that its wording is judged by the rubric as well.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from rjcoach.hearing import apology_wording, hear_apology, hear_line, line_kind
from rjcoach.labels import ACCUSATORY
from rjcoach.persona_engine import EmbeddedPersona, Observation, PersonaState, pick_unused, update_state
from rjcoach.persona_schema import GROUP, Persona, Reply, Scenario  # noqa: F401 (GROUP re-exported)

EVERYONE = "everyone"
PIECE = "piece"
AUTO = "auto"
OVERHEAR_WEIGHT = 0.4
"""How much of a message to someone else moves a bystander."""
GROUP_WEIGHT = 0.6
"""How much a message to the whole room moves each person: less personal than words said to them."""
SUPPORTER_BLAME_WEIGHT = 0.6
"""A parent hearing their child blamed feels it nearly as much as the child."""
PROPOSAL_SIMILARITY = 0.55
APOLOGY_INVITE_SIMILARITY = 0.7
REBUKE_TRUST = 0.45
"""A supporter who trusts the process at least this much holds their own person to account."""
APOLOGY_PROMPTS = (
    "{responsible}, is there anything you would like to say to {harmed}?",
    "{responsible}, what would you like to say to {harmed} now?",
    "Is there something you want to say to {harmed}, {responsible}?",
    "{responsible}, having heard {harmed}, what do you want to say to them?",
)
"""Facilitator phrasings that invite the responsible party's apology (plus the scenario's own)."""
STAGE_TITLES = {
    "opening": "Opening and ground rules",
    "responsible_account": "The responsible party's account",
    "harmed_account": "The harmed party's account",
    "supporters": "Supporters and community",
    "what_needs_to_happen": "What needs to happen",
    "agreement": "Agreement",
}
STAGE_SPEAKERS: dict[str, frozenset[str] | None] = {
    "opening": None,  # everyone: a check-in, the ground rules
    "responsible_account": frozenset({"responsible"}),
    "harmed_account": frozenset({"harmed"}),
    "supporters": frozenset({"parent", "supporter", "community"}),
    "what_needs_to_happen": None,
    "agreement": None,
}
"""Whose voice each stage is for (None: everyone's)."""
GIVING_BACK = frozenset({"reflection", "emotion_label", "summary", "validation", "sympathy", "encourager"})
QUESTION_LABELS_ALL = frozenset({"open_question", "closed_question", "restorative_question"})
TITLES = frozenset({"pastor", "mr", "mrs", "ms", "miss", "dr", "father", "reverend", "rev", "sister"})


@dataclass(frozen=True)
class Line:
    """One participant's words in an exchange."""

    persona_id: str
    name: str
    text: str
    emotion: str
    kind: str  # reply, disclosure, reaction, apology, apology_response, defends, rebukes, wider_harm, agrees, declines
    topic: str | None = None
    disclosure: str | None = None
    verdict: str | None = None  # apology: lands/half/flat; apology_response: accepts/doubts/rejects
    item: str | None = None  # the agreement item an agrees/declines line answers
    wording: dict | None = None  # apology: how it was worded (hearing.ApologyWording.as_dict)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Exchange:
    """What one facilitator message led to, and the room after it."""

    stage: str
    addressed: str  # a persona id, or EVERYONE
    how: str  # "chosen", "named", "piece", "apology", "proposal", "stage", "least_heard"
    lines: tuple[Line, ...]
    states: dict[str, PersonaState]
    piece: str | None  # who holds the talking piece now (circle)
    agreed: tuple[str, ...]  # agreement items agreed so far
    proposal: str | None = None

    @property
    def text(self) -> str:
        return "\n\n".join(f"{ln.name}: {ln.text}" for ln in self.lines)

    def as_dict(self) -> dict:
        return {"stage": self.stage, "to": self.addressed, "how": self.how, "piece": self.piece,
                "agreed": list(self.agreed), "proposal": self.proposal,
                "utterances": [ln.as_dict() for ln in self.lines],
                "states": {pid: st.as_dict() for pid, st in self.states.items()}}


def side_of(scenario: Scenario, pid: str) -> str:
    """'harmed', 'responsible' or 'neutral': whose side a roster person is on in the room (a parent
    or supporter is on the side of the person they are there for)."""
    roles = {r.persona: r.role for r in scenario.roster}
    if roles[pid] in ("harmed", "responsible"):
        return roles[pid]
    part = (scenario.participants or {}).get(pid)
    sup = part.supports if part is not None else None
    return roles[sup] if sup and roles.get(sup) in ("harmed", "responsible") else "neutral"


def aliases(personas: list[Persona]) -> dict[str, str]:
    """Lower-case ways to name each person -> persona id (a surname shared by two is left out)."""
    out: dict[str, str] = {}
    surnames = Counter(p.name.split()[-1].lower() for p in personas)
    for p in personas:
        words = p.name.split()
        low = [w.lower() for w in words]
        out[" ".join(low)] = p.id
        title = low[0] if low[0] in TITLES and len(low) > 1 else None
        given = low[1] if title else low[0]
        out[given] = p.id
        if title:
            out[f"{title} {given}"] = p.id
            out[title] = p.id
        if len(low) > 1 and surnames[low[-1]] == 1:
            for t in ("mr", "mrs", "ms", "miss", title or "mr"):
                out[f"{t} {low[-1]}"] = p.id
    return out


def _mentions(text: str, names: dict[str, str]) -> list[tuple[int, int, int, str]]:
    low = text.lower()
    found = []
    for alias, pid in names.items():
        for m in re.finditer(rf"(?<![\w']){re.escape(alias)}(?![\w'])", low):
            found.append((m.start(), -len(alias), m.end(), pid))
    return sorted(found)


def vocative(text: str, names: dict[str, str]) -> str | None:
    """Whom a message is said to by name: a name at the start or end set off by a comma
    ("Jayden, ...", "..., Rana?"); None if no name is set off like that."""
    low = text.lower()
    stripped = low.strip()
    for start, _neg, end, pid in _mentions(text, names):
        before, after = low[:start].strip(), low[end:].strip()
        if (not before or before in ("so", "and", "ok", "okay", "right", "thanks", "thank you")) and after[:1] in (",", "?", ".", "!", "-", ""):
            return pid
        if before.endswith(",") and after in ("", "?", ".", "!") and stripped.endswith(after):
            return pid
    return None


def without_names(text: str, names: dict[str, str], word: str = "you") -> str:
    """A message with these names taken out (a vocative dropped, other mentions made ``word``), for
    matching by meaning: a short message and a prompt that share a name otherwise look alike to the
    encoder ("Nadia, can you tell us your side of it?" and "Nadia, what would you like to say to Brian?")."""
    spans, last = [], -1
    for start, _neg, end, _pid in _mentions(text, names):  # longest first at each place, no overlaps
        if start >= last:
            spans.append((start, end))
            last = end
    out = text
    for start, end in reversed(spans):
        out = out[:start] + "\x00" + out[end:]
    out = re.sub(r"^\s*((?:so|and|ok|okay|right|thanks|thank you)\s+)?\x00\s*[,\-]\s*", lambda m: m.group(1) or "", out,
                 flags=re.I)
    out = re.sub(r",\s*\x00\s*([?.!]?)\s*$", r"\1", out)
    return out.replace("\x00", word).strip()


def named(text: str, names: dict[str, str]) -> str | None:
    """Who a message speaks to by name: the vocative (see :func:`vocative`), else the first person
    named; None if nobody is."""
    found = _mentions(text, names)
    if not found:
        return None
    return vocative(text, names) or found[0][3]


class PromptIndex:
    """Facilitator phrasings embedded once, for matching a message by meaning."""

    def __init__(self, keys: list[str], prompts: list[str]) -> None:
        from rjcoach.embeddings import embed

        self.keys = keys
        self.vectors = embed(prompts) if prompts else np.zeros((0, 384), dtype=np.float32)

    def best(self, text: str) -> tuple[str | None, float]:
        from rjcoach.embeddings import embed_one

        if not self.keys or not text.strip():
            return None, 0.0
        sims = self.vectors @ embed_one(text)
        i = int(np.argmax(sims))
        return self.keys[i], float(sims[i])


_PROMPT_CACHE: dict[tuple, PromptIndex] = {}


def _prompt_index(key: tuple, keys: list[str], prompts: list[str]) -> PromptIndex:
    if key not in _PROMPT_CACHE:
        _PROMPT_CACHE[key] = PromptIndex(keys, prompts)
    return _PROMPT_CACHE[key]


@dataclass
class GroupWorld:
    """Everyone in the room, the stage, the talking piece and what has been agreed."""

    scenario: Scenario
    personas: dict[str, Persona]
    seed: int = 0
    label_fn: Callable[[str], frozenset[str]] | None = None
    agents: dict[str, EmbeddedPersona] = field(init=False)
    stage_index: int = field(init=False, default=0)
    piece_index: int = field(init=False, default=0)
    agreed: list[str] = field(init=False, default_factory=list)
    spoken: Counter = field(init=False, default_factory=Counter)
    spoken_in_stage: dict[str, Counter] = field(init=False, default_factory=dict)
    _used: dict[str, list[int]] = field(init=False, default_factory=dict)
    _turn: int = field(init=False, default=0)
    last_speaker: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if not self.scenario.is_group:
            raise ValueError(f"scenario {self.scenario.id!r} is one-to-one, not a group format")
        missing = [r.persona for r in self.scenario.roster if r.persona not in self.personas]
        if missing:
            raise KeyError(f"scenario {self.scenario.id!r}: persona(s) not available: {', '.join(missing)}")
        self.roster = [r.persona for r in self.scenario.roster]
        self.role = {r.persona: r.role for r in self.scenario.roster}
        self.agents = {pid: EmbeddedPersona(self.personas[pid], seed=self.seed) for pid in self.roster}
        self.parts = self.scenario.participants or {}
        self.harmed = next(p for p in self.roster if self.role[p] == "harmed")
        self.responsible = next(p for p in self.roster if self.role[p] == "responsible")
        self.names = aliases([self.personas[p] for p in self.roster])
        self.order = list(self.scenario.circle_order)
        sub = {"responsible": self.first(self.responsible), "harmed": self.first(self.harmed)}
        # Matched without the responsible party's name, which every invitation starts with: with it,
        # any question put to them by name looks like an invitation to apologise.
        self.responsible_names = {a: p for a, p in self.names.items() if p == self.responsible}
        invites = [without_names(p.format(**sub), self.responsible_names)
                   for p in APOLOGY_PROMPTS + tuple(self.parts[self.responsible].apology.prompts)]
        self.apology_index = _prompt_index(("apology", self.scenario.id, tuple(invites)), ["apology"] * len(invites), invites)
        items = self.scenario.agreement.items
        keys = [i.id for i in items for _ in i.prompts]
        prompts = [p for i in items for p in i.prompts]
        self.item_index = _prompt_index(("items", self.scenario.id, tuple(prompts)), keys, prompts)

    # who is who ----------------------------------------------------------------------------------
    def first(self, pid: str) -> str:
        words = self.personas[pid].name.split()
        return words[1] if words[0].lower() in TITLES and len(words) > 1 else words[0]

    def side(self, pid: str) -> str:
        return side_of(self.scenario, pid)

    def relation(self, listener: str, speaker: str) -> str:
        if self.parts[listener].supports == speaker or self.parts[speaker].supports == listener:
            return "own"
        a, b = self.side(listener), self.side(speaker)
        if "neutral" in (a, b):
            return "neutral"
        return "own" if a == b else "other"

    def supporter_of(self, pid: str) -> str | None:
        return next((p for p in self.roster if self.parts[p].supports == pid), None)

    @property
    def stage(self) -> str:
        return self.scenario.stage_ids[self.stage_index]

    @property
    def piece(self) -> str | None:
        return self.order[self.piece_index % len(self.order)] if self.scenario.format == "circle" else None

    @property
    def states(self) -> dict[str, PersonaState]:
        return {pid: a.state for pid, a in self.agents.items()}

    # facilitator moves without words -------------------------------------------------------------
    def set_stage(self, stage: str) -> None:
        if stage not in self.scenario.stage_ids:
            raise ValueError(f"stage {stage!r} is not one of {', '.join(self.scenario.stage_ids)}")
        self.stage_index = self.scenario.stage_ids.index(stage)

    def next_stage(self) -> str:
        if self.stage_index + 1 >= len(self.scenario.stage_ids):
            raise ValueError("this is the last stage: end the session when the agreement is made")
        self.stage_index += 1
        return self.stage

    def pass_piece(self) -> str:
        """The talking piece moves to the next person in circle order (someone may pass)."""
        if self.scenario.format != "circle":
            raise ValueError("there is no talking piece in a " + self.scenario.format)
        self.piece_index = (self.piece_index + 1) % len(self.order)
        return self.piece

    def set_piece(self, pid: str | None) -> None:
        if pid is not None and pid in self.order:
            self.piece_index = self.order.index(pid)

    # one exchange ------------------------------------------------------------------------------
    def resolve(self, text: str, to: str | None, labels: frozenset[str] = frozenset()) -> tuple[str, str]:
        """Who the facilitator is speaking to, and how that was decided: chosen, named, the talking
        piece (circle), the last speaker (a reflection or empathy with no question gives back what
        they said), else the stage's voice heard least so far."""
        if to and to not in (AUTO, PIECE):
            if to != EVERYONE and to not in self.agents:
                raise KeyError(f"{to!r} is not in this {self.scenario.format}")
            return to, "chosen"
        pid = named(text, self.names)
        if pid is not None:
            return pid, "named"
        if self.scenario.format == "circle" and to == PIECE:
            return self.piece, "piece"
        if labels & GIVING_BACK and not labels & QUESTION_LABELS_ALL and self.last_speaker is not None:
            return self.last_speaker, "last_speaker"
        if self.scenario.format == "circle":
            return self.piece, "piece"
        speakers = STAGE_SPEAKERS.get(self.stage)
        heard = self.spoken_in_stage.get(self.stage, Counter())
        pool = [p for p in self.roster if speakers is None or self.role[p] in speakers] or self.roster
        if len(pool) == 1:
            return pool[0], "stage"
        return min(pool, key=lambda p: (heard[p], self.roster.index(p))), "least_heard"

    def exchange(self, text: str, labels: frozenset[str], to: str | None = None) -> Exchange:
        """The room's answer to one facilitator message (its rubric labels from the analyser)."""
        self._turn += 1
        accusatory = bool(labels & ACCUSATORY)
        proposal, item_sim = None, 0.0
        if not accusatory and self.stage in ("what_needs_to_happen", "agreement"):
            item, item_sim = self.item_index.best(text)
            if item is not None and item_sim >= PROPOSAL_SIMILARITY:
                proposal = item
        invite = False
        said_to = vocative(text, self.names)
        # A message said to someone else by name ("Rana, how has this affected you?") is theirs,
        # however close its words come to an invitation to apologise to them.
        if not accusatory and said_to in (None, self.responsible):
            _, sim = self.apology_index.best(without_names(text, self.responsible_names))
            # Both may match (the names are in both): the closer reading wins.
            invite = sim >= APOLOGY_INVITE_SIMILARITY and (proposal is None or sim > item_sim)
            if invite:
                proposal = None
        addressed, how = self.resolve(text, to, labels)
        if invite and to in (None, AUTO, PIECE, self.responsible):
            addressed, how = self.responsible, "apology"
        elif proposal is not None and to in (None, AUTO, PIECE, EVERYONE):
            addressed, how = EVERYONE, "proposal"
        # Everyone hears the facilitator.
        supporter = self.supporter_of(addressed) if addressed != EVERYONE else None
        for pid, agent in self.agents.items():
            if pid == addressed:
                weight = 1.0
            elif addressed == EVERYONE:
                weight = GROUP_WEIGHT
            elif accusatory and pid == supporter:
                weight = SUPPORTER_BLAME_WEIGHT
            else:
                weight = OVERHEAR_WEIGHT
            new = update_state(agent.persona, agent.state, labels, weight)
            if pid != addressed and addressed != EVERYONE:
                new = replace(new, closed_run=agent.state.closed_run)  # a run of questions to someone else
            agent.state = new
        lines: list[Line] = []
        if proposal is not None:
            lines += self._answer_proposal(proposal)
        elif how == "apology":
            lines.append(self._apology())
        else:
            speaker = addressed if addressed != EVERYONE else self.resolve(text, AUTO, labels)[0]
            if addressed == EVERYONE and self.scenario.format == "circle":
                speaker = self.piece
            lines.append(self._reply(speaker, text, labels))
        main = lines[-1]
        for ln in list(lines):
            self._heard_by_all(ln)
        extra = self._interjection(main, addressed, accusatory)
        if extra is not None:
            lines.append(extra)
            self._heard_by_all(extra)
        for ln in lines:
            self.spoken[ln.persona_id] += 1
            self.spoken_in_stage.setdefault(self.stage, Counter())[ln.persona_id] += 1
        self.last_speaker = lines[0].persona_id if len(lines) == 1 or lines[0].kind != "agrees" else self.last_speaker
        if how == "piece" or (self.scenario.format == "circle" and lines[0].persona_id == self.piece):
            self.pass_piece()
        return Exchange(self.stage, addressed, how, tuple(lines), self.states, self.piece, tuple(self.agreed), proposal)

    # the lines --------------------------------------------------------------------------------
    def _pick(self, key: str, replies: list[Reply]) -> Reply:
        return pick_unused(self._used, key, replies, f"{self.seed}:{self.scenario.id}:{key}:{self._turn}")

    def _line(self, pid: str, reply: Reply, kind: str, **extra) -> Line:
        return Line(pid, self.personas[pid].name, reply.text, reply.emotion, kind, **extra)

    def _reply(self, pid: str, text: str, labels: frozenset[str]) -> Line:
        part = self.parts[pid]
        agent = self.agents[pid]
        turn = agent.respond(Observation(text, labels))
        if (part.wider_harm and turn.variant in ("open", "guarded")
                and turn.topic in ("impact", "what_happened", "feelings", "other_party")
                and len(self._used.get(f"{pid}:wider_harm", [None])) > 0 and not labels & ACCUSATORY):
            return self._line(pid, self._pick(f"{pid}:wider_harm", part.wider_harm), "wider_harm", topic=turn.topic)
        kind = {"disclosure": "disclosure", "reaction": "reaction"}.get(turn.variant, "reply")
        return Line(pid, self.personas[pid].name, turn.text, turn.emotion, kind, topic=turn.topic,
                    disclosure=turn.disclosure)

    def _apology(self) -> Line:
        pid = self.responsible
        st = self.agents[pid].state
        lines = self.parts[pid].apology
        sincere = st.trust >= 0.5 and st.defensiveness < 0.55
        reply = self._pick(f"{pid}:apology:{'sincere' if sincere else 'deflecting'}",
                           lines.sincere if sincere else lines.deflecting)
        labels = self.label_fn(reply.text) if self.label_fn else frozenset()
        wording = apology_wording(reply.text, labels)
        return self._line(pid, reply, "apology", verdict=wording.verdict, wording=wording.as_dict())

    def _answer_proposal(self, item_id: str) -> list[Line]:
        item = next(i for i in self.scenario.agreement.items if i.id == item_id)
        what = item.description.rstrip(". ")
        out, yes = [], True
        for pid in [p for p in self.roster if p in item.parties]:
            st = self.agents[pid].state
            agrees = st.trust >= item.min_trust and st.defensiveness < 0.6
            yes &= agrees
            part = self.parts[pid]
            pool = (part.agrees or [Reply(text="Yes. I can agree to that.", emotion="hope")]) if agrees else \
                (part.declines or [Reply(text="I'm not ready to say yes to that yet.", emotion="anxiety")])
            reply = self._pick(f"{pid}:{'agrees' if agrees else 'declines'}", pool)
            reply = Reply(text=reply.text.replace("{item}", what), emotion=reply.emotion)
            out.append(self._line(pid, reply, "agrees" if agrees else "declines", item=item_id))
        if yes and item_id not in self.agreed:
            self.agreed.append(item_id)
        return out

    def _heard_by_all(self, ln: Line) -> None:
        key = line_kind(ln.kind, ln.emotion, ln.verdict)
        for pid, agent in self.agents.items():
            if pid == ln.persona_id:
                continue
            if ln.kind == "apology" and pid == self.harmed:
                continue  # the harmed party's answer is an interjection of its own (below)
            relation = self.relation(pid, ln.persona_id)
            if ln.kind == "wider_harm":  # the community speaks to the harm: it sinks in on the responsible side
                relation = {"responsible": "other", "harmed": "own"}.get(self.side(pid), "neutral")
            agent.state = hear_line(agent.persona, agent.state, key, relation)

    def _interjection(self, main: Line, addressed: str, accusatory: bool) -> Line | None:
        """At most one other voice per exchange, in this order: the harmed party answering an apology;
        a supporter defending their person from blame; a supporter rebuking their person for dodging."""
        if main.kind == "apology":
            harmed = self.agents[self.harmed]
            from rjcoach.hearing import ApologyWording

            w = main.wording or {}
            wording = ApologyWording(w.get("says_sorry", False), w.get("owns_it", False), w.get("names_harm", False),
                                     w.get("repairs", False), w.get("excuses", False),
                                     tuple(w.get("blaming_labels", ())), w.get("score", 0.0))
            harmed.state, answer = hear_apology(harmed.persona, harmed.state, wording)
            responses = self.parts[self.harmed].on_apology
            reply = self._pick(f"{self.harmed}:{answer}", getattr(responses, answer))
            return self._line(self.harmed, reply, "apology_response", verdict=answer)
        who = main.persona_id
        sup = self.supporter_of(who)
        if sup is None:
            return None
        part = self.parts[sup]
        if accusatory and addressed == who:
            return self._line(sup, self._pick(f"{sup}:defends", part.defends), "defends")
        dodging = main.kind == "reaction" or main.verdict == "flat" or main.emotion == "defiance"
        if dodging and self.agents[sup].state.trust >= REBUKE_TRUST:
            return self._line(sup, self._pick(f"{sup}:rebukes", part.rebukes), "rebukes")
        return None
