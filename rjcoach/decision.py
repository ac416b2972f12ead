"""From calibrated probabilities to labels: per-label thresholds, then the rubric's decision rules.

Shared by the live analyser and the evaluation, so what is measured is what runs.
"""
from __future__ import annotations

import numpy as np

from rjcoach.labels import ACCUSATORY, LABELS

IDX = {label: i for i, label in enumerate(LABELS)}


def calibrate(logits: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-label Platt scaling: sigmoid(a * logit + b)."""
    return 1.0 / (1.0 + np.exp(-(logits * a + b)))


ACC_IDX = np.array([i for i, label in enumerate(LABELS) if label in ACCUSATORY])


def accusatory_any(probs: np.ndarray) -> np.ndarray:
    """Noisy-OR probability that at least one accusatory label applies."""
    return 1.0 - np.prod(1.0 - np.atleast_2d(probs)[:, ACC_IDX], axis=1)


def decide(probs: np.ndarray, thresholds: np.ndarray, accusatory_threshold: float | None = None) -> np.ndarray:
    """Boolean label matrix from probabilities [n, 17], with the rubric's implications applied.

    - family rule: when no accusatory label passes its own threshold but the chance that *some*
      accusatory label applies passes ``accusatory_threshold``, the likeliest one is flagged
      (several weak accusatory signals together are a strong one);

    - rule 2: `summary` is a kind of reflection -> also `reflection`;
    - rule 1: `why_question` is an open question -> also `open_question`;
    - rule 1: `restorative_question` is a question -> also the likelier of open/closed;
    - rule 7: `emotion_label` is said of the person (`reflection`) or as the trainee's own reaction
      (`sympathy`) -> also the likelier of the two when neither is there.
    """
    probs = np.atleast_2d(probs)
    on = probs >= thresholds[None, :]
    if accusatory_threshold is not None:
        weak = ~on[:, ACC_IDX].any(axis=1) & (accusatory_any(probs) >= accusatory_threshold)
        rows = np.flatnonzero(weak)
        on[rows, ACC_IDX[np.argmax(probs[rows][:, ACC_IDX], axis=1)]] = True
    s, r = IDX["summary"], IDX["reflection"]
    on[:, r] |= on[:, s]
    w, o, c = IDX["why_question"], IDX["open_question"], IDX["closed_question"]
    on[:, o] |= on[:, w]
    rq = on[:, IDX["restorative_question"]] & ~on[:, o] & ~on[:, c]
    open_more = probs[:, o] >= probs[:, c]
    on[:, o] |= rq & open_more
    on[:, c] |= rq & ~open_more
    e, y = IDX["emotion_label"], IDX["sympathy"]
    em = on[:, e] & ~on[:, r] & ~on[:, y]
    refl_more = probs[:, r] >= probs[:, y]
    on[:, r] |= em & refl_more
    on[:, y] |= em & ~refl_more
    return on
