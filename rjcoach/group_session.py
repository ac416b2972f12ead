"""A facilitated multi-party session (conference, circle, mediation), and the one object that runs its turn.

``GroupSession.turn(text, to=None)`` is the whole flow for one facilitator message, in one direction:
text -> analysis -> coaching (the rubric coach, then facilitation) -> the room's answer
(rjcoach.circle) -> store (committed) -> what the UI shows. It has the same surface as
``PracticeSession`` (turn, rewind, end, history, row), so the UI and assessments treat both alike.

The stage and the talking piece are part of each stored turn, so a resumed session replays to the
same room. Moving to the next stage or passing the piece without then saying anything is not a turn
and is not stored: a resumed session continues from the stage of its last message.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from rjcoach.analysis import Analysis
from rjcoach.circle import AUTO, EVERYONE, GROUP, PIECE, STAGE_SPEAKERS, STAGE_TITLES, Exchange, GroupWorld
from rjcoach.coach import Feedback, PriorTurn, Tip, coach
from rjcoach.facilitation import StageView, facilitation, facilitation_tip, move_on_tip, neutrality_note
from rjcoach.labels import ACCUSATORY
from rjcoach.persona_loader import Library
from rjcoach.session import MessageRejected, analyse_message, check_message, check_rewind, feedback_dict
from rjcoach.store import PracticeSessionRow, Store, StoredTurn


@dataclass(frozen=True)
class GroupTurnResult:
    turn: StoredTurn
    analysis: Analysis
    feedback: Feedback
    exchange: Exchange


def group_dict(ex: Exchange, world: GroupWorld, asked_to: str | None, piece_from: str | None) -> dict:
    """The persona record of a group turn: the room's lines and states, plus the fields a one-to-one
    turn has (speaker, emotion, disclosure, state) taken from the first line: the answer of the
    person spoken to."""
    # The coach checks the feeling of the person spoken to (an interjection is not theirs to answer).
    feeling = ex.lines[0]
    disclosure = next((ln.disclosure for ln in ex.lines if ln.disclosure), None)
    return {**ex.as_dict(), "asked_to": asked_to, "piece_from": piece_from, "group": True,
            "speaker": feeling.persona_id, "speaker_name": world.first(feeling.persona_id),
            "emotion": feeling.emotion, "disclosure": disclosure, "topic": feeling.topic, "variant": feeling.kind,
            "state": ex.states[feeling.persona_id].as_dict(), "backend": "embedded"}


class GroupSession:
    def __init__(self, store: Store, library: Library, row: PracticeSessionRow, analyzer=None) -> None:
        from rjcoach.analyzer import get_analyzer

        scenario = library.scenarios.get(row.scenario_id)
        if scenario is None or not scenario.is_group:
            raise KeyError(f"scenario {row.scenario_id!r} is not an available group scenario")
        self.store, self.library, self.row, self.scenario = store, library, row, scenario
        self.analyzer = analyzer or get_analyzer()
        self._lock = threading.RLock()
        self._labels_cache: OrderedDict[str, frozenset[str]] = OrderedDict()
        self.personas = {r.persona: library.personas[r.persona] for r in scenario.roster if r.persona in library.personas}
        self.addressee = AUTO
        self.pending_tip: Tip | None = None
        self._replay(store.turns(row.id))

    # construction ----------------------------------------------------------------------------------
    @classmethod
    def start(cls, store: Store, library: Library, user_id: int, scenario_id: str, level: str = "coached",
              seed: int = 0, analyzer=None, assessment_id: int | None = None) -> "GroupSession":
        from rjcoach.coach import LEVELS

        if level not in LEVELS:
            raise ValueError(f"coaching level must be one of {', '.join(LEVELS)}")
        library.check_pair(scenario_id, GROUP)
        sid = store.create_session(user_id, scenario_id, GROUP, level, seed, assessment_id=assessment_id)
        return cls(store, library, store.session(sid), analyzer)

    @classmethod
    def resume(cls, store: Store, library: Library, session_id: str, analyzer=None) -> "GroupSession":
        row = store.session(session_id)
        if row is None:
            raise KeyError(f"no session {session_id!r}")
        return cls(store, library, row, analyzer)

    def _label(self, text: str) -> frozenset[str]:
        """Rubric labels of a participant's line (an apology's wording), cached: lines are authored."""
        hit = self._labels_cache.get(text)
        if hit is None:
            hit = self.analyzer.analyze(text).labels
            self._labels_cache[text] = hit
            if len(self._labels_cache) > 256:
                self._labels_cache.popitem(last=False)
        return hit

    def _replay(self, turns: list[StoredTurn]) -> None:
        self.world = GroupWorld(self.scenario, self.personas, seed=self.row.seed, label_fn=self._label)
        for t in turns:
            g = t.persona
            self.world.set_stage(g.get("stage", self.world.stage))
            self.world.set_piece(g.get("piece_from"))
            self.world.exchange(t.trainee_text, frozenset(t.analysis.get("labels", [])), g.get("asked_to"))
        if turns:
            self.world.set_stage(turns[-1].persona.get("stage", self.world.stage))
            self.world.set_piece(turns[-1].persona.get("piece"))

    # what the UI reads -----------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.row.id

    @property
    def is_group(self) -> bool:
        return True

    @property
    def stage(self) -> str:
        return self.world.stage

    @property
    def state(self):
        return self.world.agents[self.world.harmed].state

    def history(self) -> list[StoredTurn]:
        return self.store.turns(self.row.id)

    def title(self) -> str:
        names = [p.name for p in self.personas.values()]
        return f"{self.scenario.title}: {', '.join(names[:-1])} and {names[-1]}"

    def panel(self) -> dict:
        """Stages, who has spoken, who is waiting, the talking piece, agreement; states unless assessed."""
        w = self.world
        heard = w.spoken_in_stage.get(w.stage, {})
        speakers = STAGE_SPEAKERS.get(w.stage)
        waiting = [p for p in w.roster if (speakers is None or w.role[p] in speakers) and not heard.get(p)]
        people = [{"id": p, "name": self.personas[p].name, "role": w.role[p], "spoken": w.spoken[p],
                   "spoken_in_stage": heard.get(p, 0), "waiting": p in waiting,
                   "state": None if self.row.level == "assessment" else w.agents[p].state.as_dict()}
                  for p in w.roster]
        items = [{"id": i.id, "description": i.description, "agreed": i.id in w.agreed}
                 for i in self.scenario.agreement.items]
        return {"format": self.scenario.format, "stages": [(s, STAGE_TITLES[s]) for s in self.scenario.stage_ids],
                "stage": w.stage, "people": people, "piece": w.piece, "agreement": items,
                "required": self.scenario.agreement.required, "addressee": self.addressee}

    # facilitator moves ----------------------------------------------------------------------------
    def speak_to(self, target: str | None) -> str:
        """Whom the next messages go to: a persona id, 'everyone', 'piece' (circle) or 'auto' (by name)."""
        target = target or AUTO
        if target not in (AUTO, EVERYONE, PIECE) and target not in self.world.agents:
            raise MessageRejected(f"{target!r} is not in this {self.scenario.format}.")
        if target == PIECE and self.scenario.format != "circle":
            raise MessageRejected("Only a circle has a talking piece.")
        self.addressee = target
        return target

    def next_stage(self) -> tuple[str, Tip | None]:
        with self._lock:
            if self.row.status != "active":
                raise MessageRejected("This session has ended.")
            w = self.world
            old = w.stage
            speakers = STAGE_SPEAKERS.get(old)
            heard = w.spoken_in_stage.get(old, {})
            lead = [w.first(p) for p in w.roster if speakers is not None and w.role[p] in speakers and not heard.get(p)]
            recent = [frozenset(t.analysis.get("labels", [])) for t in self.history()
                      if t.persona.get("stage") == old][-2:]
            try:
                new = w.next_stage()
            except ValueError as exc:
                raise MessageRejected(str(exc)) from None
            tip = None if self.row.level == "assessment" else move_on_tip(STAGE_TITLES[old], recent, lead)
            self.pending_tip = tip
            return new, tip

    def pass_piece(self) -> str:
        with self._lock:
            try:
                return self.world.pass_piece()
            except ValueError as exc:
                raise MessageRejected(str(exc)) from None

    # the turn ---------------------------------------------------------------------------------------
    def turn(self, text: object, to: str | None = None) -> GroupTurnResult:
        with self._lock:
            return self._turn(text, to)

    def _stage_view(self, analysis: Analysis, addressed: str, history: list[StoredTurn]) -> StageView:
        w = self.world
        stage = w.stage
        speakers = STAGE_SPEAKERS.get(stage)
        in_stage = [t for t in history if t.persona.get("stage") == stage]
        return StageView(
            stage, STAGE_TITLES[stage], speakers,
            None if addressed == EVERYONE else w.role[addressed],
            "the group" if addressed == EVERYONE else w.first(addressed),
            tuple(w.first(p) for p in w.roster if speakers is not None and w.role[p] in speakers),
            # (the person this message invites is about to be heard)
            tuple(w.first(p) for p in w.roster if not w.spoken[p] and w.role[p] in self._due_roles() and p != addressed),
            len(in_stage) + 1,
            any("summary" in t.analysis.get("labels", []) for t in in_stage),
            len(history) + 1)

    def _due_roles(self) -> frozenset[str]:
        """Roles whose time to speak has come: in a circle everyone's (the piece goes round); in a
        conference or mediation the roles of the stages taken so far, and everyone's once the group
        works out what needs to happen."""
        roles = frozenset(self.world.role.values())
        if self.scenario.format == "circle":
            return roles
        ids = self.scenario.stage_ids
        due: set[str] = set()
        for stage in ids[: self.world.stage_index + 1]:
            speakers = STAGE_SPEAKERS.get(stage)
            if speakers is None and stage != "opening":
                return roles
            due |= speakers or set()
        return frozenset(due)

    def _turn(self, text: object, to: str | None) -> GroupTurnResult:
        if self.row.status != "active":
            raise MessageRejected("This session has ended; start a new one to keep practising.")
        text = check_message(text)
        asked_to = to if to is not None else self.addressee
        history = self.history()
        analysis = analyse_message(self.analyzer, text, history)
        w = self.world
        piece_from = w.piece
        try:
            addressed, _how = w.resolve(text, asked_to, analysis.labels)
        except KeyError as exc:
            raise MessageRejected(str(exc).strip("'\"")) from None
        prior = [PriorTurn(frozenset(t.analysis.get("labels", [])), t.persona.get("emotion", "neutral"),
                           _feeling_text(t)) for t in history]
        last_speaker = history[-1].persona.get("speaker_name", "they") if history else "they"
        feedback = coach(analysis, prior, self.row.level, last_speaker)
        view = self._stage_view(analysis, addressed, history)
        if self.row.level == "coached":
            # Facilitation comes after accusatory language and before everything else, except the
            # nudge to summarise, which only replaces a balance tip or praise.
            ftip = facilitation_tip(analysis, view)
            if ftip is None and self.pending_tip is not None and not analysis.labels & ACCUSATORY:
                ftip = self.pending_tip  # shown when the stage moved; repeated once if nothing else is said
            weak = feedback.tip is None or feedback.tip.kind in ("balance", "praise")
            if ftip is not None and (weak or (feedback.tip.kind == "missed_feeling" and ftip.kind == "facilitation"
                                              and not ftip.text.startswith("Before you move on"))):
                feedback = _with(feedback, tip=ftip)
        if analysis.labels & ACCUSATORY and self.row.level != "assessment":
            feedback = _with(feedback, notes=feedback.notes + (neutrality_note(view.addressed_name),))
        self.pending_tip = None
        exchange = w.exchange(text, analysis.labels, asked_to)
        record = group_dict(exchange, w, asked_to, piece_from)
        fb = feedback_dict(feedback)
        fb["notes"] = list(feedback.notes)
        try:
            stored = self.store.add_turn(self.row.id, text, analysis.to_dict(), fb, exchange.text, record)
        except Exception:
            self._replay(history)  # the turn did not happen: the room forgets it too
            raise
        return GroupTurnResult(stored, analysis, feedback, exchange)

    def rewind(self) -> StoredTurn | None:
        """'Try that again': the last exchange leaves the conversation but stays in the record."""
        with self._lock:
            check_rewind(self.row)
            stage = self.world.stage
            undone = self.store.rewind_last(self.row.id)
            self._replay(self.history())
            self.world.set_stage(stage)  # taking a message back does not undo moving on to this stage
            return undone

    def facilitation(self, turns: list[StoredTurn] | None = None):
        return group_facilitation(self.scenario, self.personas, turns if turns is not None else self.history())

    def end(self):
        from rjcoach.group_debrief import build_group_debrief

        with self._lock:
            if self.row.status == "active":
                self.store.end_session(self.row.id)
                self.row = self.store.session(self.row.id)
            debrief = build_group_debrief(self.row, self.scenario, self.personas,
                                          self.store.turns(self.row.id, include_rewound=True))
            if self.row.assessment_id is not None:
                from rjcoach.assessment import evaluate

                spec = self.store.assessment(self.row.assessment_id)
                result = evaluate(spec.criteria, debrief.metrics, debrief.success, debrief.facilitation)
                self.store.file_result(self.row.id, spec.id, result.passed, result.to_dict())
            return debrief


def _feeling_text(t: StoredTurn) -> str:
    """The words of the line whose feeling the coach checks was acknowledged."""
    speaker = t.persona.get("speaker")
    for u in reversed(t.persona.get("utterances", [])):
        if u.get("persona_id") == speaker:
            return u.get("text", "")
    return t.persona_text


def _with(fb: Feedback, **changes) -> Feedback:
    from dataclasses import replace

    return replace(fb, **changes)


def group_facilitation(scenario, personas: dict, turns: list[StoredTurn]):
    """The facilitation figures of a group session's live turns."""
    from rjcoach.circle import side_of

    live = [t for t in turns if not t.rewound]
    roster = [r.persona for r in scenario.roster]
    roles = {r.persona: r.role for r in scenario.roster}
    names = {p: personas[p].name if p in personas else p for p in roster}
    sides = {p: side_of(scenario, p) for p in roster}
    return facilitation(live, names, roles, sides, STAGE_TITLES, STAGE_SPEAKERS, scenario.agreement.required)
