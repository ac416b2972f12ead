"""Facilitation metrics and tips (rjcoach.facilitation): pure, on hand-built turn records."""
from dataclasses import dataclass, field, replace

import pytest

from rjcoach.analysis import Analysis
from rjcoach.circle import STAGE_SPEAKERS, STAGE_TITLES
from rjcoach.facilitation import (
    SUMMARY_NUDGE_AFTER, UNHEARD_AFTER, StageView, facilitation, facilitation_tip, fits_stage, move_on_tip,
)

PARTICIPANTS = {"rana": "Rana Haddad", "jayden": "Jayden Price", "kerry": "Kerry Price", "des": "Des Okafor"}
ROLES = {"rana": "harmed", "jayden": "responsible", "kerry": "parent", "des": "community"}
SIDES = {"rana": "harmed", "jayden": "responsible", "kerry": "responsible", "des": "neutral"}
WORDING = {"says_sorry": True, "owns_it": True, "names_harm": True, "repairs": True, "excuses": False,
           "blaming_labels": [], "score": 1.0, "verdict": "lands"}


@dataclass
class T:
    """A stored turn as facilitation() reads it."""

    position: int
    trainee_text: str
    analysis: dict
    persona: dict = field(default_factory=dict)


def u(pid, text, kind="reply", **extra):
    return {"persona_id": pid, "text": text, "kind": kind, **extra}


def turn(position, stage, to, labels, utterances, text="(message)", agreed=None):
    record = {"stage": stage, "to": to, "utterances": utterances}
    if agreed is not None:
        record["agreed"] = agreed
    return T(position, text, {"labels": list(labels)}, record)


def session():
    """Fourteen messages over four stages; word counts are in the comments."""
    return [
        # opening: ground rules, a question to Des, a summary before moving on
        turn(1, "opening", "everyone", [], [u("rana", "Fine, let's start.")],  # 3
             text="Welcome. We'll go one at a time and listen to each other."),
        turn(2, "opening", "des", ["open_question"], [u("des", "Glad to be here, my friend.")]),  # 6
        turn(3, "opening", "everyone", ["summary"], [u("rana", "Okay.")]),  # 1
        # the responsible party's account: a summary, but three messages before the move
        turn(4, "responsible_account", "jayden", ["open_question", "restorative_question", "summary"],
             [u("jayden", "I sprayed it."), u("kerry", "He's fifteen.", "defends")]),  # 3, 2
        turn(5, "responsible_account", "rana", ["open_question"], [u("rana", "I want to talk.")]),  # 4: does not fit
        turn(6, "responsible_account", "everyone", ["closed_question"], [u("jayden", "No.")]),  # 1: the group
        # the harmed party's account: accusatory language toward every side, a summary last
        turn(7, "harmed_account", "rana", ["accusation", "closed_question"], [u("rana", "How dare you.", "reaction")]),  # 3
        turn(8, "harmed_account", "jayden", ["labeling"],
             [u("jayden", "Whatever.", "reaction"), u("kerry", "Don't talk to him like that.", "defends")]),  # 1, 6
        turn(9, "harmed_account", "kerry", ["minimizing"], [u("kerry", "It's not nothing.")]),  # 3
        turn(10, "harmed_account", "everyone", ["generalization"], [u("rana", "Right.")]),  # 1
        turn(11, "harmed_account", "des", ["why_question", "summary"], [u("des", "Because the road is worried.")]),  # 5
        # agreement: an apology, then two items agreed
        turn(12, "agreement", "jayden", ["open_question"],
             [u("jayden", "I'm sorry, I did it and I'll fix your wall.", "apology", verdict="lands", wording=WORDING),  # 10
              u("rana", "Thank you, I believe you.", "apology_response", verdict="accepts")]),  # 5
        turn(13, "agreement", "everyone", [],
             [u("rana", "Yes.", "agrees"), u("jayden", "Yeah.", "agrees"), u("des", "Good.", "agrees")],  # 1, 1, 1
             agreed=["repaint"]),
        turn(14, "agreement", "everyone", [], [u("rana", "Yes.", "agrees"), u("kerry", "Fine by me.", "agrees")],  # 1, 3
             agreed=["repaint", "bill"]),
    ]


