"""Golden facilitated sessions per group scenario (tests/golden/circles/*.yml), replayed through
GroupSession with the real analyser, the group world and a SQLite store.

Each file holds scripts of facilitator steps (``say`` with an optional ``to``, or ``next_stage``)
and, for every ``say``, what the run gave: the stage, who was spoken to, and each line of the room
as "speaker kind [verdict | disclosure | agreement item]". States are not recorded (rounding makes
them brittle); what they lead to is: apologies landing, supporters defending, items agreed.

Two scripts per scenario:
- ``skilled``: ground rules, restorative questions to the right person in each stage, reflections,
  summaries before each stage change, the apology invited, agreement items proposed. Must take
  every stage, reach the scenario's agreement and its disclosure goal.
- ``blaming``: accusatory language at the responsible party. Must draw a supporter's defence,
  leave the responsible party trusting the process less than at the start, and agree nothing.

After a deliberate change to the engine, the analyser or a scenario, rewrite the expectations with
``RJCOACH_UPDATE_GOLDEN=1 pytest tests/test_golden_circles.py`` and review the diff.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from rjcoach.persona_loader import load_folder
from rjcoach.persona_schema import GROUP

pytestmark = pytest.mark.slow
FOLDER = Path(__file__).parent / "golden" / "circles"
GOLDEN = sorted(FOLDER.glob("*.yml"))
UPDATE = os.environ.get("RJCOACH_UPDATE_GOLDEN") == "1"
SCRIPTS = ("skilled", "blaming")
MAX_STEPS = {"skilled": 30, "blaming": 8}
MIN_BLAMING_STEPS = 5


@pytest.fixture(scope="module")
def lib():
    return load_folder()


@pytest.fixture(scope="module")
def analyzer():
    from rjcoach.analyzer import get_analyzer

    return get_analyzer()


# -- running a script -------------------------------------------------------------------------------------
def line_key(u: dict) -> str:
    """One line of the room, as recorded: speaker, kind, and its verdict, disclosure or item."""
    extra = u.get("verdict") or u.get("disclosure") or u.get("item")
    return " ".join(x for x in (u["persona_id"], u["kind"], extra) if x)


def outcome(stored) -> dict:
    g = stored.persona
    return {"stage": g["stage"], "addressed": g["to"], "lines": [line_key(u) for u in g["utterances"]]}


def replay(lib, analyzer, scenario: str, seed: int, steps: list[dict], db_path: Path):
    """Run the steps; returns (outcome of each say step, the session, the debrief)."""
    from rjcoach.group_session import GroupSession
    from rjcoach.store import Store

    store = Store(f"sqlite:///{db_path}")
    uid = store.create_user(f"golden_{db_path.stem}", "x", "trainee")
    session = GroupSession.start(store, lib, uid, scenario, "coached", seed=seed, analyzer=analyzer)
    outcomes = []
    for step in steps:
        if step.get("next_stage"):
            session.next_stage()
            continue
        result = session.turn(step["say"], step.get("to"))
        outcomes.append(outcome(result.turn))
    debrief = session.end()
    return outcomes, session, debrief


def end_of(debrief) -> dict:
    fac = debrief.facilitation
    return {"agreement_reached": fac.agreement_reached, "agreed": list(fac.agreed),
            "disclosures": list(debrief.disclosures),
            "goals": {g.id: g.reached for g in debrief.goals}}


# -- the file -----------------------------------------------------------------------------------------------
def load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert set(data) <= {"schema_version", "scenario", "seed", "scripts"}, set(data)
    assert set(data["scripts"]) == set(SCRIPTS), path.name
    for name, script in data["scripts"].items():
        assert set(script) <= {"about", "steps", "end"}, (name, set(script))
        for step in script["steps"]:
            assert ("say" in step) != ("next_stage" in step), step
            assert set(step) <= {"say", "to", "note", "expect", "next_stage"}, step
    return data


def q(value) -> str:
    """A YAML scalar: strings double-quoted (JSON is valid YAML), the rest as YAML writes them."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value)


def dump(data: dict) -> str:
    """The golden file, laid out for reading and for small diffs."""
    out = [f"# Golden facilitated session for {data['scenario']}: see tests/test_golden_circles.py.",
           "# Regenerate the expect/end parts with RJCOACH_UPDATE_GOLDEN=1 (review the diff).",
           f"schema_version: {data.get('schema_version', 1)}", f"scenario: {data['scenario']}", f"seed: {data['seed']}",
           "scripts:"]
    for name in SCRIPTS:
        script = data["scripts"][name]
        out.append(f"  {name}:")
        if script.get("about"):
            out.append(f"    about: {q(script['about'])}")
        out.append("    steps:")
        for step in script["steps"]:
            if step.get("next_stage"):
                out.append("      - next_stage: true")
                continue
            out.append(f"      - say: {q(step['say'])}")
            if step.get("to"):
                out.append(f"        to: {step['to']}")
            if step.get("note"):
                out.append(f"        note: {q(step['note'])}")
            if step.get("expect"):
                e = step["expect"]
                out.append("        expect:")
                out.append(f"          stage: {e['stage']}")
                out.append(f"          addressed: {e['addressed']}")
                out.append("          lines:")
                out.extend(f"            - {q(line)}" for line in e["lines"])
        if script.get("end"):
            end = script["end"]
            out.append("    end:")
            out.append(f"      agreement_reached: {q(end['agreement_reached'])}")
            out.append(f"      agreed: [{', '.join(end['agreed'])}]")
            out.append(f"      disclosures: [{', '.join(end['disclosures'])}]")
            out.append("      goals:")
            out.extend(f"        {k}: {q(v)}" for k, v in end["goals"].items())
    return "\n".join(out) + "\n"


