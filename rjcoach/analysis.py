"""The result of analysing one trainee utterance: labels, calibrated scores and evidence spans."""
from __future__ import annotations

from dataclasses import dataclass, field

from rjcoach.labels import ACCUSATORY, FAMILIES, LABELS, PLAIN_WORDS

MAX_TEXT_CHARS = 2000
"""Longest utterance the analyser accepts; longer text raises ``ValueError`` naming this limit."""
MAX_CONTEXT_CHARS = 2000
"""Context beyond this is cut from the front: only the end of what the person said is used."""


@dataclass(frozen=True)
class Evidence:
    """The words that carry a flag: ``text[start:end] == matched``."""

    label: str
    start: int
    end: int
    text: str
    source: str  # "rule:<cue id>" or "model:sentence"


@dataclass(frozen=True)
class FamilySummary:
    labels: tuple[str, ...]
    score: float  # highest probability among the family's labels
    flagged: bool


@dataclass(frozen=True)
class Analysis:
    """Everything the analyser says about one utterance."""

    text: str
    context: str | None
    labels: frozenset[str]
    scores: dict[str, float]
    evidence: tuple[Evidence, ...] = ()
    families: dict[str, FamilySummary] = field(default_factory=dict)

    @property
    def accusatory(self) -> bool:
        return bool(self.labels & ACCUSATORY)

    def evidence_for(self, label: str) -> tuple[Evidence, ...]:
        return tuple(e for e in self.evidence if e.label == label)

    def describe(self) -> list[str]:
        """The labels in plain words, in rubric order."""
        return [PLAIN_WORDS[label] for label in LABELS if label in self.labels]

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "context": self.context,
            "labels": [label for label in LABELS if label in self.labels],
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
            "evidence": [e.__dict__ for e in self.evidence],
            "families": {
                name: {"labels": list(s.labels), "score": round(s.score, 4), "flagged": s.flagged}
                for name, s in self.families.items()
            },
        }


def segments(text: str, spans) -> list[tuple[str, str | None]]:
    """Split ``text`` into (piece, family) runs for highlighting; family is None between spans.

    ``spans`` are (start, end, label) triples; where spans overlap, the earliest one is kept.
    """
    from rjcoach.labels import FAMILY_OF

    out: list[tuple[str, str | None]] = []
    pos = 0
    for start, end, fam in sorted({(s, e, FAMILY_OF[label]) for s, e, label in spans}):
        if start < pos:
            continue
        if start > pos:
            out.append((text[pos:start], None))
        out.append((text[start:end], fam))
        pos = end
    if pos < len(text):
        out.append((text[pos:], None))
    return out


def summarise_families(labels: frozenset[str], scores: dict[str, float]) -> dict[str, FamilySummary]:
    return {
        fam: FamilySummary(
            labels=tuple(label for label in members if label in labels),
            score=max(scores[label] for label in members),
            flagged=any(label in labels for label in members),
        )
        for fam, members in FAMILIES.items()
    }


def empty_analysis(text: str, context: str | None) -> Analysis:
    scores = {label: 0.0 for label in LABELS}
    return Analysis(text, context, frozenset(), scores, (), summarise_families(frozenset(), scores))


def _check_unicode(text: str, what: str) -> str:
    """A Python str can hold lone surrogates (``json.loads('"\\ud800"')`` makes one); no tokenizer can."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{what} is not valid Unicode: a lone surrogate (U+{ord(text[exc.start]):04X}) at position {exc.start}"
        ) from None
    return text


def check_text(text: object, what: str = "text") -> str:
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a str, got {type(text).__name__}")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(
            f"{what} is {len(text)} characters; the limit is {MAX_TEXT_CHARS} (MAX_TEXT_CHARS)"
        )
    return _check_unicode(text, what)


def check_context(context: object) -> str | None:
    if context is None:
        return None
    if not isinstance(context, str):
        raise TypeError(f"context must be a str or None, got {type(context).__name__}")
    return _check_unicode(context[-MAX_CONTEXT_CHARS:], "context") if context.strip() else None