def measure(turns, required=2, participants=PARTICIPANTS):
    return facilitation(turns, participants, ROLES, SIDES, STAGE_TITLES, STAGE_SPEAKERS, required)


def test_lines_words_shares_and_balance():
    f = measure(session())
    assert f.lines == {"rana": 8, "jayden": 5, "kerry": 4, "des": 3}
    # rana 3+1+4+3+1+5+1+1, jayden 3+1+1+10+1, kerry 2+6+3+3, des 6+5+1
    assert f.words == {"rana": 19, "jayden": 16, "kerry": 14, "des": 12}
    assert f.shares == pytest.approx({"rana": 19 / 61, "jayden": 16 / 61, "kerry": 14 / 61, "des": 12 / 61})
    assert sum(f.shares.values()) == pytest.approx(1.0)
    assert f.balance == pytest.approx(4 * 12 / 61)
    assert f.everyone_heard


def test_someone_silent():
    turns = [t for t in session() if t.position not in (2, 11, 13)]  # every line of Des's
    f = measure(turns)
    assert f.lines["des"] == 0 and f.words["des"] == 0
    assert not f.everyone_heard
    assert f.balance == 0.0
    assert f.shares["des"] == 0.0


def test_an_equal_room_has_balance_one():
    turns = [turn(i + 1, "opening", pid, [], [u(pid, "one two three")]) for i, pid in enumerate(PARTICIPANTS)]
    f = measure(turns)
    assert f.balance == pytest.approx(1.0) and f.everyone_heard


def test_nobody_spoke():
    f = measure([])
    assert f.shares == {p: 0.0 for p in PARTICIPANTS} and f.balance == 0.0 and not f.everyone_heard
    assert f.stage_fit_share is None and f.summarised_share is None and f.stages_reached == 0
    assert not f.agreement_reached and f.neutral and not f.ground_rules


def test_lines_of_someone_not_in_the_room_are_not_counted():
    f = measure([turn(1, "opening", "everyone", [], [u("stranger", "Hello all."), u("rana", "Who's that?")])])
    assert f.lines == {"rana": 1, "jayden": 0, "kerry": 0, "des": 0} and f.words["rana"] == 2


def test_stages_and_summaries_before_moving_on():
    f = measure(session())
    assert [s["id"] for s in f.stages] == ["opening", "responsible_account", "harmed_account", "agreement"]
    assert f.stages_reached == 4
    assert f.moves == 3
    # opening: summary last (yes); responsible account: summary three messages before the move (no);
    # harmed account: summary in the last message (yes)
    assert f.moves_summarised == 2
    assert f.summarised_share == pytest.approx(2 / 3)
    by_id = {s["id"]: s for s in f.stages}
    assert by_id["opening"]["title"] == STAGE_TITLES["opening"]
    assert [s["messages"] for s in f.stages] == [3, 3, 5, 3]
    assert by_id["opening"]["heard"] == ["rana", "des"]
    assert by_id["responsible_account"]["heard"] == ["jayden", "kerry", "rana"]
    assert by_id["agreement"]["heard"] == ["jayden", "rana", "des", "kerry"]
    # summarised *in* the stage is not the same as summarised before leaving it
    assert [s["summarised"] for s in f.stages] == [True, True, True, False]
    assert [s["restorative"] for s in f.stages] == [0, 1, 0, 0]


def test_a_summary_in_the_second_to_last_message_counts():
    turns = session()
    turns[4] = replace(turns[4], analysis={"labels": ["open_question", "summary"]})  # position 5 of 4, 5, 6
    assert measure(turns).moves_summarised == 3


