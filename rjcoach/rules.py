"""Rule cues written as data: spaCy Matcher patterns in ``rjcoach/patterns/*.yml``.

Each cue names a rubric label and one or more token patterns. A match is evidence (the words that
carry a flag) and a feature the trained classifier weighs; the rules alone never decide a label.
Files are validated when loaded: an unknown label, a bad key or a malformed pattern fails at load
time with the file and the cue id.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rjcoach.labels import FAMILIES, FAMILY_OF, LABELS

PATTERN_DIR = Path(__file__).parent / "patterns"
FEELINGS_FILE = "feelings.yml"


class PatternFileError(ValueError):
    """A pattern file is malformed; the message names the file and the cue."""


class Cue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    patterns: list[list[dict]] = Field(min_length=1)

    @field_validator("label")
    @classmethod
    def _rubric_label(cls, label: str) -> str:
        if label not in FAMILY_OF:
            raise ValueError(f"unknown label {label!r}; rubric ids are: {', '.join(LABELS)}")
        return label


class CueFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schema_version: Literal[1]
    family: Literal[tuple(FAMILIES)]  # type: ignore[valid-type]
    cues: list[Cue]


class FeelingsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schema_version: Literal[1]
    words: list[str] = Field(min_length=1)


@dataclass(frozen=True)
class CueHit:
    """One rule match: which cue, for which label, and where in the text (character offsets)."""

    cue: str
    label: str
    start: int
    end: int
    text: str


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PatternFileError(f"{path}: not valid YAML: {exc}") from exc


def load_cue_files(directory: Path = PATTERN_DIR) -> list[tuple[Path, CueFile]]:
    """Read and validate every cue file in ``directory`` (all but the feelings list)."""
    files = []
    for path in sorted(directory.glob("*.yml")):
        if path.name == FEELINGS_FILE:
            continue
        try:
            parsed = CueFile.model_validate(_read_yaml(path))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise PatternFileError(f"{path}: {problems}") from exc
        for cue in parsed.cues:
            if FAMILY_OF[cue.label] != parsed.family:
                raise PatternFileError(
                    f"{path}: cue {cue.id!r} has label {cue.label!r} of family "
                    f"{FAMILY_OF[cue.label]!r}, but the file is for family {parsed.family!r}"
                )
        files.append((path, parsed))
    ids = [c.id for _, f in files for c in f.cues]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise PatternFileError(f"{directory}: cue ids used twice: {', '.join(dupes)}")
    return files


def load_feelings(directory: Path = PATTERN_DIR) -> frozenset[str]:
    path = directory / FEELINGS_FILE
    try:
        parsed = FeelingsFile.model_validate(_read_yaml(path))
    except ValidationError as exc:
        raise PatternFileError(f"{path}: {exc}") from exc
    return frozenset(w.lower() for w in parsed.words)


class RuleCues:
    """Compiled cue patterns over a spaCy vocabulary."""

    def __init__(self, vocab, directory: Path = PATTERN_DIR) -> None:
        from spacy.matcher import Matcher
        from spacy.tokens import Token

        feelings = load_feelings(directory)
        if not Token.has_extension("rj_feeling"):
            Token.set_extension("rj_feeling", getter=lambda t: t.lower_ in feelings)
        self.matcher = Matcher(vocab, validate=True)
        self.label_of: dict[str, str] = {}
        for path, parsed in load_cue_files(directory):
            for cue in parsed.cues:
                try:
                    self.matcher.add(cue.id, cue.patterns)
                except Exception as exc:  # spaCy raises ValueError/MatchPatternError
                    raise PatternFileError(f"{path}: cue {cue.id!r}: {exc}") from exc
                self.label_of[cue.id] = cue.label
        self.cue_ids = tuple(self.label_of)

    def __call__(self, doc) -> list[CueHit]:
        hits = []
        seen = set()
        for match_id, start, end in self.matcher(doc):
            cue = doc.vocab.strings[match_id]
            span = doc[start:end]
            key = (cue, span.start_char, span.end_char)
            if key in seen:
                continue
            seen.add(key)
            hits.append(CueHit(cue, self.label_of[cue], span.start_char, span.end_char, span.text))
        return _longest_per_place(hits)


def _longest_per_place(hits: Iterable[CueHit]) -> list[CueHit]:
    """Drop a hit nested inside a longer hit of the same label, so evidence is not repeated."""
    hits = sorted(hits, key=lambda h: (h.label, h.start, -(h.end - h.start)))
    kept: list[CueHit] = []
    for hit in hits:
        if kept and kept[-1].label == hit.label and kept[-1].start <= hit.start and hit.end <= kept[-1].end:
            continue
        kept.append(hit)
    return sorted(kept, key=lambda h: (h.start, h.label))


def label_features(hits: Iterable[CueHit]) -> list[float]:
    """One feature per rubric label: 1.0 when any cue for that label matched."""
    present = {h.label for h in hits}
    return [1.0 if label in present else 0.0 for label in LABELS]
