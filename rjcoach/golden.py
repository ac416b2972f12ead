"""Golden conversations: scripted trainee lines per scenario, replayed against a persona.

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


def replay(persona: Persona, lines: list[str], seed: int = 0, analyzer=None) -> list[tuple[str, frozenset[str], PersonaTurn]]:
    from rjcoach.analyzer import get_analyzer

    analyzer = analyzer or get_analyzer()
    agent = EmbeddedPersona(persona, seed=seed)
    last_reply: str | None = None
    out = []
    for line in lines:
        analysis = analyzer.analyze(line, last_reply)
        agent.observe(Observation(line, analysis.labels))
        turn = agent.act()
        out.append((line, analysis.labels, turn))
        last_reply = turn.text
    return out