def test_questions_that_fit_the_stage():
    f = measure(session())
    # to someone: #2 Des in the opening (fits), #4 Jayden in his account (fits), #5 Rana in Jayden's
    # account (does not), #7 Rana in her account (fits), #12 Jayden in the agreement stage (fits).
    # #6 is to the whole group and #11 is a "why" (not a question label here).
    assert (f.questions_to_someone, f.questions_fitting) == (5, 4)
    assert f.stage_fit_share == pytest.approx(0.8)
    by_id = {s["id"]: s for s in f.stages}
    assert (by_id["responsible_account"]["questions"], by_id["responsible_account"]["fitting"]) == (3, 2)
    assert (by_id["harmed_account"]["questions"], by_id["harmed_account"]["fitting"]) == (1, 1)


def test_accusatory_language_by_side():
    f = measure(session())
    # #7 to Rana, #8 to Jayden, #9 to Kerry (Jayden's side), #10 to the group, #11 to Des (community)
    assert f.accusatory_by_side == {"harmed": 1, "responsible": 2, "neutral": 1, "everyone": 1}
    assert not f.neutral
    clean = [t for t in session() if t.position not in range(7, 12)]
    assert measure(clean).neutral


def test_agreement_reached():
    f = measure(session(), required=2)
    assert f.agreed == ["repaint", "bill"] and f.agreement_required == 2 and f.agreement_reached
    assert not measure(session(), required=3).agreement_reached
    assert not measure(session()[:13], required=2).agreement_reached  # one item so far
    # a later turn without an agreement field keeps what was agreed
    later = turn(15, "agreement", "everyone", [], [u("rana", "Good.")])
    assert measure(session() + [later]).agreed == ["repaint", "bill"]


def test_ground_rules_only_count_in_the_opening():
    assert measure(session()).ground_rules
    turns = session()
    turns[0] = replace(turns[0], trainee_text="Welcome, everyone.")
    assert not measure(turns).ground_rules
    turns[5] = replace(turns[5], trainee_text="Remember the ground rules: one at a time.")  # responsible account
    assert not measure(turns).ground_rules


def test_apologies_and_their_answers():
    f = measure(session())
    assert f.apologies == [{"position": 12, "text": "I'm sorry, I did it and I'll fix your wall.", "verdict": "lands",
                            "wording": WORDING, "answer": "accepts"}]


def test_to_dict_rounds_and_carries_everything():
    d = measure(session()).to_dict()
    assert d["balance"] == round(48 / 61, 4) and d["everyone_heard"] is True
    assert d["moves"] == 3 and d["moves_summarised"] == 2 and d["agreement_reached"] is True
    assert d["neutral"] is False and d["stage_fit_share"] == pytest.approx(0.8)


# -- tips -----------------------------------------------------------------------------------------------
def analysis(text, *labels):
    return Analysis(text, None, frozenset(labels), {})


def view(**kw):
    base = dict(stage="responsible_account", stage_title=STAGE_TITLES["responsible_account"],
                speakers=STAGE_SPEAKERS["responsible_account"], addressed_role="responsible",
                addressed_name="Jayden", stage_names=("Jayden",), unheard=(), messages_in_stage=2,
                summarised_in_stage=False, facilitator_messages=3)
    return StageView(**{**base, **kw})


def opening(**kw):
    base = dict(stage="opening", stage_title=STAGE_TITLES["opening"], speakers=None, addressed_role=None,
                addressed_name="the group", stage_names=(), messages_in_stage=1, facilitator_messages=1)
    return view(**{**base, **kw})


def test_fits_stage():
    assert fits_stage(None, "harmed")  # everyone's stage
    assert fits_stage(frozenset({"responsible"}), None)  # the whole group
    assert fits_stage(frozenset({"responsible"}), "responsible")
    assert not fits_stage(frozenset({"responsible"}), "harmed")


def test_open_with_ground_rules():
    tip = facilitation_tip(analysis("Hello everyone, thanks for coming."), opening())
    assert tip.kind == "facilitation" and "Ground rules" in tip.text
    for text in ("We'll take turns and listen to each other.", "One person at a time, please.",
                 "Only the person holding the talking piece speaks.", "No one has to answer, and you can pass if you like."):
        assert facilitation_tip(analysis(text), opening()) is None, text


def test_ground_rules_tip_only_on_the_first_message():
    assert facilitation_tip(analysis("Hello everyone."), opening(messages_in_stage=2)) is None


