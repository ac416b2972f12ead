"""How people in a group hear each other (rjcoach.hearing): pure, no models."""
from dataclasses import replace

import pytest

from rjcoach.hearing import (
    BLAMING_LABELS, HALF, LANDS, ApologyWording, apology_wording, hear_apology, hear_line, line_kind,
)
from rjcoach.persona_engine import PersonaState
from rjcoach.persona_loader import load_folder

WELL_WORDED = "I'm sorry, Rana. I sprayed your shop and it was my fault. I'll come and help repaint the wall."
BLAMING = "Sorry, but it was only paint, and Reece made me do it anyway."


@pytest.fixture(scope="module")
def lib():
    return load_folder()


@pytest.fixture
def rana(lib):
    return lib.personas["rana_haddad"]


def damp(p, state) -> float:
    """Trust gains are damped as from the facilitator: harder personas, and higher trust, gain less."""
    return (1.15 - 0.15 * p.difficulty) * (1.0 - 0.5 * state.trust)


def start(p) -> PersonaState:
    return PersonaState(p.start.trust, p.start.distress, p.start.defensiveness)


# -- apology_wording -------------------------------------------------------------------------------
def test_a_well_worded_apology_lands():
    w = apology_wording(WELL_WORDED)
    assert (w.says_sorry, w.owns_it, w.names_harm, w.repairs, w.excuses) == (True, True, True, True, False)
    assert w.blaming_labels == ()
    assert w.score == pytest.approx(0.35 + 0.3 + 0.2 + 0.15)
    assert w.verdict == "lands"


@pytest.mark.parametrize("text", [
    "I'm sorry, but I sprayed your shop because the others were doing it.",  # a "but"
    "Sorry about your wall. It was only paint, I'll clean it.",  # "only paint"
    "I'm sorry. It was just a laugh, I did it.",  # "it was just"
    "Sorry about your shop, they made me do it.",  # someone else to blame
    "Sorry, Reece egged me on, it was his idea.",
    "I said sorry already. You've got insurance.",
    BLAMING,
])
def test_excuses_and_blame_shifting_fall_flat(text):
    w = apology_wording(text)
    assert w.excuses and w.verdict == "flat", w.as_dict()
    assert w.score < apology_wording(WELL_WORDED).score


def test_a_bare_sorry_does_not_land():
    w = apology_wording("Sorry.")
    assert w.says_sorry and not (w.owns_it or w.names_harm or w.repairs or w.excuses)
    assert w.score == pytest.approx(0.35)
    assert HALF <= w.score < LANDS
    assert w.verdict == "half"


def test_no_apology_words_at_all_is_flat():
    w = apology_wording("Dunno. Can I go now?")
    assert w.score == 0 and w.verdict == "flat"


@pytest.mark.parametrize("label", sorted(BLAMING_LABELS))
def test_blaming_labels_from_the_analyser_make_good_words_flat(label):
    w = apology_wording(WELL_WORDED, frozenset({label, "open_question"}))
    assert w.blaming_labels == (label,)
    assert not w.excuses  # the words alone have no excuse: the label does it
    assert w.verdict == "flat"
    assert w.score == pytest.approx(1.0 - 0.3)


def test_other_labels_do_not_count_as_blame():
    w = apology_wording(WELL_WORDED, frozenset({"open_question", "sympathy", "why_question"}))
    assert w.blaming_labels == () and w.verdict == "lands"


def test_as_dict_is_the_record_shape():
    d = apology_wording(BLAMING, frozenset({"minimizing"})).as_dict()
    assert d["verdict"] == "flat" and d["blaming_labels"] == ["minimizing"] and d["excuses"] is True
    assert set(d) == {"says_sorry", "owns_it", "names_harm", "repairs", "excuses", "blaming_labels", "score", "verdict"}


