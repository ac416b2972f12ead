"""The rubric's label ids and families (../shared/rubric.md, version 1).

Everything the analyser emits is one of these ids; nothing else in the package invents labels.
"""
from __future__ import annotations

RUBRIC_VERSION = 1

FAMILIES: dict[str, tuple[str, ...]] = {
    "listening": (
        "open_question",
        "closed_question",
        "reflection",
        "emotion_label",
        "summary",
        "encourager",
    ),
    "empathy": ("validation", "sympathy"),
    "restorative": ("restorative_question",),
    "accusatory": (
        "accusation",
        "labeling",
        "victim_blaming",
        "threat",
        "minimizing",
        "why_question",
        "generalization",
    ),
    "other": ("advice",),
}

LABELS: tuple[str, ...] = tuple(label for labels in FAMILIES.values() for label in labels)
FAMILY_OF: dict[str, str] = {label: fam for fam, labels in FAMILIES.items() for label in labels}
ACCUSATORY: frozenset[str] = frozenset(FAMILIES["accusatory"])
QUESTION_LABELS: frozenset[str] = frozenset({"open_question", "closed_question"})

PLAIN_WORDS: dict[str, str] = {
    "open_question": "open question",
    "closed_question": "closed question",
    "reflection": "reflection",
    "emotion_label": "names a feeling",
    "summary": "summary",
    "encourager": "encourager",
    "validation": "validation",
    "sympathy": "sympathy",
    "restorative_question": "restorative question",
    "accusation": "accusation",
    "labeling": "labelling the person",
    "victim_blaming": "blames the person harmed",
    "threat": "threat or coercive command",
    "minimizing": "minimising the harm",
    "why_question": "\"why\" question",
    "generalization": "generalisation about the person",
    "advice": "unasked advice",
}


def check_label(label: str) -> str:
    """Return ``label`` if it is a rubric id, else raise ``ValueError`` naming the valid ids."""
    if label not in FAMILY_OF:
        raise ValueError(f"unknown label {label!r}; rubric ids are: {', '.join(LABELS)}")
    return label
