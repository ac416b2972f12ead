import pytest

from rjcoach.labels import ACCUSATORY
from rjcoach.persona_engine import (
    EFFECTS,
    INTERROGATION_RUN,
    EmbeddedPersona,
    Observation,
    PersonaState,
    update_state,
)
from rjcoach.persona_loader import load_folder


@pytest.fixture(scope="module")
def lib():
    return load_folder()


@pytest.fixture
def rana(lib):
    return lib.personas["rana_haddad"]


def start(p):
    return PersonaState(p.start.trust, p.start.distress, p.start.defensiveness)


def obs(text, *labels):
    return Observation(text, frozenset(labels))


@pytest.mark.parametrize("label", ["reflection", "emotion_label", "summary", "validation", "sympathy", "restorative_question"])
def test_listening_and_empathy_raise_trust(rana, label):
    s = start(rana)
    assert update_state(rana, s, frozenset({label})).trust > s.trust


@pytest.mark.parametrize("label", sorted(ACCUSATORY))
def test_each_accusatory_label_lowers_trust(rana, label):
    s = start(rana)
    after = update_state(rana, s, frozenset({label}))
    assert after.trust < s.trust and after.defensiveness >= s.defensiveness


def test_accusatory_labels_hurt_in_their_own_ways(rana):
    s = start(rana)
    blame = update_state(rana, s, frozenset({"victim_blaming"}))
    why = update_state(rana, s, frozenset({"why_question"}))
    threat = update_state(rana, s, frozenset({"threat"}))
    label = update_state(rana, s, frozenset({"labeling"}))
    assert blame.distress > why.distress  # victim blaming wounds
    assert threat.defensiveness > why.defensiveness  # a threat provokes
    assert label.trust < why.trust  # an insult costs more than a clumsy why


def test_warm_words_do_not_offset_blame(rana):
    s = start(rana)
    mixed = update_state(rana, s, frozenset({"sympathy", "victim_blaming"}))
    assert mixed.trust == update_state(rana, s, frozenset({"victim_blaming"})).trust


def test_run_of_closed_questions_feels_like_interrogation(rana):
    s = start(rana)
    for _ in range(INTERROGATION_RUN):
        s = update_state(rana, s, frozenset({"closed_question"}))
    assert s.closed_run == INTERROGATION_RUN and s.trust < rana.start.trust
    assert update_state(rana, s, frozenset({"reflection", "closed_question"})).closed_run == 0


def test_sensitivity_from_the_file_scales_reactions(rana):
    touchy = rana.model_copy(update={"sensitivity": rana.sensitivity.model_copy(update={"accusatory": 3.0})})
    calm = rana.model_copy(update={"sensitivity": rana.sensitivity.model_copy(update={"accusatory": 0.5})})
    s = start(rana)
    assert update_state(touchy, s, frozenset({"accusation"})).trust < update_state(calm, s, frozenset({"accusation"})).trust


def test_harder_personas_warm_more_slowly(rana):
    easy = rana.model_copy(update={"difficulty": 1})
    hard = rana.model_copy(update={"difficulty": 3})
    s = start(rana)
    assert update_state(easy, s, frozenset({"reflection"})).trust > update_state(hard, s, frozenset({"reflection"})).trust


def test_state_stays_in_range(rana):
    s = start(rana)
    for _ in range(40):
        s = update_state(rana, s, frozenset(ACCUSATORY))
    assert 0.0 == s.trust and s.defensiveness == 1.0 and s.distress <= 1.0
    assert all(kind in ("listening", "empathy", "restorative", "accusatory") for kind, *_ in EFFECTS.values())


def test_act_needs_a_message(rana):
    with pytest.raises(RuntimeError):
        EmbeddedPersona(rana).act()


def test_topic_is_matched_by_meaning(rana):
    agent = EmbeddedPersona(rana)
    agent.observe(obs("Could you walk me through the morning you discovered the paint?", "open_question", "restorative_question"))
    turn = agent.act()
    assert turn.topic == "what_happened" and turn.variant == "guarded"
    replies = {r.text for r in rana.topics["what_happened"].guarded}
    assert turn.text in replies


