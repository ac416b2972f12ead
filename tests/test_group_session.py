"""A facilitated group session (rjcoach.group_session) through the real analyser, group world and
store; and an assessment on a conference, its criteria checked by hand from the stored record."""
from pathlib import Path

import pytest
import yaml

from rjcoach.assessment import GROUP_DEFAULT_CRITERIA, AssessmentError, define, start_attempt
from rjcoach.circle import EVERYONE, STAGE_TITLES
from rjcoach.group_session import GroupSession
from rjcoach.labels import ACCUSATORY
from rjcoach.persona_loader import load_folder
from rjcoach.persona_schema import GROUP
from rjcoach.session import MessageRejected
from rjcoach.store import Store, StoreError

pytestmark = pytest.mark.slow
CONFERENCE = "graffiti_bakery_conference"
GOLDEN = Path(__file__).parent / "golden" / "circles"


@pytest.fixture(scope="module")
def lib():
    return load_folder()


@pytest.fixture(scope="module")
def analyzer():
    from rjcoach.analyzer import get_analyzer

    return get_analyzer()


@pytest.fixture
def store(db_url):
    return Store(db_url)


@pytest.fixture
def uid(store):
    return store.create_user("fran", "hash", "trainee")


@pytest.fixture
def conference(store, lib, uid, analyzer):
    return GroupSession.start(store, lib, uid, CONFERENCE, "coached", seed=5, analyzer=analyzer)


def golden_steps(scenario: str, script: str) -> list[dict]:
    data = yaml.safe_load((GOLDEN / f"{scenario}.yml").read_text(encoding="utf-8"))
    return data["scripts"][script]["steps"]


def run_steps(session, steps):
    for step in steps:
        if step.get("next_stage"):
            session.next_stage()
        else:
            session.turn(step["say"], step.get("to"))


OPENING = [
    "Welcome, everyone, and thank you for coming. We'll go one person at a time and listen to each other.",
    "How is everyone feeling about being here today?",
    "So, to recap: everyone is a bit anxious about today, and everyone is here because they want this put right.",
]


# -- start, turn, the stored record ------------------------------------------------------------------------
def test_start_stores_a_group_session(conference, store):
    row = store.session(conference.id)
    assert (row.scenario_id, row.persona_id, row.level, row.seed) == (CONFERENCE, GROUP, "coached", 5)
    assert conference.is_group and conference.stage == "opening" and conference.history() == []
    assert "Rana Haddad" in conference.title() and "Des Okafor" in conference.title()


def test_start_refuses_what_is_not_a_group(store, lib, uid, analyzer):
    with pytest.raises(KeyError, match="no group to facilitate"):
        GroupSession.start(store, lib, uid, "graffiti_bakery", analyzer=analyzer)
    with pytest.raises(ValueError, match="coaching level"):
        GroupSession.start(store, lib, uid, CONFERENCE, level="shouty", analyzer=analyzer)


def test_a_turn_is_stored_with_the_room(conference, store):
    r = conference.turn("Jayden, can you tell us what happened that night?")
    assert r.exchange.addressed == "jayden_price" and r.turn.position == 1
    (saved,) = store.turns(conference.id)
    g = saved.persona
    assert g["group"] is True and g["stage"] == "opening" and g["to"] == "jayden_price" and g["asked_to"] == "auto"
    assert g["speaker"] == "jayden_price" and g["speaker_name"] == "Jayden"
    assert [u["persona_id"] for u in g["utterances"]] == [ln.persona_id for ln in r.exchange.lines]
    assert saved.persona_text == r.exchange.text and saved.persona_text.startswith("Jayden Price: ")
    assert set(g["states"]) == {"rana_haddad", "jayden_price", "kerry_price", "des_okafor"}
    for pid, state in g["states"].items():
        assert state["trust"] == pytest.approx(r.exchange.states[pid].trust, abs=1e-3)
    assert g["state"] == g["states"]["jayden_price"] and g["agreed"] == []
    assert saved.analysis["labels"] == r.analysis.to_dict()["labels"]
    assert saved.feedback["level"] == "coached"