def test_no_facilitation_tip_for_accusatory_messages():
    assert facilitation_tip(analysis("Hello everyone.", "accusation"), opening()) is None
    wrong = view(addressed_role="harmed", addressed_name="Rana")
    assert facilitation_tip(analysis("Why did you leave it?", "why_question", "open_question"), wrong) is None


def test_a_question_to_the_wrong_person_for_the_stage():
    text = "Rana, what was that morning like for you?"
    tip = facilitation_tip(analysis(text, "open_question"), view(addressed_role="harmed", addressed_name="Rana"))
    assert tip.kind == "facilitation"
    assert "the question fits Jayden" in tip.text and "Rana will have their turn" in tip.text
    assert tip.quote == text
    # the right person, the whole group, an everyone's stage, or no question: no such tip
    assert facilitation_tip(analysis(text, "open_question"), view()) is None
    assert facilitation_tip(analysis(text, "open_question"), view(addressed_role=None, addressed_name="the group")) is None
    everyone = view(stage="what_needs_to_happen", stage_title=STAGE_TITLES["what_needs_to_happen"], speakers=None,
                    addressed_role="harmed", addressed_name="Rana", stage_names=())
    assert facilitation_tip(analysis(text, "restorative_question"), everyone) is None
    assert facilitation_tip(analysis("That sounds hard.", "reflection"), view(addressed_role="harmed")) is None


def test_someone_unheard_after_a_while():
    late = view(unheard=("Kerry",), facilitator_messages=UNHEARD_AFTER)
    tip = facilitation_tip(analysis("Thank you.", "encourager"), late)
    assert tip.kind == "facilitation" and tip.text.startswith("Kerry has not spoken yet")
    two = view(unheard=("Kerry", "Des"), facilitator_messages=UNHEARD_AFTER + 3)
    assert facilitation_tip(analysis("Thank you."), two).text.startswith("Kerry, Des have not spoken yet")
    early = view(unheard=("Kerry",), facilitator_messages=UNHEARD_AFTER - 1)
    assert facilitation_tip(analysis("Thank you."), early) is None


def test_the_stage_order_comes_before_the_unheard():
    both = view(addressed_role="harmed", addressed_name="Rana", unheard=("Kerry",), facilitator_messages=10)
    assert "the question fits Jayden" in facilitation_tip(analysis("How was it?", "open_question"), both).text


def test_a_nudge_to_summarise_before_moving_on():
    long = view(messages_in_stage=SUMMARY_NUDGE_AFTER)
    tip = facilitation_tip(analysis("And then what?", "open_question"), long)
    assert tip.kind == "facilitation" and tip.text.startswith("Before you move on")
    assert facilitation_tip(analysis("So you felt let down.", "summary"), long) is None
    assert facilitation_tip(analysis("And then what?", "open_question"), replace(long, summarised_in_stage=True)) is None
    assert facilitation_tip(analysis("And then what?", "open_question"),
                            view(messages_in_stage=SUMMARY_NUDGE_AFTER - 1)) is None


def test_move_on_tip():
    title = STAGE_TITLES["responsible_account"]
    tip = move_on_tip(title, [frozenset({"summary"})], ["Jayden"])
    assert tip.kind == "facilitation" and "before Jayden had spoken in it" in tip.text
    assert "two" not in move_on_tip(title, [], ["Jayden", "Kerry"]).text
    assert "before Jayden and Kerry had spoken" in move_on_tip(title, [], ["Jayden", "Kerry"]).text
    tip = move_on_tip(title, [frozenset({"open_question"}), frozenset()], [])
    assert "without a summary" in tip.text and title.lower() in tip.text
    assert "without a summary" in move_on_tip(title, [], []).text
    assert move_on_tip(title, [frozenset({"summary"}), frozenset({"open_question"})], []) is None
    assert move_on_tip(title, [frozenset(), frozenset({"summary", "reflection"})], []) is None
    # only the last two count
    assert move_on_tip(title, [frozenset({"summary"}), frozenset(), frozenset()], []) is not None
