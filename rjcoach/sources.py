"""Training sources: the project's in-domain utterances and public sets mapped onto the rubric.

Public sets only code some of the rubric's labels, so each example carries targets with a mask:
a target is either one rubric label or a group ("any question", "sympathy or validation", ...),
trained through the noisy-OR of its members. Unknown labels are simply not trained on that example.
Every mapping is documented in docs/data-sources.md.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rjcoach.labels import ACCUSATORY, LABELS

REPO_ROOT = Path(__file__).resolve().parent.parent
INDOMAIN_DIR = REPO_ROOT / "data" / "indomain"
CORRECTIONS_DIR = REPO_ROOT / "data" / "corrections"  # never committed (.gitignore)
PUBLIC_DIR = REPO_ROOT.parent / "shared" / "data" / "public"

# Targets: the 17 labels, then groups of labels trained through their noisy-OR.
GROUPS: dict[str, tuple[str, ...]] = {
    "any_question": ("open_question", "closed_question"),
    "empathy_any": ("validation", "sympathy"),
    "interpretation": ("reflection", "emotion_label"),
    "accusatory_any": tuple(sorted(ACCUSATORY)),
}
TARGETS: tuple[str, ...] = (*LABELS, *GROUPS)


@dataclass
class Example:
    text: str
    context: str | None
    targets: dict[str, int]  # target name -> 0/1; absent means unknown
    source: str
    split: str  # train / validation / test
    weight: float = 1.0
    labels: frozenset[str] | None = None  # the full label set, where the source gives one
    group: str = ""  # transcript / dialogue / post the utterance belongs to


@dataclass(frozen=True)
class SourceInfo:
    name: str
    licence: str
    description: str
    loader: Callable[[Path], list[Example]]
    permissive: bool  # usable without a non-commercial restriction


def _bucket(key: str) -> float:
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def _split_of(key: str, val: float = 0.15) -> str:
    return "validation" if _bucket(key) < val else "train"


def public_tuning_half(group: str) -> bool:
    """Half of the public validation transcripts/dialogues (by their id), used to tune shared-label
    thresholds; the other half is kept for reporting (`rjcoach evaluate --suite`)."""
    return _bucket(f"tune:{group}") < 0.5


def split_for_text(text: str) -> str:
    """The fixed in-domain split: 70% train, 15% validation, 15% test, by a hash of the words.

    Hashing the normalised text (not the id) keeps repeated short lines ("Mm-hmm.") in one split.
    """
    from rjcoach.dataset import normalise

    x = _bucket(f"indomain:{normalise(text)}")
    return "test" if x < 0.15 else "validation" if x < 0.30 else "train"


# -- in-domain ----------------------------------------------------------------------------------
def load_indomain(directory: Path = INDOMAIN_DIR, source: str = "indomain") -> list[Example]:
    """Fully coded utterance files (the ``rjcoach.dataset`` schema) in ``directory``, as ``source``."""
    from rjcoach.dataset import load

    items = load(sorted(directory.glob("*.jsonl")))
    out = []
    for u in items:
        labels = frozenset(u.labels)
        targets = {label: int(label in labels) for label in LABELS}
        out.append(
            Example(u.text, u.context, targets, source, u.split or split_for_text(u.text), 1.0, labels)
        )
    return out


# -- the agency's reviewed transcripts --------------------------------------------------------------
def corrections_dir() -> Path:
    """RJCOACH_CORRECTIONS_DIR, else data/corrections (written by `rjcoach export corrections`)."""
    return Path(os.environ.get("RJCOACH_CORRECTIONS_DIR") or CORRECTIONS_DIR)


def load_corrections(directory: Path | None = None) -> list[Example]:
    """Trainee messages an instructor corrected: same schema and checks as the in-domain files."""
    return load_indomain(directory or corrections_dir(), source="corrections")


# -- AnnoMI -------------------------------------------------------------------------------------
def load_annomi(public: Path = PUBLIC_DIR) -> list[Example]:
    """Therapist utterances: open/closed question and reflection, majority of annotators."""
    path = public / "annomi" / "AnnoMI-dev.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    by_key: dict[tuple[str, int], list[dict]] = {}
    for r in rows:
        by_key.setdefault((r["transcript_id"], int(r["utterance_id"])), []).append(r)
    out = []
    for (tid, uid), group in sorted(by_key.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        first = group[0]
        if first["interlocutor"] != "therapist" or not first["utterance_text"].strip():
            continue
        votes = len(group)
        open_q = sum(r["question_subtype"] == "open" for r in group) * 2 > votes
        closed_q = sum(r["question_subtype"] == "closed" for r in group) * 2 > votes
        refl = sum(r["reflection_exists"] == "True" for r in group) * 2 > votes
        prev = by_key.get((tid, uid - 1))
        context = prev[0]["utterance_text"] if prev and prev[0]["interlocutor"] == "client" else None
        targets = {"open_question": int(open_q), "closed_question": int(closed_q), "reflection": int(refl)}
        out.append(Example(first["utterance_text"], context, targets, "annomi", _split_of(f"annomi:{tid}"),
                           group=f"annomi:{tid}"))
    return out


# -- ESConv -------------------------------------------------------------------------------------
def load_esconv(public: Path = PUBLIC_DIR) -> list[Example]:
    """Supporter turns by strategy (see docs/data-sources.md for the mapping)."""
    return [
        Example(t.text, t.context, _esconv_targets(t.strategy, t.text), "esconv", t.split, group=t.group)
        for t in load_esconv_turns(public)
    ]


@dataclass
class EsconvTurn:
    text: str
    context: str | None
    strategy: str
    split: str
    group: str = ""


def load_esconv_turns(public: Path = PUBLIC_DIR) -> list[EsconvTurn]:
    out = []
    for fname, split in (("train.json", "train"), ("valid.json", "validation")):
        for n, line in enumerate((public / "esconv" / fname).open(encoding="utf-8")):
            dialog = json.loads(line)["dialog"]
            for i, turn in enumerate(dialog):
                if turn["speaker"] != "sys" or not turn["text"].strip():
                    continue
                prev = dialog[i - 1] if i else None
                context = prev["text"] if prev and prev["speaker"] == "usr" else None
                out.append(EsconvTurn(turn["text"], context, turn.get("strategy", ""), split, f"esconv:{fname}:{n}"))
    return out


def _esconv_targets(strategy: str, text: str) -> dict[str, int]:
    t: dict[str, int] = {}
    has_qmark = "?" in text
    # One strategy per turn: what a turn's strategy is not, it is coded as not being (as the
    # independent evaluation reads it), for the four labels ESConv speaks to.
    if strategy == "Question":
        t.update(any_question=1, reflection=0, emotion_label=0, advice=0)
    elif strategy == "Restatement or Paraphrasing":
        t.update(reflection=1, emotion_label=0, advice=0)
    elif strategy == "Reflection of feelings":
        t.update(reflection=1, emotion_label=1, advice=0)
    elif strategy == "Providing Suggestions":
        t.update(advice=1, reflection=0, emotion_label=0)
    elif strategy == "Affirmation and Reassurance":
        t.update(empathy_any=1, reflection=0, emotion_label=0, advice=0)
    elif strategy in ("Information", "Self-disclosure", "Others"):
        t.update(reflection=0, emotion_label=0, advice=0)
    if strategy != "Question" and not has_qmark:
        t["any_question"] = 0
    return t


# -- EPITOME ------------------------------------------------------------------------------------
def load_epitome(public: Path = PUBLIC_DIR) -> list[Example]:
    """Reddit responses: level > 0 of each mechanism -> its rubric group."""
    files = {
        "empathy_any": "emotional-reactions-reddit-dev.csv",
        "interpretation": "interpretations-reddit-dev.csv",
        "any_question": "explorations-reddit-dev.csv",
    }
    merged: dict[str, dict] = {}
    for target, fname in files.items():
        for r in csv.DictReader((public / "epitome" / fname).open(encoding="utf-8")):
            item = merged.setdefault(
                r["rp_id"], {"text": r["response_post"], "context": r["seeker_post"], "t": {}, "sp": r["sp_id"]}
            )
            item["t"][target] = int(int(r["level"]) > 0)
    return [
        Example(v["text"], v["context"], v["t"], "epitome", _split_of(f"epitome:{v['sp']}"), 1.0)
        for v in merged.values()
        if v["text"].strip()
    ]


SOURCES: dict[str, SourceInfo] = {
    "indomain": SourceInfo(
        "indomain", "Apache-2.0 (written by the project)",
        "officer utterances in restorative settings, fully coded against the rubric",
        lambda _: load_indomain(), True,
    ),
    "annomi": SourceInfo(
        "annomi", "no licence stated; published as freely available for research",
        "AnnoMI motivational-interviewing therapist utterances", load_annomi, False,
    ),
    "esconv": SourceInfo(
        "esconv", "CC BY-NC 4.0, academic research use only",
        "ESConv emotional-support supporter turns", load_esconv, False,
    ),
    "epitome": SourceInfo(
        "epitome", "academic non-commercial research licence",
        "EPITOME Reddit empathy mechanisms", load_epitome, False,
    ),
    "corrections": SourceInfo(
        "corrections", "the agency's own data: reviewed practice transcripts, not for redistribution",
        "the agency's own reviewed transcripts: trainee messages an instructor corrected, "
        "coded with the reviewed labels (docs/export-schema.md)",
        lambda _: load_corrections(), False,
    ),
}
LOCAL_SOURCES = ("indomain", "corrections")  # need no public data folder
# The reviewed transcripts join the defaults only when the corrections folder has files.
DEFAULT_SOURCES = ("indomain", "annomi", "esconv", "epitome") + (
    ("corrections",) if any(corrections_dir().glob("*.jsonl")) else ()
)


def load_sources(names: tuple[str, ...] = DEFAULT_SOURCES, public: Path = PUBLIC_DIR) -> list[Example]:
    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        raise ValueError(f"unknown source(s) {unknown}; choose from {', '.join(SOURCES)}")
    examples: list[Example] = []
    for name in names:
        if name not in LOCAL_SOURCES and not public.is_dir():
            raise FileNotFoundError(
                f"public data folder {public} not found (source {name!r}); put ../shared beside "
                "the project or choose --sources indomain"
            )
        examples += SOURCES[name].loader(public)
    return examples


def describe(examples: list[Example]) -> str:
    c = Counter((e.source, e.split) for e in examples)
    return ", ".join(f"{s}/{sp}: {n}" for (s, sp), n in sorted(c.items()))
