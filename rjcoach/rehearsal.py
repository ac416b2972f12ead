"""Rehearsal with one persona (analysis + persona, no coaching or storage), and golden conversations.

A golden file (``tests/golden/<scenario>.yml``) names a persona and two scripts: a listening
trainee (must raise trust and unlock a disclosure within ten turns) and an accusatory trainee (must
lower trust and unlock nothing). ``replay`` runs a script through the real analyser and the
embedded engine and returns the transcript.
"""
from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from rjcoach.persona_engine import EmbeddedPersona, Observation, PersonaTurn
from rjcoach.persona_schema import Persona


class Golden(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schema_version: int = 1
    scenario: str
    persona: str
    listening: list[str] = Field(min_length=3, max_length=10)
    accusatory: list[str] = Field(min_length=3, max_length=10)


def load_golden(path: Path) -> Golden:
    return Golden.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


class Rehearsal:
    """A persona conversation without coaching or storage: for authors (`persona try`) and goldens.

    Practice sessions go through ``rjcoach.session.PracticeSession`` instead.
    """

    def __init__(self, persona: Persona, seed: int = 0, analyzer=None) -> None:
        from rjcoach.analyzer import get_analyzer

        self.analyzer = analyzer or get_analyzer()
        self.agent = EmbeddedPersona(persona, seed=seed)
        self.last_reply: str | None = None

    def turn(self, line: str):
        analysis = self.analyzer.analyze(line, self.last_reply)
        self.agent.observe(Observation(line, analysis.labels))
        reply = self.agent.act()
        self.last_reply = reply.text
        return analysis, reply


def replay(persona: Persona, lines: list[str], seed: int = 0, analyzer=None) -> list[tuple[str, frozenset[str], PersonaTurn]]:
    rehearsal = Rehearsal(persona, seed, analyzer)
    out = []
    for line in lines:
        analysis, reply = rehearsal.turn(line)
        out.append((line, analysis.labels, reply))
    return out