# -- hear_apology ----------------------------------------------------------------------------------
def test_the_same_words_raise_or_lower_the_harmed_partys_trust(rana):
    s = start(rana)
    good, _ = hear_apology(rana, s, apology_wording(WELL_WORDED))
    bad, answer = hear_apology(rana, s, apology_wording(BLAMING))
    assert good.trust > s.trust and good.defensiveness < s.defensiveness and good.distress < s.distress
    assert bad.trust < s.trust and bad.defensiveness > s.defensiveness and bad.distress > s.distress
    assert answer == "rejects"
    # by hand: openness 1 - 0.6 * 0.5 = 0.7; trust + (0.06 + 0.12 * 0.7) * restorative 1.0
    assert good.trust == pytest.approx(s.trust + (0.06 + 0.12 * 0.7) * damp(rana, s))
    # flat: trust - (0.10 + 0.06 * distress 0.6) * accusatory 1.3
    assert bad.trust == pytest.approx(s.trust - (0.10 + 0.06 * 0.6) * 1.3)


def test_a_good_apology_lands_less_with_a_defensive_listener(rana):
    s = start(rana)
    w = apology_wording(WELL_WORDED)
    guarded = replace(s, defensiveness=0.95)
    open_ = replace(s, defensiveness=0.1)
    gain_guarded = hear_apology(rana, guarded, w)[0].trust - guarded.trust
    gain_open = hear_apology(rana, open_, w)[0].trust - open_.trust
    assert 0 < gain_guarded < gain_open


def test_answers_accepts_doubts_rejects(rana):
    s = start(rana)
    lands, half, flat = apology_wording(WELL_WORDED), apology_wording("Sorry."), apology_wording(BLAMING)
    assert half.verdict == "half"
    # lands with someone already fairly open: accepts (trust >= 0.45, defensiveness < 0.6 after it)
    assert hear_apology(rana, replace(s, trust=0.5, defensiveness=0.3), lands)[1] == "accepts"
    # lands, but trust is still low afterwards: doubts
    assert hear_apology(rana, replace(s, trust=0.1), lands)[1] == "doubts"
    # lands, but they stay too defensive: doubts
    low, answer = hear_apology(rana, replace(s, trust=0.6, defensiveness=0.95), lands)
    assert low.defensiveness >= 0.6 and answer == "doubts"
    # half: a start, always doubted, a small gain
    after, answer = hear_apology(rana, replace(s, trust=0.8, defensiveness=0.0), half)
    assert answer == "doubts" and after.trust == pytest.approx(0.8 + 0.03 * damp(rana, replace(s, trust=0.8)))
    # flat: rejected even by someone who trusts the process
    after, answer = hear_apology(rana, replace(s, trust=0.9, defensiveness=0.0), flat)
    assert answer == "rejects" and after.trust < 0.9


def test_a_flat_apology_hurts_more_the_more_distressed(rana):
    s = start(rana)
    flat = apology_wording(BLAMING)
    calm = hear_apology(rana, replace(s, distress=0.1), flat)[0]
    upset = hear_apology(rana, replace(s, distress=0.9), flat)[0]
    assert upset.trust < calm.trust


def test_hear_apology_respects_the_personas_sensitivity(lib):
    # Brian is more sensitive to restorative moves (1.1) than Rana (1.0)
    rana, brian = lib.personas["rana_haddad"], lib.personas["brian_hale"]
    s = PersonaState(0.3, 0.5, 0.5)
    w = apology_wording(WELL_WORDED)
    ratio = 1.1 * damp(brian, s) / damp(rana, s)  # Brian is also harder (3) than Rana (2)
    assert hear_apology(brian, s, w)[0].trust - 0.3 == pytest.approx((hear_apology(rana, s, w)[0].trust - 0.3) * ratio)


def test_hear_apology_keeps_the_rest_of_the_state(rana):
    s = replace(start(rana), closed_run=2, turn=5, disclosed=("rana_father_shop",), topic="impact")
    after, _ = hear_apology(rana, s, apology_wording(WELL_WORDED))
    assert (after.closed_run, after.turn, after.disclosed, after.topic) == (2, 5, ("rana_father_shop",), "impact")


def test_states_stay_between_zero_and_one(rana):
    top = PersonaState(1.0, 0.0, 0.0)
    bottom = PersonaState(0.0, 1.0, 1.0)
    assert hear_apology(rana, top, apology_wording(WELL_WORDED))[0].trust == 1.0
    assert hear_apology(rana, bottom, apology_wording(BLAMING))[0].trust == 0.0


def test_a_hand_built_wording_is_judged_the_same_way():
    w = ApologyWording(True, True, False, False, False, (), 0.65)
    assert w.verdict == "lands"
    assert ApologyWording(True, True, True, True, True, (), 0.5).verdict == "flat"


