import pytest

from rjcoach.analysis import Analysis, Evidence, summarise_families
from rjcoach.coach import PriorTurn, coach, restorative_rewrite, session_metrics
from rjcoach.labels import LABELS


def analysis(text, labels, evidence=()):
    scores = {label: (0.9 if label in labels else 0.05) for label in LABELS}
    return Analysis(text, None, frozenset(labels), scores, tuple(evidence), summarise_families(frozenset(labels), scores))


def T(*labels, emotion="neutral", text=""):
    return PriorTurn(frozenset(labels), emotion, text)


def test_metrics_by_hand():
    turns = [
        T("open_question", emotion="anger", text="I'm furious."),
        T("reflection", "emotion_label"),  # acknowledges the anger
        T("closed_question", emotion="sadness", text="It was Dad's sign."),
        T("closed_question"),  # does not acknowledge the sadness
        T("accusation", "why_question", "open_question"),
    ]
    m = session_metrics(turns)
    assert (m.utterances, m.reflections, m.questions) == (5, 1, 4)
    assert (m.open_questions, m.closed_questions) == (2, 2)
    assert m.rq_ratio == pytest.approx(0.25) and m.open_share == pytest.approx(0.5)
    assert m.accusatory_rate == pytest.approx(0.2)
    assert (m.disclosures_offered, m.disclosures_acknowledged) == (2, 1)
    assert m.band("rq_ratio") == "below" and m.band("open_share") == "fair" and m.band("accusatory_rate") == "below"


def test_empty_session_metrics():
    m = session_metrics([])
    assert m.rq_ratio is None and m.open_share is None and m.band("rq_ratio") == "n/a"


def test_accusatory_comes_first_and_quotes_the_words():
    a = analysis("Why did you smash the window? You're a thug.", {"why_question", "open_question", "labeling"},
                 [Evidence("why_question", 0, 11, "Why did you", "rule:x"), Evidence("labeling", 40, 44, "thug", "rule:y")])
    fb = coach(a, [T("closed_question", emotion="anger", text="Leave me alone.")])
    assert fb.tip.kind == "accusatory" and fb.tip.quote in ("Why did you", "thug")
    assert fb.rewrite == "What was going on for you when you decided to smash the window?"


def test_missed_feeling_is_second():
    fb = coach(analysis("When did you get home?", {"closed_question"}),
               [T("open_question", emotion="fear", text="I haven't slept since.")], persona_name="Rana")
    assert fb.tip.kind == "missed_feeling" and "Rana sounded frightened" in fb.tip.text
    assert "I haven't slept since." in fb.tip.text
    ok = coach(analysis("You sound frightened.", {"reflection", "emotion_label"}),
               [T("open_question", emotion="fear", text="I haven't slept since.")])
    assert ok.tip is None or ok.tip.kind == "praise"


def test_run_of_closed_questions():
    hist = [T("closed_question"), T("closed_question")]
    fb = coach(analysis("Was it locked?", {"closed_question"}), hist)
    assert fb.tip.kind == "balance" and "3 closed questions" in fb.tip.text


def test_praise_for_good_moves():
    a = analysis("So it was your dad's sign.", {"reflection"}, [Evidence("reflection", 0, 26, "So it was your dad's sign.", "m")])
    assert coach(a, []).tip.kind == "praise"


def test_light_level_only_flags_accusatory():
    fb = coach(analysis("When did you get home?", {"closed_question"}), [T("open_question", emotion="fear", text="x")], level="light")
    assert fb.tip is None and fb.labels_plain == ()
    fb = coach(analysis("It's only a bike.", {"minimizing"}), [], level="light")
    assert fb.tip.kind == "accusatory" and fb.labels_plain == ("minimising the harm",)


def test_assessment_level_shows_nothing_live():
    fb = coach(analysis("You're a thug.", {"labeling"}), [], level="assessment")
    assert fb.tip is None and fb.rewrite is None and not fb.show_labels
    assert fb.metrics.accusatory_utterances == 1  # still measured for the debrief


def test_unknown_level():
    with pytest.raises(ValueError, match="coached"):
        coach(analysis("Hi", set()), [], level="strict")


@pytest.mark.parametrize("labels,expect", [
    ({"victim_blaming"}, "None of this is on you"),
    ({"victim_blaming", "why_question", "open_question"}, "None of this is on you"),
    ({"threat"}, "work this out together"),
    ({"minimizing"}, "hit you harder"),
    ({"generalization"}, "this time"),
    ({"accusation"}, "in your own words"),
])
def test_rewrites_per_label(labels, expect):
    assert expect in restorative_rewrite(analysis("text", labels))


def test_no_rewrite_for_a_good_message():
    assert restorative_rewrite(analysis("What happened?", {"open_question", "restorative_question"})) is None