def test_off_topic_input_gets_an_in_character_reply(rana):
    agent = EmbeddedPersona(rana)
    agent.observe(obs("Which is better, Linux or Windows for gaming?", "closed_question"))
    turn = agent.act()
    assert turn.topic == "off_topic"
    assert turn.text in {r.text for r in rana.topics["off_topic"].guarded}


def test_accusatory_message_gets_that_labels_reaction(rana):
    agent = EmbeddedPersona(rana)
    agent.observe(obs("You shouldn't have left your shutters like that.", "victim_blaming"))
    turn = agent.act()
    assert turn.topic == "reaction:victim_blaming"
    assert turn.text in {r.text for r in rana.reactions.victim_blaming}


def test_replies_do_not_repeat_until_the_list_is_used_up(rana):
    agent = EmbeddedPersona(rana)
    seen = []
    n = len(rana.topics["impact"].guarded)
    for _ in range(n):
        agent.observe(obs("How has this affected the business?", "open_question"))
        seen.append(agent.act().text)
    assert len(set(seen)) == n


def test_disclosure_needs_trust_and_topic_and_comes_once(rana):
    agent = EmbeddedPersona(rana)
    agent.observe(obs("What's been the hardest part?", "open_question", "restorative_question"))
    assert agent.act().disclosure is None  # trust too low
    agent.state = PersonaState(0.9, 0.3, 0.2)
    agent.observe(obs("What's the weather doing?", "open_question"))
    assert agent.act().disclosure is None  # topic does not invite it
    agent.observe(obs("What impact has this had on you?", "open_question", "restorative_question"))
    first = agent.act()
    assert first.disclosure == "rana_father_shop" and first.variant == "disclosure" and first.emotion == "grief"
    agent.observe(obs("What impact has this had on you?", "open_question", "restorative_question"))
    assert agent.act().disclosure != "rana_father_shop"


def test_same_seed_same_replies_and_different_seed_can_differ(rana):
    script = [("How are you?", "closed_question"), ("What happened?", "open_question"), ("How has it affected you?", "open_question")] * 2

    def run(seed):
        agent = EmbeddedPersona(rana, seed=seed)
        out = []
        for text, label in script:
            agent.observe(obs(text, label))
            out.append(agent.act().text)
        return out

    assert run(5) == run(5)
    assert any(run(s) != run(5) for s in range(6, 12))


def test_blame_keeps_a_persona_closed(lib):
    for persona in lib.personas.values():
        agent = EmbeddedPersona(persona)
        for _ in range(6):
            agent.observe(obs("You people always bring this on yourselves.", "generalization", "accusation"))
            turn = agent.act()
            assert turn.variant == "reaction" and turn.disclosure is None
        assert agent.state.trust < persona.start.trust



def test_persona_lines_are_every_line_the_engine_can_say(lib):
    """What a session reads ahead for the analyser: each reply, disclosure and reaction, once."""
    from rjcoach.persona_engine import persona_lines

    for p in lib.personas.values():
        lines = persona_lines(p)
        assert len(lines) == len(set(lines))
        said = {r.text for t in p.topics.values() for r in (*t.guarded, *t.open)}
        said |= {d.text for d in p.disclosures}
        said |= {r.text for label in ACCUSATORY for r in getattr(p.reactions, label)}
        assert said <= set(lines), p.id


def test_every_reply_of_a_conversation_is_among_the_persona_lines(rana):
    from rjcoach.persona_engine import persona_lines

    lines = set(persona_lines(rana))
    agent = EmbeddedPersona(rana, seed=5)
    for text, labels in [("What happened?", {"open_question", "restorative_question"}),
                         ("That sounds frightening.", {"emotion_label", "sympathy"}),
                         ("You should have locked up properly.", {"victim_blaming", "advice"}),
                         ("Why did you leave it open?", {"why_question", "open_question"}),
                         ("What has been the hardest part since?", {"open_question", "restorative_question"}),
                         ("It makes sense you feel unsafe.", {"validation"})]:
        agent.observe(obs(text, *labels))
        assert agent.act().text in lines