def test_the_context_for_the_analysis_is_the_rooms_answer(conference):
    first = conference.turn("Jayden, can you tell us what happened that night?")
    second = conference.turn("It sounds like it got out of hand.")
    assert second.analysis.context == first.exchange.text


def test_speaking_to_someone_everyone_or_the_piece(conference):
    assert conference.speak_to("des_okafor") == "des_okafor"
    assert conference.turn("What did you make of it?").exchange.addressed == "des_okafor"
    conference.speak_to(EVERYONE)
    r = conference.turn("Thank you all for being here.")
    assert r.exchange.addressed == EVERYONE and r.turn.persona["asked_to"] == EVERYONE
    assert conference.turn("What did you see?", to="rana_haddad").exchange.addressed == "rana_haddad"  # for one message
    conference.speak_to(None)
    assert conference.addressee == "auto"
    with pytest.raises(MessageRejected, match="not in this conference"):
        conference.speak_to("brian_hale")
    with pytest.raises(MessageRejected, match="Only a circle"):
        conference.speak_to("piece")
    with pytest.raises(MessageRejected, match="no talking piece"):
        conference.pass_piece()
    with pytest.raises(MessageRejected, match="not in this conference"):
        conference.turn("Hello", to="brian_hale")


def test_empty_messages_are_not_sent(conference, store):
    with pytest.raises(MessageRejected, match="empty"):
        conference.turn("   ")
    assert store.turns(conference.id) == []


# -- stages -----------------------------------------------------------------------------------------------
def test_next_stage_moves_the_room_and_is_recorded_with_the_next_message(conference, store):
    conference.turn(OPENING[0], to=EVERYONE)
    conference.turn(OPENING[1], to=EVERYONE)
    new, tip = conference.next_stage()  # no summary first
    assert new == "responsible_account" and conference.stage == new
    assert tip is not None and "without a summary" in tip.text
    r = conference.turn("Jayden, can you tell us what happened that night?")
    assert r.turn.persona["stage"] == "responsible_account"
    assert r.feedback.tip is not None  # the move-on tip is shown with the next message, unless something beats it
    assert [t.persona["stage"] for t in store.turns(conference.id)] == ["opening", "opening", "responsible_account"]


def test_moving_on_before_the_stage_voice_is_heard(conference):
    conference.next_stage()
    _, tip = conference.next_stage()  # the responsible party's account, and Jayden never spoke
    assert "before Jayden had spoken in it" in tip.text


def test_moving_on_after_a_summary_gives_no_tip(conference):
    for line in OPENING:
        conference.turn(line, to=EVERYONE)
    labels = conference.history()[-1].analysis["labels"]
    assert "summary" in labels, labels
    assert conference.next_stage() == ("responsible_account", None)


def test_no_stage_after_the_agreement(conference):
    for _ in range(len(conference.scenario.stage_ids) - 1):
        conference.next_stage()
    assert conference.stage == "agreement"
    with pytest.raises(MessageRejected, match="last stage"):
        conference.next_stage()


def test_a_question_to_the_wrong_person_for_the_stage_is_coached(conference):
    conference.next_stage()  # Jayden's account
    r = conference.turn("Rana, what was it like for you when you found it?")
    assert r.feedback.tip.kind == "facilitation" and "the question fits Jayden" in r.feedback.tip.text


def test_the_unheard_are_named_but_not_while_being_invited(conference):
    for line, to in (("Can you tell us what happened that night?", "jayden_price"),
                     ("It sounds like it got out of hand.", "jayden_price"),
                     ("What was that morning like for you?", "rana_haddad"),
                     ("That sounds like a horrible shock.", "rana_haddad"),
                     ("How has this been for you?", "kerry_price"),
                     ("That sounds like a lot to carry.", "kerry_price")):
        conference.turn(line, to=to)
    assert conference.world.spoken["des_okafor"] == 0
    for _ in range(4):
        conference.next_stage()  # what needs to happen: everyone's voice is due
    to_rana = conference.turn("Rana, what would help put this right for you?")
    assert "Des has not spoken yet" in to_rana.feedback.tip.text
    to_des = conference.turn("Des, what would help the road feel better about this?")
    assert to_des.feedback.tip is None or "Des has not spoken" not in to_des.feedback.tip.text