# -- line_kind and hear_line ------------------------------------------------------------------------
@pytest.mark.parametrize("kind,emotion,verdict,key", [
    ("apology", "shame", "lands", "apology:lands"),
    ("apology", "defiance", "flat", "apology:flat"),
    ("apology", "neutral", "half", "apology:half"),
    ("apology_response", "relief", "accepts", "accepts"),
    ("apology_response", "anger", "rejects", "rejects"),
    ("apology_response", "anger", None, "plain"),
    ("defends", "hurt", None, "defends"),
    ("rebukes", "anger", None, "rebukes"),
    ("wider_harm", "sadness", None, "wider_harm"),
    ("agrees", "hope", None, "agrees"),
    ("disclosure", "grief", None, "disclosure"),
    ("reply", "shame", None, "soft"),
    ("reply", "anger", None, "hard"),
    ("reaction", "neutral", None, "hard"),
    ("reply", "neutral", None, "plain"),
    ("declines", "hope", None, "plain"),
])
def test_line_kind(kind, emotion, verdict, key):
    assert line_kind(kind, emotion, verdict) == key


def test_a_supporter_defending_hardens_the_other_side_and_backs_their_own(lib, rana):
    jayden = lib.personas["jayden_price"]
    r, j = start(rana), start(jayden)
    other = hear_line(rana, r, "defends", "other")
    own = hear_line(jayden, j, "defends", "own")
    # other side: accusatory sensitivity (Rana 1.3): trust -0.04, distress +0.02, defensiveness +0.05
    assert other.trust == pytest.approx(r.trust - 0.04 * 1.3)
    assert other.defensiveness == pytest.approx(r.defensiveness + 0.05 * 1.3)
    assert other.distress == pytest.approx(r.distress + 0.02 * 1.3)
    # own person: empathy sensitivity (Jayden 0.8)
    assert own.trust == pytest.approx(j.trust + 0.02 * 0.8 * damp(jayden, j))
    assert own.defensiveness == pytest.approx(j.defensiveness - 0.03 * 0.8)


def test_a_supporter_rebuking_their_own_reassures_the_other_side(lib, rana):
    jayden = lib.personas["jayden_price"]
    r, j = start(rana), start(jayden)
    other = hear_line(rana, r, "rebukes", "other")
    own = hear_line(jayden, j, "rebukes", "own")
    assert other.trust == pytest.approx(r.trust + 0.04 * 1.2 * damp(rana, r))  # Rana's empathy sensitivity 1.2
    assert other.defensiveness < r.defensiveness
    # the rebuked person's trust stays, but it stings (accusatory sensitivity 1.6)
    assert own.trust == j.trust
    assert own.distress == pytest.approx(j.distress + 0.03 * 1.6)
    assert own.defensiveness == pytest.approx(j.defensiveness + 0.02 * 1.6)


@pytest.mark.parametrize("key,relation", [
    ("defends", "neutral"), ("rebukes", "neutral"), ("plain", "other"), ("apology:half", "own"), ("nonsense", "other"),
])
def test_lines_with_no_effect_for_that_listener_leave_the_state(rana, key, relation):
    s = start(rana)
    assert hear_line(rana, s, key, relation) == s


def test_an_apology_landing_relieves_the_responsible_partys_parent(lib):
    kerry = lib.personas["kerry_price"]
    s = start(kerry)
    assert hear_line(kerry, s, "apology:lands", "own").trust > s.trust
    assert hear_line(kerry, s, "apology:flat", "own").trust < s.trust
    assert hear_line(kerry, s, "accepts", "other").trust > s.trust


@pytest.mark.parametrize("scenario_id", ["graffiti_bakery_conference", "corner_shop_circle", "neighbour_mediation"])
def test_the_shipped_apology_lines_are_worded_as_tagged(lib, scenario_id):
    """A sincere line must land on its words alone and a deflecting one fall flat, or the room's
    reaction would contradict what the author meant."""
    sc = lib.scenarios[scenario_id]
    (apology,) = [p.apology for p in sc.participants.values() if p.apology is not None]
    for reply in apology.sincere:
        assert apology_wording(reply.text).verdict == "lands", reply.text
    for reply in apology.deflecting:
        assert apology_wording(reply.text).verdict == "flat", reply.text
