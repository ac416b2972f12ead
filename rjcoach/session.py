"""One practice session, and the one object that runs a turn.

``PracticeSession.turn(text)`` is the whole flow for one message, in one direction:
trainee text -> analysis -> coaching -> persona turn -> store (committed) -> what the UI shows.
Nothing else strings these steps together; the UI only calls this class.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from rjcoach.analysis import Analysis
from rjcoach.coach import Feedback, PriorTurn, coach
from rjcoach.persona_engine import EmbeddedPersona, Observation, PersonaTurn, persona_lines
from rjcoach.persona_loader import Library
from rjcoach.store import PracticeSessionRow, Store, StoredTurn

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 1000
INVISIBLE = " \t\n\r\f\v\u00a0\u200b\u200c\u200d\u2060\ufeff\u3000"
"""Characters that leave a message blank on screen (spaces and zero-width characters)."""


class MessageRejected(ValueError):
    """The message was not sent; ``hint`` says why, in words for the trainee."""

    def __init__(self, hint: str) -> None:
        super().__init__(hint)
        self.hint = hint


def check_message(text: object) -> str:
    """The message if it can be sent; MessageRejected with a hint for the trainee if not."""
    if not isinstance(text, str) or not text.strip(INVISIBLE):
        raise MessageRejected("Type a message first: an empty message is not sent.")
    if len(text) > MAX_MESSAGE_CHARS:
        raise MessageRejected(f"That message is {len(text)} characters; the limit is {MAX_MESSAGE_CHARS}. "
                              "Nothing was sent: shorten it and try again.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, e.g. from a crafted JSON request: nothing can store it
        raise MessageRejected("That message contains broken characters and was not sent; "
                              "retype it and try again.") from None
    return text


def check_rewind(row: PracticeSessionRow) -> None:
    """MessageRejected unless the last exchange of this session may be taken back."""
    if row.status != "active":
        raise MessageRejected("This session has ended.")
    if row.assessment_id is not None:
        raise MessageRejected("An assessment counts every message as said: taking one back is not available.")


@dataclass(frozen=True)
class TurnResult:
    turn: StoredTurn
    analysis: Analysis
    feedback: Feedback
    reply: PersonaTurn


def feedback_dict(fb: Feedback) -> dict:
    m = fb.metrics
    return {
        "level": fb.level,
        "labels_plain": list(fb.labels_plain),
        "tip": asdict(fb.tip) if fb.tip else None,
        "rewrite": fb.rewrite,
        "show_labels": fb.show_labels,
        "metrics": {**asdict(m), "rq_ratio": m.rq_ratio, "open_share": m.open_share,
                    "accusatory_rate": m.accusatory_rate},
    }


def persona_dict(turn: PersonaTurn) -> dict:
    return {**turn.tags, "state": turn.state.as_dict(), "similarity": turn.similarity, "notice": turn.notice}


class PracticeSession:
    def __init__(self, store: Store, library: Library, row: PracticeSessionRow, analyzer=None, agent=None) -> None:
        from rjcoach.analyzer import get_analyzer

        if row.persona_id not in library.personas:
            raise KeyError(f"persona {row.persona_id!r} is not available")
        import threading

        self.store = store
        self.library = library
        self.row = row
        self._lock = threading.RLock()  # one turn at a time per session (double clicks, two tabs)
        self.persona = library.personas[row.persona_id]
        self.scenario = library.scenarios.get(row.scenario_id)
        self.analyzer = analyzer or get_analyzer()
        self._agent_factory = agent
        self.agent = self._fresh_agent()
        self._replay(store.turns(row.id))
        self._read_ahead()

    def _read_ahead(self) -> None:
        """The persona's lines are what the trainee's messages will answer: the analyser reads them
        now (once per process for each persona), so a turn pays only for the message."""
        keep = getattr(self.analyzer, "keep_contexts", None)
        if keep is None or not isinstance(self.agent, EmbeddedPersona):  # an LLM's lines are new each time
            return
        try:
            keep(persona_lines(self.persona))
        except Exception:  # only speed is lost: a turn reads its context itself
            log.exception("reading persona %s's lines ahead failed", self.persona.id)

    # construction ------------------------------------------------------------------------------
    @classmethod
    def start(cls, store: Store, library: Library, user_id: int, scenario_id: str, persona_id: str,
              level: str = "coached", seed: int = 0, analyzer=None, agent=None,
              assessment_id: int | None = None) -> "PracticeSession":
        from rjcoach.coach import LEVELS

        if level not in LEVELS:
            raise ValueError(f"coaching level must be one of {', '.join(LEVELS)}")
        library.check_pair(scenario_id, persona_id)
        sid = store.create_session(user_id, scenario_id, persona_id, level, seed, assessment_id=assessment_id)
        return cls(store, library, store.session(sid), analyzer, agent)

    @classmethod
    def resume(cls, store: Store, library: Library, session_id: str, analyzer=None, agent=None) -> "PracticeSession":
        row = store.session(session_id)
        if row is None:
            raise KeyError(f"no session {session_id!r}")
        return cls(store, library, row, analyzer, agent)

    def _fresh_agent(self):
        if self._agent_factory is not None:
            return self._agent_factory(self.persona, self.scenario, self.row.seed)
        from rjcoach.llm_backend import LLMPersona, LLMSettings, OpenAIChat

        settings = LLMSettings.from_env()
        if settings is not None:  # an LLM voices the persona; the embedded engine keeps the state
            return LLMPersona(self.persona, OpenAIChat(settings), self.scenario, seed=self.row.seed)
        return EmbeddedPersona(self.persona, seed=self.row.seed)

    def _replay(self, turns: list[StoredTurn]) -> None:
        """Rebuild the persona's state from the record (deterministic for the session's seed)."""
        self.agent = self._fresh_agent()
        engine = getattr(self.agent, "engine", self.agent)  # an LLM persona keeps an embedded engine
        for t in turns:
            engine.observe(Observation(t.trainee_text, frozenset(t.analysis.get("labels", []))))
            engine.act()

    # the turn ----------------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.row.id

    @property
    def state(self):
        return self.agent.state

    def history(self) -> list[StoredTurn]:
        return self.store.turns(self.row.id)

    def _prior(self, turns: list[StoredTurn]) -> list[PriorTurn]:
        return [PriorTurn(frozenset(t.analysis.get("labels", [])), t.persona.get("emotion", "neutral"), t.persona_text)
                for t in turns]

    def turn(self, text: object) -> TurnResult:
        with self._lock:
            return self._turn(text)

    def _turn(self, text: object) -> TurnResult:
        if self.row.status != "active":
            raise MessageRejected("This session has ended; start a new one to keep practising.")
        text = check_message(text)
        history = self.history()
        analysis = analyse_message(self.analyzer, text, history)
        first_name = self.persona.name.split()[0]
        feedback = coach(analysis, self._prior(history), self.row.level, first_name)
        self.agent.observe(Observation(text, analysis.labels))
        reply = self.agent.act()
        try:
            stored = self.store.add_turn(self.row.id, text, analysis.to_dict(), feedback_dict(feedback),
                                         reply.text, persona_dict(reply))
        except Exception:
            self._replay(history)  # the turn did not happen: the persona forgets it too
            raise
        return TurnResult(stored, analysis, feedback, reply)

    def rewind(self) -> StoredTurn | None:
        """'Try that again': the last exchange leaves the conversation but stays in the record."""
        with self._lock:
            check_rewind(self.row)
            undone = self.store.rewind_last(self.row.id)
            self._replay(self.history())
            return undone

    def end(self):
        from rjcoach.debrief import build_debrief

        with self._lock:
            if self.row.status == "active":
                self.store.end_session(self.row.id)
                self.row = self.store.session(self.row.id)
            debrief = build_debrief(self.row, self.persona, self.scenario,
                                    self.store.turns(self.row.id, include_rewound=True))
            if self.row.assessment_id is not None:  # an attempt: its result is filed as decided now
                from rjcoach.assessment import evaluate

                spec = self.store.assessment(self.row.assessment_id)
                result = evaluate(spec.criteria, debrief.metrics, debrief.success)
                self.store.file_result(self.row.id, spec.id, result.passed, result.to_dict())
            return debrief


def analyse_message(analyzer, text: str, history: list[StoredTurn]) -> Analysis:
    """A turn's first step: the message coded against the reply it answers. (The analyser leaves
    the message's lower-layer encoder states for whoever then matches it by meaning.)"""
    context = history[-1].persona_text if history else None
    return analyzer.analyze(text, context)


def open_session(store: Store, library: Library, session_id: str, analyzer=None, agent=None):
    """Resume a stored session as the right kind: a group session for a multi-party scenario."""
    from rjcoach.persona_schema import GROUP

    row = store.session(session_id)
    if row is None:
        raise KeyError(f"no session {session_id!r}")
    if row.persona_id == GROUP:
        from rjcoach.group_session import GroupSession

        return GroupSession(store, library, row, analyzer)
    return PracticeSession(store, library, row, analyzer, agent)