def test_blame_adds_a_neutrality_note(conference):
    r = conference.turn("Jayden, you're a vandal and a liar.")
    assert r.analysis.labels & ACCUSATORY
    assert any("neutral person in the room" in n and "Jayden" in n for n in r.feedback.notes)
    assert "defends" in [u["kind"] for u in r.turn.persona["utterances"]]


# -- resume and rewind -------------------------------------------------------------------------------------
SCRIPT = OPENING + ["Jayden, can you tell us what happened that night?",
                    "It sounds like it got out of hand quickly, and you've been carrying that around since.",
                    "Jayden, who do you think has been affected by what happened?"]


def test_resume_rebuilds_the_same_room(conference, store, lib, analyzer):
    for i, line in enumerate(SCRIPT):
        if i == 3:
            conference.next_stage()
        conference.turn(line, to=EVERYONE if i < 3 else None)
    resumed = GroupSession.resume(Store(store.url), lib, conference.id, analyzer=analyzer)
    a, b = conference.world, resumed.world
    assert b.states == a.states
    assert (b.stage, b.agreed, b.spoken, b.spoken_in_stage, b.last_speaker) == \
           (a.stage, a.agreed, a.spoken, a.spoken_in_stage, a.last_speaker)
    assert b._used == a._used and {p: x._used for p, x in b.agents.items()} == {p: x._used for p, x in a.agents.items()}
    # and the same next exchange (not stored: straight to the worlds)
    text, labels = "Jayden, how are you feeling now?", frozenset({"open_question"})
    ea, eb = a.exchange(text, labels), b.exchange(text, labels)
    assert [ln.as_dict() for ln in ea.lines] == [ln.as_dict() for ln in eb.lines] and ea.states == eb.states
    with pytest.raises(KeyError, match="no session"):
        GroupSession.resume(store, lib, "nope", analyzer=analyzer)


def test_rewind_takes_back_the_last_exchange(conference, store):
    conference.turn("Jayden, can you tell us what happened that night?")
    before = conference.world.states
    spoken = dict(conference.world.spoken)
    r = conference.turn("Jayden, you're a vandal and a liar.")
    assert r.exchange.states["jayden_price"].trust < before["jayden_price"].trust
    undone = conference.rewind()
    assert undone.position == 2 and undone.trainee_text == "Jayden, you're a vandal and a liar."
    assert conference.world.states == before and dict(conference.world.spoken) == spoken
    conference.turn("It sounds like it got out of hand quickly.")
    assert [t.rewound for t in store.turns(conference.id, include_rewound=True)] == [False, True, False]
    assert len(conference.history()) == 2


def test_taking_back_the_first_message_of_a_stage_keeps_the_stage(conference):
    conference.turn("Welcome, everyone. One person speaks at a time.")
    conference.next_stage()
    conference.turn("Jayden, can you tell us what happened that night?")
    conference.rewind()
    assert conference.stage == "responsible_account"
    assert conference.turn("Jayden, what happened that night?").exchange.stage == "responsible_account"


def test_a_failed_write_leaves_the_room_unchanged(conference, store, monkeypatch):
    conference.turn("Jayden, can you tell us what happened that night?")
    states = conference.world.states

    def broken(*a, **k):
        raise StoreError("could not save to the database (OperationalError); nothing already saved was changed")

    monkeypatch.setattr(store, "add_turn", broken)
    with pytest.raises(StoreError):
        conference.turn("Jayden, you're a vandal and a liar.")
    assert conference.world.states == states
    monkeypatch.undo()
    assert len(store.turns(conference.id)) == 1


