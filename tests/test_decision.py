import numpy as np

from rjcoach.decision import IDX, calibrate, decide
from rjcoach.labels import LABELS


def probs(**kw):
    p = np.zeros((1, len(LABELS)))
    for k, v in kw.items():
        p[0, IDX[k]] = v
    return p


TH = np.full(len(LABELS), 0.5)


def on(p):
    return {LABELS[i] for i in np.flatnonzero(decide(p, TH)[0])}


def test_threshold_only():
    assert on(probs(open_question=0.9, closed_question=0.4)) == {"open_question"}


def test_summary_implies_reflection():
    assert on(probs(summary=0.8)) == {"summary", "reflection"}


def test_why_question_implies_open_question():
    assert on(probs(why_question=0.7)) == {"why_question", "open_question"}


def test_restorative_question_takes_likelier_question_type():
    assert on(probs(restorative_question=0.9, closed_question=0.3, open_question=0.2)) == {
        "restorative_question", "closed_question"}
    assert on(probs(restorative_question=0.9, open_question=0.4)) == {"restorative_question", "open_question"}


def test_emotion_label_needs_reflection_or_sympathy():
    assert on(probs(emotion_label=0.9, sympathy=0.45, reflection=0.2)) == {"emotion_label", "sympathy"}
    assert on(probs(emotion_label=0.9, reflection=0.3)) == {"emotion_label", "reflection"}
    assert on(probs(emotion_label=0.9, sympathy=0.8)) == {"emotion_label", "sympathy"}


def test_calibrate_is_sigmoid_of_affine():
    x = np.array([[0.0, 2.0]])
    got = calibrate(x, np.array([1.0, 0.5]), np.array([0.0, 1.0]))
    assert np.allclose(got, 1 / (1 + np.exp(-np.array([[0.0, 2.0]]))))
