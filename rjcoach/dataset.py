"""Labelled utterance files: the schema, the rubric consistency rules, and loading.

A file is JSON lines, one trainee utterance per line::

    {"id": "med-0001", "text": "...", "context": "what the other person said just before" | null,
     "labels": ["open_question", ...], "setting": "mediation", "speaker": "harmed", "split": "train"}

``python -m rjcoach.dataset check FILE...`` reports every problem in every file and exits non-zero
when there are errors.
"""
from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Iterable, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rjcoach.labels import FAMILY_OF, LABELS

SETTINGS = (
    "conference",
    "mediation",
    "diversion",
    "circle",
    "follow_up",
    "intake",
    "other",
)
SPEAKERS = ("harmed", "responsible", "parent", "supporter", "community", "colleague", "none")
SPLITS = ("train", "validation", "test")


class Utterance(BaseModel):
    """One labelled trainee utterance."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=2000)
    context: Optional[str] = Field(default=None, max_length=4000)
    labels: list[str]
    setting: Literal[SETTINGS] = "other"  # type: ignore[valid-type]
    speaker: Literal[SPEAKERS] = "none"  # type: ignore[valid-type]
    split: Optional[Literal[SPLITS]] = None  # type: ignore[valid-type]
    note: Optional[str] = None

    @field_validator("labels")
    @classmethod
    def _known_labels(cls, labels: list[str]) -> list[str]:
        unknown = [label for label in labels if label not in FAMILY_OF]
        if unknown:
            raise ValueError(f"unknown label(s) {unknown}; rubric ids are: {', '.join(LABELS)}")
        if len(set(labels)) != len(labels):
            raise ValueError(f"repeated label in {labels}")
        return sorted(labels)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("text is blank")
        return text


_QUESTION_WORD = re.compile(r"\?")


def rubric_problems(u: Utterance) -> tuple[list[str], list[str]]:
    """Return (errors, warnings): breaches of the rubric's decision rules that text alone can show."""
    errors: list[str] = []
    warnings: list[str] = []
    labels = set(u.labels)
    is_q = bool(labels & {"open_question", "closed_question"})
    if "summary" in labels and "reflection" not in labels:
        errors.append("summary without reflection (rule 2)")
    if "emotion_label" in labels and not labels & {"reflection", "sympathy"}:
        errors.append("emotion_label needs reflection (said of the person) or sympathy (rule 7)")
    if "why_question" in labels and "open_question" not in labels:
        errors.append("why_question without open_question (rule 1)")
    if "restorative_question" in labels and not is_q:
        errors.append("restorative_question without open_question/closed_question (rule 1)")
    if _QUESTION_WORD.search(u.text) and not is_q:
        warnings.append("has '?' but no question label (fine only for a rhetorical question, rule 6)")
    if "why_question" in labels and not re.search(r"\bwhy\b|\bhow come\b", u.text, re.I):
        warnings.append("why_question but no 'why'/'how come' in the text")
    return errors, warnings


def json_lines(path: Path):
    """Yield (where, row, error) for every non-blank line: ``where`` is "file:line"; exactly one of
    ``row`` (the parsed JSON) and ``error`` (why it is not JSON) is set."""
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            yield where, json.loads(line), None
        except json.JSONDecodeError as exc:
            yield where, None, f"{where}: not valid JSON ({exc.msg})"


def read_file(path: Path) -> tuple[list[Utterance], list[str], list[str]]:
    """Parse one JSONL file; return (utterances, errors, warnings), each message naming file:line."""
    items: list[Utterance] = []
    errors: list[str] = []
    warnings: list[str] = []
    for where, raw, bad in json_lines(path):
        if bad:
            errors.append(bad)
            continue
        try:
            u = Utterance.model_validate(raw)
        except ValidationError as exc:
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"]) or "<line>"
                errors.append(f"{where}: field {field}: {err['msg']}")
            continue
        if u.split is not None:
            from rjcoach.sources import split_for_text

            if u.split != split_for_text(u.text):
                errors.append(
                    f"{where} ({u.id}): split {u.split!r} differs from the fixed split "
                    f"{split_for_text(u.text)!r}; run `python -m rjcoach.dataset split {path}`"
                )
        errs, warns = rubric_problems(u)
        errors += [f"{where} ({u.id}): {m}" for m in errs]
        warnings += [f"{where} ({u.id}): {m}" for m in warns]
        items.append(u)
    return items, errors, warnings


def load(paths: Iterable[Path]) -> list[Utterance]:
    """Load and validate files; raise ``ValueError`` listing every error if any file is bad."""
    items: list[Utterance] = []
    errors: list[str] = []
    for path in paths:
        got, errs, _ = read_file(Path(path))
        items += got
        errors += errs
    errors += _cross_file_problems(items)
    if errors:
        raise ValueError("invalid utterance data:\n" + "\n".join(errors))
    return items


def _cross_file_problems(items: list[Utterance]) -> list[str]:
    """Ids must be unique; the same words must be coded the same way and not repeated verbatim."""
    problems = []
    for uid, n in Counter(u.id for u in items).items():
        if n > 1:
            problems.append(f"id {uid!r} is used {n} times")
    by_text: dict[str, list[Utterance]] = {}
    for u in items:
        by_text.setdefault(normalise(u.text), []).append(u)
    for same in by_text.values():
        if len(same) < 2:
            continue
        ids = ", ".join(u.id for u in same)
        if len({tuple(u.labels) for u in same}) > 1:
            problems.append(f"the same text is coded differently in {ids}: {same[0].text[:60]!r}")
        pairs = Counter((u.context or "").strip().lower() for u in same)
        if any(n > 1 for n in pairs.values()):
            problems.append(f"the same text and context appear more than once in {ids}")
    return problems


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


def label_counts(items: Iterable[Utterance]) -> Counter:
    counts: Counter = Counter()
    for u in items:
        counts.update(u.labels)
        if not u.labels:
            counts["(none)"] += 1
    return counts


def write_splits(path: Path) -> int:
    """Store the fixed split (a hash of the words, see ``sources.split_for_text``) on every line."""
    from rjcoach.sources import split_for_text

    out, changed = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        split = split_for_text(row["text"])
        changed += row.get("split") != split
        row["split"] = split
        out.append(json.dumps(row, ensure_ascii=False))
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return changed


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "split":
        for name in argv[1:]:
            print(f"{name}: {write_splits(Path(name))} lines given their split")
        return 0
    if len(argv) < 2 or argv[0] != "check":
        print("usage: python -m rjcoach.dataset check|split FILE...", file=sys.stderr)
        return 2
    items: list[Utterance] = []
    errors: list[str] = []
    warnings: list[str] = []
    for name in argv[1:]:
        got, errs, warns = read_file(Path(name))
        items += got
        errors += errs
        warnings += warns
    errors += _cross_file_problems(items)
    for w in warnings:
        print("warning:", w)
    for e in errors:
        print("error:", e)
    counts = label_counts(items)
    print(f"{len(items)} utterances, {sum(1 for u in items if u.context)} with context")
    for label in (*LABELS, "(none)"):
        print(f"  {label:22s} {counts.get(label, 0)}")
    print(f"{len(errors)} errors, {len(warnings)} warnings")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