# -- the end and the debrief -------------------------------------------------------------------------------
def test_end_gives_a_debrief_with_facilitation(conference, store):
    for i, line in enumerate(SCRIPT):
        if i == 3:
            conference.next_stage()
        conference.turn(line, to=EVERYONE if i < 3 else None)
    conference.turn("Jayden, you're a vandal.")
    conference.rewind()
    panel = conference.panel()
    assert panel["format"] == "conference" and panel["stage"] == "responsible_account"
    assert [p["id"] for p in panel["people"]] == ["rana_haddad", "jayden_price", "kerry_price", "des_okafor"]
    assert all(p["state"] is not None for p in panel["people"])
    assert [i["id"] for i in panel["agreement"]] == [i.id for i in conference.scenario.agreement.items]

    debrief = conference.end()
    live = store.turns(conference.id)
    fac = debrief.facilitation
    # the figures, by hand from the stored record
    lines = {p: 0 for p in fac.participants}
    words = {p: 0 for p in fac.participants}
    for t in live:
        for u in t.persona["utterances"]:
            lines[u["persona_id"]] += 1
            words[u["persona_id"]] += len(u["text"].split())
    assert fac.lines == lines and fac.words == words
    assert fac.everyone_heard == all(lines.values())
    assert fac.balance == pytest.approx(min(words.values()) / sum(words.values()) * 4)
    assert [s["id"] for s in fac.stages] == ["opening", "responsible_account"]
    assert fac.moves == 1
    assert fac.moves_summarised == any("summary" in t.analysis["labels"] for t in live[1:3])  # the opening's last two
    assert fac.ground_rules and fac.neutral  # the blaming message was taken back
    assert debrief.rewound == 1 and len(debrief.timeline) == len(live)
    assert set(debrief.timeline[0]["trusts"]) == set(fac.participants)
    assert debrief.group["format"] == "conference"
    assert {g.id for g in debrief.goals} == {g.id for g in conference.scenario.goals}
    assert store.session(conference.id).status == "ended"
    with pytest.raises(MessageRejected, match="ended"):
        conference.turn("Hello?")
    with pytest.raises(MessageRejected, match="ended"):
        conference.next_stage()


def test_the_debrief_html_shows_facilitation(conference):
    from rjcoach.group_debrief import facilitation_html

    conference.turn(OPENING[0], to=EVERYONE)
    conference.turn("Jayden, is there anything you would like to say to Rana? <b>now</b>")
    page = facilitation_html(conference.end())
    assert "<h2>Facilitation</h2>" in page and "<svg" in page and "Speaking shares" in page
    assert "<b>now</b>" not in page
    assert STAGE_TITLES["opening"] in page


# -- assessments on a group scenario ------------------------------------------------------------------------
CRITERIA = [
    {"metric": "agreement_reached", "op": "==", "threshold": 1},
    {"metric": "everyone_heard", "op": "==", "threshold": 1},
    {"metric": "speaking_balance", "op": ">=", "threshold": 0.5},
    {"metric": "summarised_share", "op": ">=", "threshold": 1},
    {"metric": "stage_fit_share", "op": ">=", "threshold": 0.8},
    {"metric": "stages_reached", "op": ">=", "threshold": 6},
    {"metric": "accusatory_utterances", "op": "<=", "threshold": 0},
    {"metric": "goals_reached", "op": "==", "threshold": 1},
]


