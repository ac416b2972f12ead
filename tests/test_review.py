"""Access rules, corrections beside the model's output, comments, ratings, listing and sorting."""
from datetime import datetime, timezone

import pytest
from conftest import add_session

from rjcoach.review import (
    AccessDenied, Filters, ReviewError, assign, comment, correct, create_cohort, list_sessions, rate,
    reviewed_labels, session_for, session_view, unassign,
)


def test_each_role_sees_exactly_its_sessions(world):
    s = world.store
    a = add_session(s, world.ana.id, [("Why did you do it?", ["why_question"])])
    c = add_session(s, world.cat.id, [("What happened?", ["open_question"])])
    assert session_for(s, world.ana, a).id == a
    with pytest.raises(AccessDenied):
        session_for(s, world.ana, c)  # another trainee's session
    with pytest.raises(AccessDenied):
        session_for(s, world.ben, a)  # same cohort, still not yours
    assert session_for(s, world.ins_north, a).id == a
    with pytest.raises(AccessDenied):
        session_for(s, world.ins_north, c)  # not their cohort
    assert {x.id for x in list_sessions(s, world.admin)} == {a, c}
    assert [x.id for x in list_sessions(s, world.ins_south)] == [c]
    with pytest.raises(AccessDenied, match="No such session"):
        session_for(s, world.admin, "no-such-id")


def test_trainees_cannot_review_even_their_own_sessions(world):
    s = world.store
    a = add_session(s, world.ana.id, [("Why did you do it?", ["why_question"])])
    turn = s.turns(a)[0]
    for call in (lambda: correct(s, world.ana, turn.id, "why_question", "reject"),
                 lambda: comment(s, world.ana, a, "nice"),
                 lambda: rate(s, world.ana, a, 5),
                 lambda: list_sessions(s, world.ana)):
        with pytest.raises(AccessDenied):
            call()
    with pytest.raises(AccessDenied):  # an instructor of another cohort, by turn id
        correct(s, world.ins_south, turn.id, "why_question", "reject")


def test_corrections_are_kept_beside_the_model_output(world):
    s = world.store
    sid = add_session(s, world.ana.id, [("You always do this. Why?", ["generalization", "why_question"])])
    turn = s.turns(sid)[0]
    correct(s, world.ins_north, turn.id, "generalization", "reject")
    correct(s, world.ins_north, turn.id, "accusation", "add")
    correct(s, world.ins_north, turn.id, "why_question", "confirm")
    view = session_view(s, world.ins_north, sid)
    t = view.turns[0]
    assert t.model_labels == {"generalization", "why_question"}  # untouched
    assert t.labels == {"why_question", "accusation"}
    assert s.turns(sid)[0].analysis["labels"] == ["why_question", "generalization"]  # stored output unchanged
    correct(s, world.admin, turn.id, "generalization", "add")  # a later verdict supersedes
    assert session_view(s, world.admin, sid).turns[0].labels == {"why_question", "accusation", "generalization"}


def test_reviewed_labels_apply_in_order():
    class C:
        def __init__(self, label, verdict):
            self.label, self.verdict = label, verdict
    assert reviewed_labels({"a", "b"}, [C("a", "reject"), C("c", "add"), C("a", "confirm")]) == {"a", "b", "c"}


def test_bad_review_input_names_the_field_and_the_limit(world):
    s = world.store
    sid = add_session(s, world.ana.id, [("Hello", [])])
    turn = s.turns(sid)[0]
    with pytest.raises(ReviewError, match="not a rubric id"):
        correct(s, world.ins_north, turn.id, "rudeness", "add")
    with pytest.raises(ReviewError, match="verdict"):
        correct(s, world.ins_north, turn.id, "threat", "maybe")
    with pytest.raises(ReviewError, match="limit is 2000"):
        comment(s, world.ins_north, sid, "x" * 2001)
    with pytest.raises(ReviewError, match="empty"):
        comment(s, world.ins_north, sid, "   ")
    with pytest.raises(ReviewError, match="rating"):
        rate(s, world.ins_north, sid, 9)
    other = add_session(s, world.ben.id, [("Hi", [])])
    with pytest.raises(ReviewError, match="not in this session"):
        comment(s, world.ins_north, sid, "ok", turn_id=s.turns(other)[0].id)
    assert s.comments([sid]) == []  # nothing half-saved


