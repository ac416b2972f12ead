"""Assessments for certification: criteria, a whole attempt checked by hand, same seed same run, access."""
import pytest

from rjcoach.assessment import (
    DEFAULT_CRITERIA, AssessmentError, Criterion, attempts, define, evaluate, parse_criteria, result_page,
    start_attempt,
)
from rjcoach.coach import Metrics
from rjcoach.labels import ACCUSATORY
from rjcoach.persona_loader import load_folder
from rjcoach.review import AccessDenied
from rjcoach.session import MessageRejected

SCRIPT = [
    "Hello Rana, thank you for meeting me today.",
    "Can you tell me what happened that morning?",
    "It sounds like it was a real shock to find it.",
    "What has been the hardest part since then?",
    "Why didn't you have cameras up?",
    "So it's the cost, the lost mornings, and not feeling safe in your own shop.",
    "Did you report it straight away?",
    "Who else has been affected by this?",
]


@pytest.fixture(scope="module")
def lib():
    return load_folder()


def metrics(**kw) -> Metrics:
    base = dict(utterances=8, reflections=3, questions=4, open_questions=3, closed_questions=1,
                accusatory_utterances=1, empathy=2, restorative=2, disclosures_offered=2, disclosures_acknowledged=1)
    return Metrics(**{**base, **kw})


def test_criteria_by_hand():
    result = evaluate(DEFAULT_CRITERIA, metrics(), goals_reached=True)
    got = {r.criterion.metric: (r.value, r.passed) for r in result.criteria}
    assert got["open_share"] == (0.75, True)  # 3 open of 4 questions >= 50%
    assert got["rq_ratio"] == (0.75, False)  # 3 reflections / 4 questions < 1
    assert got["accusatory_utterances"] == (1, False)  # one accusatory message > 0
    assert got["utterances"] == (8, True)
    assert got["goals_reached"] == (1.0, True)
    assert result.passed is False
    ok = evaluate(DEFAULT_CRITERIA, metrics(reflections=4, accusatory_utterances=0), goals_reached=True)
    assert ok.passed is True
    no_questions = evaluate([Criterion("rq_ratio", ">=", 1)], metrics(questions=0, open_questions=0, closed_questions=0), True)
    assert no_questions.criteria[0].value is None and not no_questions.passed  # the skill was not shown


@pytest.mark.parametrize("bad,match", [
    ([], "at least one"),
    ([{"metric": "charisma", "op": ">=", "threshold": 1}], "not one of"),
    ([{"metric": "rq_ratio", "op": ">", "threshold": 1}], "operator"),
    ([{"metric": "rq_ratio", "op": ">=", "threshold": "high"}], "number"),
    ([{"metric": "rq_ratio", "op": ">=", "threshold": 1}, {"metric": "rq_ratio", "op": "<=", "threshold": 3}], "at most once"),
])
def test_bad_criteria_are_named(bad, match):
    with pytest.raises(AssessmentError, match=match):
        parse_criteria(bad)


@pytest.mark.slow
def test_an_attempt_is_measured_and_filed(world, lib):
    s = world.store
    aid = define(s, lib, world.ins_north, "bakery-cert", "graffiti_bakery", "rana_haddad", 4242)
    attempt = start_attempt(s, lib, world.ana, aid)
    assert (attempt.row.level, attempt.row.seed) == ("assessment", 4242)
    for line in SCRIPT:
        result = attempt.turn(line)
        assert result.feedback.tip is None and result.feedback.rewrite is None  # no live feedback
    with pytest.raises(MessageRejected, match="taking one back"):
        attempt.rewind()
    debrief = attempt.end()

    # the same metrics, counted by hand from the stored labels
    labels = [set(t.analysis["labels"]) for t in s.turns(attempt.id)]
    questions = sum(bool(x & {"open_question", "closed_question"}) for x in labels)
    open_q = sum("open_question" in x for x in labels)
    closed_q = sum("closed_question" in x for x in labels)
    reflections = sum("reflection" in x for x in labels)
    accusatory = sum(bool(x & ACCUSATORY) for x in labels)
    expected = {
        "open_share": (open_q / (open_q + closed_q)) >= 0.5,
        "rq_ratio": (reflections / questions) >= 1.0,
        "accusatory_utterances": accusatory == 0,
        "utterances": len(SCRIPT) >= 6,
        "goals_reached": debrief.success,
    }
    filed = s.result_of(attempt.id)
    assert {c["metric"]: c["passed"] for c in filed.result["criteria"]} == expected
    assert filed.passed == all(expected.values())
    assert accusatory >= 1 and filed.passed is False  # "Why didn't you have cameras up?" is accusatory

    attempt.end()  # ending again files nothing new
    assert len(s.results(aid)) == 1
    page = result_page(s, world.ana, attempt.id, standalone=True)
    assert "FAIL" in page and "bakery-cert" in page and "accusatory messages" in page

    # who sees the attempt
    assert [a.session_id for a in attempts(s, world.ins_north, aid)] == [attempt.id]
    assert attempts(s, world.ins_south, aid) == []
    with pytest.raises(AccessDenied):
        result_page(s, world.ben, attempt.id)
    with pytest.raises(AccessDenied):
        define(s, lib, world.ana, "mine", "graffiti_bakery", "rana_haddad", 1)


@pytest.mark.slow
def test_the_same_seed_gives_every_trainee_the_same_conversation(world, lib):
    s = world.store
    aid = define(s, lib, world.admin, "same-for-all", "graffiti_bakery", "jayden_price", 7)
    replies = []
    for who in (world.ana, world.ben, world.cat):
        attempt = start_attempt(s, lib, who, aid)
        replies.append([attempt.turn(line).reply.text for line in SCRIPT[:5]])
        attempt.end()
    assert replies[0] == replies[1] == replies[2]


def test_definitions_are_checked(world, lib):
    s = world.store
    with pytest.raises(AssessmentError, match="scenario"):
        define(s, lib, world.admin, "x", "no_such", "rana_haddad", 1)
    with pytest.raises(AssessmentError, match="persona"):
        define(s, lib, world.admin, "x", "graffiti_bakery", "no_such", 1)
    with pytest.raises(AssessmentError, match="seed"):
        define(s, lib, world.admin, "x", "graffiti_bakery", "rana_haddad", -1)
    define(s, lib, world.admin, "x", "graffiti_bakery", "rana_haddad", 1)
    with pytest.raises(AssessmentError, match="already exists"):
        define(s, lib, world.admin, "x", "graffiti_bakery", "rana_haddad", 1)
    with pytest.raises(AssessmentError, match="no such assessment"):
        start_attempt(s, lib, world.ana, 999)
