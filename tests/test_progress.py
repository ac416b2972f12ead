"""Progress numbers from a fixture of sessions, checked against values computed by hand."""
from datetime import datetime, timezone

import pytest
from conftest import add_session

from rjcoach.progress import cohort_progress, line_svg, trainee_progress, trainee_html, cohort_html
from rjcoach.review import AccessDenied, correct

T = datetime(2026, 5, 1, tzinfo=timezone.utc)


@pytest.fixture
def sessions(world):
    s = world.store
    # ana, session 1: questions 2 (1 open, 1 closed), reflections 1, accusatory 2 of 4 before review
    a1 = add_session(s, world.ana.id, [("What happened?", ["open_question"]), ("Was it late?", ["closed_question"]),
                                       ("It scared you.", ["reflection", "emotion_label"]),
                                       ("Why did you do it, you thief?", ["why_question", "labeling"])], when=T)
    # ana, session 2: questions 2 (both open), reflections 2, accusatory 0, advice 1
    add_session(s, world.ana.id, [("What happened?", ["open_question"]), ("So it hurt.", ["reflection"]),
                                  ("You felt let down.", ["reflection"]), ("Who was affected?", ["open_question", "restorative_question"]),
                                  ("You should call them.", ["advice"])], when=T.replace(day=8))
    # ben, one session: questions 1 (closed), reflections 0, accusatory 1 of 2
    add_session(s, world.ben.id, [("Did you do it?", ["closed_question"]), ("Calm down.", ["minimizing"])],
                when=T.replace(day=3))
    # an empty session (no messages) does not count
    s.create_session(world.ben.id, "graffiti_bakery", "rana_haddad", "coached", 0)
    # the instructor rejects 'labeling' on ana's fourth message of session 1
    turn = s.turns(a1)[3]
    correct(s, world.ins_north, turn.id, "labeling", "reject")
    return world


def test_trainee_progress_by_hand(sessions):
    p = trainee_progress(sessions.store, sessions.ins_north, "ana")
    assert len(p.points) == 2 and p.messages == 9
    first, latest = p.first.values, p.latest.values
    assert first["rq_ratio"] == pytest.approx(1 / 2)
    assert first["open_share"] == pytest.approx(1 / 2)
    assert first["accusatory_rate"] == pytest.approx(1 / 4)  # labelling rejected; the 'why' question stays
    assert latest["rq_ratio"] == pytest.approx(2 / 2)
    assert latest["open_share"] == pytest.approx(2 / 2)
    assert latest["accusatory_rate"] == 0
    assert p.trips == [("why_question", 1), ("advice", 1)]


def test_cohort_progress_by_hand(sessions):
    c = cohort_progress(sessions.store, sessions.ins_north, "north")
    assert [t.username for t in c.trainees] == ["ana", "ben"]
    # first sessions: ana rq 0.5, ben rq 0.0 -> 0.25; latest: ana 1.0, ben 0.0 -> 0.5
    assert c.first["rq_ratio"] == (pytest.approx(0.25), 2)
    assert c.latest["rq_ratio"] == (pytest.approx(0.5), 2)
    # open share: first (0.5 + 0.0) / 2; accusatory: first (0.25 + 0.5) / 2, latest (0 + 0.5) / 2
    assert c.first["open_share"] == (pytest.approx(0.25), 2)
    assert c.first["accusatory_rate"] == (pytest.approx(0.375), 2)
    assert c.latest["accusatory_rate"] == (pytest.approx(0.25), 2)
    # step 2 averages only ana (ben has one session)
    assert c.steps[1]["rq_ratio"] == (pytest.approx(1.0), 1)
    assert dict(c.trips) == {"why_question": 1, "advice": 1, "minimizing": 1}
    html = cohort_html(c) + trainee_html(c.trainees[0])
    assert "<svg" in html and "fair" in html and "25%" in html


def test_progress_access(sessions):
    w = sessions
    assert trainee_progress(w.store, w.ana, "ana").username == "ana"
    for who, name in ((w.ana, "ben"), (w.ins_south, "ana"), (w.ins_north, "cat"), (w.ins_north, "ins_north")):
        with pytest.raises(AccessDenied):
            trainee_progress(w.store, who, name)
    with pytest.raises(AccessDenied):
        cohort_progress(w.store, w.ins_south, "north")
    with pytest.raises(AccessDenied):
        cohort_progress(w.store, w.ana, "north")
    assert cohort_progress(w.store, w.admin, "north").name == "north"


def test_line_plot_has_gaps_and_the_rubric_lines():
    svg = line_svg("rq_ratio", [("x", [0.5, None, 2.5])])
    assert svg.count("<circle") == 2 and "polyline" not in svg  # no line across the gap
    assert "good: 2" in svg and "fair: 1" in svg