def test_comments_and_rating_reach_the_trainees_own_view(world):
    s = world.store
    sid = add_session(s, world.ana.id, [("What happened?", ["open_question"]), ("Why?", ["why_question"])])
    t2 = s.turns(sid)[1]
    comment(s, world.ins_north, sid, "Try 'what happened next' here.", turn_id=t2.id)
    comment(s, world.ins_north, sid, "Good start overall.")
    rate(s, world.ins_north, sid, 4, "Steady listening.")
    rate(s, world.ins_north, sid, 3, "Revised.")  # one rating per session, updated
    mine = session_view(s, world.ana, sid)
    assert [c.text for c in mine.turns[1].comments] == ["Try 'what happened next' here."]
    assert [c.text for c in mine.session_comments] == ["Good start overall."]
    assert (mine.review.rating, mine.review.note) == (3, "Revised.")
    assert mine.authors[mine.review.reviewer_id] == "ins_north"


def test_listing_filters_and_sorts_with_metrics(world):
    s = world.store
    t0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
    calm = add_session(s, world.ana.id, [("What happened?", ["open_question"]), ("So it hurt.", ["reflection"])],
                       when=t0)
    harsh = add_session(s, world.ben.id, [("Why did you do it?", ["why_question"]), ("You're a thief.", ["labeling"]),
                                          ("Did you?", ["closed_question"])], scenario="other_sc",
                        when=t0.replace(month=4))
    rows = list_sessions(s, world.ins_north, sort="most_accusatory")
    assert [r.id for r in rows] == [harsh, calm]
    top = rows[0]
    assert (top.trainee, top.messages, top.accusatory, round(top.accusatory_rate, 4)) == ("ben", 3, 2, 0.6667)
    assert top.rq_ratio == 0.0 and top.open_share == 0.0 and top.cohorts == ("north",)
    assert rows[1].rq_ratio == 1.0 and rows[1].open_share == 1.0
    assert [r.id for r in list_sessions(s, world.ins_north, sort="oldest")] == [calm, harsh]
    assert [r.id for r in list_sessions(s, world.ins_north, Filters(trainee="ana"))] == [calm]
    assert [r.id for r in list_sessions(s, world.ins_north, Filters(scenario="other_sc"))] == [harsh]
    assert [r.id for r in list_sessions(s, world.ins_north, Filters(since=t0.replace(month=3, day=15)))] == [harsh]
    assert list_sessions(s, world.ins_north, Filters(cohort="south")) == []  # not theirs: empty, not an error
    assert list_sessions(s, world.ins_north, Filters(trainee="cat")) == []
    with pytest.raises(ReviewError, match="sort"):
        list_sessions(s, world.ins_north, sort="random")


def test_cohort_management_rules(world):
    s = world.store
    create_cohort(s, world.ins_north, "spring")
    assert assign(s, world.ins_north, "spring", "cat") is True
    assert assign(s, world.ins_north, "spring", "cat") is False
    with pytest.raises(AccessDenied):
        assign(s, world.ins_south, "spring", "ana")  # not their cohort
    with pytest.raises(ReviewError, match="only an admin"):
        assign(s, world.ins_north, "spring", "ins_south")
    assert assign(s, world.admin, "spring", "ins_south") is True
    with pytest.raises(ReviewError, match="already exists"):
        create_cohort(s, world.admin, "spring")
    with pytest.raises(AccessDenied):
        create_cohort(s, world.ana, "mine")
    assert unassign(s, world.ins_north, "spring", "cat") is True
    with pytest.raises(ReviewError, match="no user"):
        assign(s, world.admin, "spring", "nobody")