def by_hand(store, session_id: str, scenario) -> dict[str, bool]:
    """Each criterion of CRITERIA, measured from the stored record without the package's metrics."""
    live = store.turns(session_id)
    roster = [r.persona for r in scenario.roster]
    role = {r.persona: r.role for r in scenario.roster}
    words = {p: 0 for p in roster}
    heard = {p: 0 for p in roster}
    for t in live:
        for u in t.persona["utterances"]:
            words[u["persona_id"]] += len(u["text"].split())
            heard[u["persona_id"]] += 1
    stages = []
    for t in live:
        if not stages or stages[-1][0] != t.persona["stage"]:
            stages.append((t.persona["stage"], []))
        stages[-1][1].append(set(t.analysis["labels"]))
    moves = len(stages) - 1
    summarised = sum(any("summary" in ls for ls in labels[-2:]) for _, labels in stages[:-1])
    whose = {"responsible_account": {"responsible"}, "harmed_account": {"harmed"},
             "supporters": {"parent", "supporter", "community"}}
    asked = fitting = 0
    for t in live:
        labels = set(t.analysis["labels"])
        to = t.persona["to"]
        if labels & {"open_question", "closed_question", "restorative_question"} and to in role:
            asked += 1
            fitting += t.persona["stage"] not in whose or role[to] in whose[t.persona["stage"]]
    labels = [set(t.analysis["labels"]) for t in live]
    disclosures = {u.get("disclosure") for t in live for u in t.persona["utterances"]}
    agreed = live[-1].persona["agreed"]
    goals = {"reach_agreement": len(agreed) >= scenario.agreement.required,
             "hear_the_father": "rana_father_shop" in disclosures,
             "ask_restoratively": sum("restorative_question" in x for x in labels) >= 4}
    return {
        "agreement_reached": len(agreed) >= scenario.agreement.required,
        "everyone_heard": all(heard.values()),
        "speaking_balance": min(words.values()) / sum(words.values()) * len(roster) >= 0.5,
        "summarised_share": moves > 0 and summarised / moves >= 1,
        "stage_fit_share": asked > 0 and fitting / asked >= 0.8,
        "stages_reached": len(stages) >= 6,
        "accusatory_utterances": sum(bool(x & ACCUSATORY) for x in labels) <= 0,
        "goals_reached": all(goals[g] for g in scenario.success),
    }


@pytest.mark.parametrize("script,passes", [("skilled", True), ("blaming", False)])
def test_an_assessment_on_a_conference(world, lib, analyzer, script, passes):
    s = world.store
    scenario = lib.scenarios[CONFERENCE]
    aid = define(s, lib, world.ins_north, f"conference-{script}", CONFERENCE, GROUP, 0, CRITERIA)
    attempt = start_attempt(s, lib, world.ana, aid, analyzer=analyzer)
    assert isinstance(attempt, GroupSession)
    assert (attempt.row.level, attempt.row.seed, attempt.row.assessment_id) == ("assessment", 0, aid)
    for step in golden_steps(CONFERENCE, script):
        if step.get("next_stage"):
            assert attempt.next_stage()[1] is None  # no live coaching in an assessment
        else:
            r = attempt.turn(step["say"], step.get("to"))
            assert r.feedback.tip is None and r.feedback.rewrite is None and not r.feedback.notes
    assert all(p["state"] is None for p in attempt.panel()["people"])  # states hidden while assessed
    with pytest.raises(MessageRejected, match="taking one back"):
        attempt.rewind()
    attempt.end()

    expected = by_hand(s, attempt.id, scenario)
    filed = s.result_of(attempt.id)
    got = {c["metric"]: c["passed"] for c in filed.result["criteria"]}
    assert got == expected
    assert filed.passed is all(expected.values()) is passes
    if script == "skilled":
        assert got["agreement_reached"] and got["everyone_heard"] and got["goals_reached"]
    else:
        assert not got["agreement_reached"] and not got["everyone_heard"] and not got["accusatory_utterances"]
    attempt.end()  # ending again files nothing new
    assert len(s.results(aid)) == 1


def test_group_assessments_default_to_the_group_criteria(world, lib):
    s = world.store
    aid = define(s, lib, world.admin, "conference-defaults", CONFERENCE, GROUP, 3)
    assert [c["metric"] for c in s.assessment(aid).criteria] == [c.metric for c in GROUP_DEFAULT_CRITERIA]


def test_define_checks_the_group_rules(world, lib):
    s = world.store
    with pytest.raises(AssessmentError, match="only for a conference, circle or mediation"):
        define(s, lib, world.admin, "one-to-one", "graffiti_bakery", "rana_haddad", 1,
               [{"metric": "open_share", "op": ">=", "threshold": 0.5},
                {"metric": "everyone_heard", "op": "==", "threshold": 1}])
    with pytest.raises(AssessmentError, match="facilitates the whole group"):
        define(s, lib, world.admin, "one-person", CONFERENCE, "rana_haddad", 1)
    with pytest.raises(AssessmentError, match="no group to facilitate"):
        define(s, lib, world.admin, "no-group", "graffiti_bakery", GROUP, 1)
    assert s.assessments() == []