def first_difference(expected: list, actual: list, steps: list[dict]) -> str:
    says = [s for s in steps if "say" in s]
    for i, (e, a) in enumerate(zip(expected, actual)):
        if e != a:
            return f"say step {i + 1} ({says[i]['say'][:60]!r}):\n  expected {e}\n  got      {a}"
    return f"{len(expected)} steps expected, {len(actual)} run"


# -- the tests ----------------------------------------------------------------------------------------------
def test_every_group_scenario_has_golden_circles(lib):
    covered = {load(p)["scenario"] for p in GOLDEN}
    assert covered == {sid for sid, sc in lib.scenarios.items() if sc.is_group}
    assert all(p.stem == load(p)["scenario"] for p in GOLDEN)


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_golden_circle(lib, analyzer, path, tmp_path):
    data = load(path)
    scenario = lib.scenarios[data["scenario"]]
    harmed = next(r.persona for r in scenario.roster if r.role == "harmed")
    responsible = next(r.persona for r in scenario.roster if r.role == "responsible")
    failures = []
    for name in SCRIPTS:
        script = data["scripts"][name]
        steps = script["steps"]
        assert len(steps) <= MAX_STEPS[name], f"{name}: keep the script under {MAX_STEPS[name]} steps"
        outcomes, session, debrief = replay(lib, analyzer, scenario.id, data["seed"], steps, tmp_path / f"{name}.sqlite3")
        end = end_of(debrief)
        if UPDATE:
            for step, got in zip([s for s in steps if "say" in s], outcomes):
                step["expect"] = got
            script["end"] = end
        else:
            expected = [s.get("expect") for s in steps if "say" in s]
            if expected != outcomes:
                failures.append(f"{path.name} {name}: " + first_difference(expected, outcomes, steps))
            if script.get("end") != end:
                failures.append(f"{path.name} {name} end: expected {script.get('end')}\n  got {end}")

        # What each script must show, whatever the recording says.
        lines = [line for o in outcomes for line in o["lines"]]
        fac = debrief.facilitation
        states = session.history()[-1].persona["states"]
        if name == "skilled":
            assert [s["id"] for s in fac.stages] == list(scenario.stage_ids), f"{name}: every stage, in order"
            assert fac.moves_summarised == fac.moves, f"{name}: a summary before each stage change"
            assert fac.ground_rules and fac.neutral and fac.everyone_heard, fac.to_dict()
            assert end["agreement_reached"], f"{name}: agreed only {end['agreed']}"
            disclosure_goals = [g.id for g in scenario.goals if g.disclosure]
            assert all(end["goals"][g] for g in disclosure_goals), end
            assert debrief.success, end["goals"]
            assert f"{responsible} apology lands" in lines, "the apology is invited when it can land"
            assert not any(" defends" in line for line in lines)
        else:
            assert MIN_BLAMING_STEPS <= len(steps), f"{name}: {MIN_BLAMING_STEPS} to {MAX_STEPS[name]} steps"
            assert not fac.neutral and fac.accusatory_by_side["responsible"] >= 1
            start = session.personas[responsible].start
            assert states[responsible]["trust"] < start.trust, "the responsible party trusts the process less"
            assert states[harmed]["trust"] <= session.personas[harmed].start.trust + 0.05
            if scenario.participants and any(p.supports == responsible for p in scenario.participants.values()):
                assert any(line.split()[1] == "defends" for line in lines), lines
            assert not end["agreement_reached"] and end["agreed"] == []
    if UPDATE:
        path.write_text(dump(data), encoding="utf-8")
        assert load(path) == data  # the writer and the reader agree
    assert not failures, "\n".join(failures) + "\n(RJCOACH_UPDATE_GOLDEN=1 rewrites the expectations)"


def test_the_writer_round_trips(tmp_path):
    data = {"schema_version": 1, "scenario": "x", "seed": 3, "scripts": {
        "skilled": {"about": "a 'quoted' \"thing\": yes", "steps": [
            {"say": "Rana, what's it been like? \u2014 take your time", "to": "rana_haddad", "note": "#1: a note",
             "expect": {"stage": "opening", "addressed": "rana_haddad", "lines": ["rana_haddad reply", "x defends"]}},
            {"next_stage": True}],
            "end": {"agreement_reached": False, "agreed": [], "disclosures": ["a_b"], "goals": {"g": True}}},
        "blaming": {"steps": [{"say": "yes"}]}}}
    path = tmp_path / "x.yml"
    path.write_text(dump(data), encoding="utf-8")
    assert load(path) == data


def test_the_group_persona_id_is_stored(lib, analyzer, tmp_path):
    """The golden runner goes through the same door as the app: a GROUP session row."""
    from rjcoach.store import Store

    _, session, _ = replay(lib, analyzer, "neighbour_mediation", 0, [{"say": "Welcome, both of you."}], tmp_path / "g.sqlite3")
    assert Store(session.store.url).session(session.id).persona_id == GROUP
