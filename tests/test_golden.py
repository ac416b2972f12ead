"""Golden conversations per scenario (tests/golden/*.yml), through the real analyser and engine."""
from pathlib import Path

import pytest

from rjcoach.rehearsal import load_golden, replay
from rjcoach.persona_loader import load_folder

pytestmark = pytest.mark.slow
GOLDEN = sorted((Path(__file__).parent / "golden").glob("*.yml"))


@pytest.fixture(scope="module")
def lib():
    return load_folder()


def test_every_scenario_has_a_golden_conversation(lib):
    covered = {load_golden(p).scenario for p in GOLDEN}
    assert {sid for sid, sc in lib.scenarios.items() if not sc.is_group} <= covered


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_listening_trainee_earns_trust_and_a_disclosure(lib, path):
    g = load_golden(path)
    persona = lib.personas[g.persona]
    assert persona.scenario == g.scenario
    turns = replay(persona, g.listening, seed=0)
    assert len(turns) <= 10
    assert turns[-1][2].state.trust > persona.start.trust
    assert any(t.disclosure for _, _, t in turns), [t.variant for _, _, t in turns]


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_accusatory_trainee_loses_trust_and_unlocks_nothing(lib, path):
    g = load_golden(path)
    persona = lib.personas[g.persona]
    turns = replay(persona, g.accusatory, seed=0)
    assert turns[-1][2].state.trust < persona.start.trust
    assert not any(t.disclosure for _, _, t in turns)
    assert sum(t.variant == "reaction" for _, _, t in turns) >= len(turns) // 2


@pytest.mark.parametrize("path", GOLDEN[:2], ids=lambda p: p.stem)
def test_same_seed_same_replies(lib, path):
    g = load_golden(path)
    persona = lib.personas[g.persona]
    a = [t.text for _, _, t in replay(persona, g.listening, seed=7)]
    b = [t.text for _, _, t in replay(persona, g.listening, seed=7)]
    assert a == b
