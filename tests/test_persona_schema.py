"""The schema's rules for multi-party scenarios (conference, circle, mediation): each rule, one broken file."""
import copy
import re

import pytest
import yaml
from pydantic import ValidationError

from rjcoach.persona_loader import PERSONA_DIR, load_file
from rjcoach.persona_schema import DEFAULT_STAGES, GROUP, Participant, Scenario


def raw(name: str) -> dict:
    return yaml.safe_load((PERSONA_DIR / f"{name}.yml").read_text(encoding="utf-8"))


@pytest.fixture
def conference():
    return raw("graffiti_bakery_conference")


@pytest.fixture
def circle():
    return raw("corner_shop_circle")


@pytest.fixture
def mediation():
    return raw("neighbour_mediation")


@pytest.fixture
def one_to_one():
    return raw("graffiti_bakery")


def invalid(data: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        Scenario.model_validate(data)


@pytest.mark.parametrize("name", ["graffiti_bakery_conference", "corner_shop_circle", "neighbour_mediation"])
def test_the_shipped_group_scenarios_validate(name):
    model, errors = load_file(PERSONA_DIR / f"{name}.yml", PERSONA_DIR)
    assert not errors, "\n".join(map(str, errors))
    assert model.is_group
    assert model.stage_ids == DEFAULT_STAGES[model.format]
    assert model.stage_ids[0] == "opening" and model.stage_ids[-1] == "agreement"


def test_one_to_one_has_no_stages_and_group_is_not_a_persona_id(one_to_one):
    sc = Scenario.model_validate(one_to_one)
    assert not sc.is_group and sc.stage_ids == ()
    assert GROUP not in {r.persona for r in sc.roster}


def test_circle_order_is_the_talking_piece_or_the_roster(circle, conference):
    assert Scenario.model_validate(circle).circle_order == tuple(circle["talking_piece"])
    assert Scenario.model_validate(conference).circle_order == tuple(r["persona"] for r in conference["roster"])


# -- the roster --------------------------------------------------------------------------------------
def test_a_mediation_roster_is_exactly_the_two_parties(mediation):
    mediation["roster"].append({"persona": "winston_clarke", "role": "community"})
    mediation["participants"]["winston_clarke"] = {"wider_harm": ["The close is not the same."]}
    invalid(mediation, "mediation: the roster is exactly one harmed and one responsible party")


def test_a_conference_needs_three_people(conference):
    conference["roster"] = conference["roster"][:2]
    for pid in ("kerry_price", "des_okafor"):
        del conference["participants"][pid]
    conference["agreement"]["items"] = [i for i in conference["agreement"]["items"] if i["id"] == "cleaning_bill"]
    conference["agreement"]["items"][0]["parties"] = ["rana_haddad", "jayden_price"]
    conference["agreement"]["required"] = 1
    invalid(conference, "conference: the roster needs three to six participants")
    conference["format"] = "mediation"  # the same two people are a valid mediation
    assert Scenario.model_validate(conference).stage_ids == DEFAULT_STAGES["mediation"]


def test_one_harmed_and_one_responsible_party(conference):
    conference["roster"][3]["role"] = "harmed"
    conference["participants"]["des_okafor"] = {"on_apology": conference["participants"]["rana_haddad"]["on_apology"]}
    invalid(conference, "exactly one harmed and one responsible party")


def test_each_person_once(conference):
    conference["roster"].append({"persona": "kerry_price", "role": "parent"})
    invalid(conference, "each person at most once")


# -- participants ------------------------------------------------------------------------------------
def test_participants_are_required(conference):
    del conference["participants"]
    invalid(conference, "participants: a conference needs lines for every roster person")


def test_a_missing_participant_is_named(conference):
    del conference["participants"]["des_okafor"]
    invalid(conference, "participants: one entry per roster person; missing des_okafor")


def test_a_participant_not_on_the_roster_is_named(circle):
    circle["participants"]["winston_clarke"] = {}
    invalid(circle, "not on the roster: winston_clarke")


def test_apology_lines_belong_to_the_responsible_party(conference):
    conference["participants"]["rana_haddad"]["apology"] = copy.deepcopy(conference["participants"]["jayden_price"]["apology"])
    invalid(conference, "participants.rana_haddad.apology: the responsible party, and only they, have apology lines")


def test_the_responsible_party_needs_apology_lines(mediation):
    del mediation["participants"]["nadia_kowalski"]["apology"]
    invalid(mediation, "participants.nadia_kowalski.apology")


def test_replies_to_an_apology_belong_to_the_harmed_party(circle):
    circle["participants"]["jo_collins"]["on_apology"] = copy.deepcopy(circle["participants"]["harjit_sandhu"]["on_apology"])
    invalid(circle, "participants.jo_collins.on_apology: the harmed party, and only they")


def test_a_supporter_says_whom_they_support(conference):
    del conference["participants"]["kerry_price"]["supports"]
    invalid(conference, "participants.kerry_price: defends and rebukes lines need supports")


def test_a_supporter_supports_someone_else_on_the_roster(conference):
    conference["participants"]["kerry_price"]["supports"] = "kerry_price"
    invalid(conference, "participants.kerry_price.supports: 'kerry_price' is not another person on the roster")
    conference["participants"]["kerry_price"]["supports"] = "brian_hale"
    invalid(conference, "'brian_hale' is not another person on the roster")


def test_a_supporter_needs_defends_and_rebukes(circle):
    circle["participants"]["jo_collins"]["rebukes"] = []
    invalid(circle, "participants.jo_collins: someone who supports another needs defends and rebukes lines")


def test_wider_harm_is_for_a_community_member(conference):
    conference["participants"]["kerry_price"]["wider_harm"] = ["The whole estate talks about us now."]
    invalid(conference, "participants.kerry_price.wider_harm: only a community member")
    del conference["participants"]["kerry_price"]["wider_harm"]
    conference["participants"]["des_okafor"]["wider_harm"] = []
    invalid(conference, "participants.des_okafor.wider_harm: a community member needs lines on the wider harm")


@pytest.mark.parametrize("field,text,ok", [
    ("defends", "Leave {name} alone.", False),  # an unknown placeholder
    ("rebukes", "Say it properly {", False),  # a stray brace
    ("defends", "He'll do {item}, he said so.", False),  # {item} only in agrees and declines
    ("wider_harm", "The road thinks about {item} now.", False),
    ("agrees", "Yes, we will do {item}.", True),
    ("declines", "Not {item}, not yet.", True),
    ("agrees", "Yes: {items}.", False),
])
def test_placeholders(field, text, ok):
    data = {"supports": "jayden_price", "defends": ["He's fifteen."], "rebukes": ["Jayden. Tell her properly."]}
    if field == "wider_harm":
        data = {"wider_harm": ["x"]}
    data[field] = [text]
    if ok:
        assert getattr(Participant.model_validate(data), field)[0].text == text
    else:
        with pytest.raises(ValidationError, match="is not a placeholder here"):
            Participant.model_validate(data)


def test_a_stray_placeholder_in_a_scenario_file(conference):
    conference["participants"]["kerry_price"]["defends"].append("You don't know {child} like I do.")
    invalid(conference, "defends: {child} is not a placeholder here")


# -- stages and talking piece -----------------------------------------------------------------------
def test_a_talking_piece_only_in_a_circle(conference):
    conference["talking_piece"] = [r["persona"] for r in conference["roster"]]
    invalid(conference, "talking_piece: only for the circle format")


def test_the_talking_piece_goes_to_everyone_once(circle):
    circle["talking_piece"] = ["pastor_ade_bello", "mia_collins", "jo_collins", "mia_collins"]
    invalid(circle, "talking_piece: list every roster person exactly once")


@pytest.mark.parametrize("stages", [
    ["responsible_account", "harmed_account", "agreement"],  # no opening
    ["opening", "harmed_account", "responsible_account"],  # no agreement at the end
    ["opening", "harmed_account", "harmed_account", "agreement"],  # twice
])
def test_stages_open_and_close_and_are_each_taken_once(conference, stages):
    conference["stages"] = stages
    invalid(conference, "stages: start with opening, end with agreement, each stage once")


def test_custom_stages(conference):
    conference["stages"] = ["opening", "harmed_account", "responsible_account", "agreement"]
    assert Scenario.model_validate(conference).stage_ids == tuple(conference["stages"])


def test_a_mediation_has_no_supporters_stage(mediation):
    mediation["stages"] = ["opening", "harmed_account", "responsible_account", "supporters", "agreement"]
    invalid(mediation, "a mediation has no supporters' stage")


# -- agreement ----------------------------------------------------------------------------------------
def test_an_agreement_is_required(circle):
    del circle["agreement"]
    invalid(circle, "agreement: a circle needs the items the group can agree to")


def test_required_cannot_exceed_the_items(conference):
    conference["agreement"]["required"] = 5
    invalid(conference, "required is 5 but there are only 4 items")
    conference["agreement"]["required"] = 4
    assert Scenario.model_validate(conference).agreement.required == 4


def test_agreement_item_ids_are_unique(mediation):
    mediation["agreement"]["items"][1]["id"] = mediation["agreement"]["items"][0]["id"]
    invalid(mediation, "agreement item ids used twice: reglaze_greenhouse")


def test_agreement_parties_are_on_the_roster_and_named_once(conference):
    conference["agreement"]["items"][0]["parties"].append("brian_hale")
    invalid(conference, "agreement.items.repaint_side_wall.parties: not on the roster: brian_hale")
    conference["agreement"]["items"][0]["parties"] = ["rana_haddad", "rana_haddad"]
    invalid(conference, "each party at most once")


# -- one-to-one scenarios keep out of all of this ---------------------------------------------------
def test_an_agreement_goal_needs_a_group_format(one_to_one):
    one_to_one["goals"].append({"id": "agree", "description": "Reach an agreement.", "agreement": True})
    invalid(one_to_one, "an agreement goal needs a mediation, conference or circle format")


@pytest.mark.parametrize("key", ["stages", "talking_piece", "participants", "agreement"])
def test_group_fields_on_a_one_to_one_scenario(one_to_one, conference, circle, key):
    source = circle if key == "talking_piece" else conference
    one_to_one[key] = list(DEFAULT_STAGES["conference"]) if key == "stages" else copy.deepcopy(source[key])
    invalid(one_to_one, f"{key}: only for the mediation, conference and circle formats")


def test_a_goal_has_exactly_one_check(conference):
    conference["goals"][0]["label"] = "summary"  # reach_agreement already has agreement: true
    invalid(conference, "a goal needs exactly one of: disclosure, label, trust_at_least, agreement")
