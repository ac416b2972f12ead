"""Import transcripts recorded outside the app, so instructors can review them like practice sessions.

Two formats (see docs/importing-transcripts.md):

- plain text, one utterance per line as ``Speaker: text``; a line without a prefix continues the
  utterance before it, blank lines are ignored and a line starting with ``#`` is a comment;
- JSON lines, one ``{"speaker": ..., "text": ...}`` object per line, with an optional first line
  ``{"meta": {"trainee": ..., "scenario": ..., "persona": ..., "recorded": ..., "title": ...}}``.

The trainee's side is every speaker whose name is in a caller-given set (case-insensitive);
everyone else is the other side. Each trainee utterance becomes one stored turn: the other side's
words just before it are its analysis context, their words after it are its persona text.

Parsing is pure (no database). :func:`import_transcripts` analyses the trainee's utterances of
many files in one batch, then stores each file in one transaction under the key
``"import:" + sha256(file bytes)``: a file already stored is skipped, so rerunning an interrupted
import stores only what is missing, and a crash never leaves half a file.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Sequence

from rjcoach.analysis import MAX_CONTEXT_CHARS, MAX_TEXT_CHARS

DEFAULT_TRAINEE_SPEAKERS = ("officer", "trainee", "facilitator", "police", "constable", "pc")
MAX_FILE_BYTES = 5 * 1024 * 1024
"""Largest transcript file read (5 MB); a bigger one is reported, not read."""
MAX_TURNS = 2000
"""Most trainee utterances in one transcript; a two-hour conference has a few hundred."""
MAX_SPEAKER_CHARS = 40
"""Longest speaker name: in plain text a longer ``Words:`` prefix is read as part of the text."""
MAX_ID_CHARS = 64
"""Longest scenario or persona id (the database column's size)."""
MAX_TITLE_CHARS = 255
TEXT_SUFFIXES = (".txt",)
JSONL_SUFFIXES = (".jsonl", ".ndjson")
WALK_SUFFIXES = (".txt", ".jsonl")
"""What a folder is searched for (a file named on the command line is read whatever its name)."""
FILES_PER_BATCH = 50
"""Files whose trainee utterances go to the analyser together."""
UTTERANCES_PER_BATCH = 4000
"""A batch is analysed early once it holds this many utterances (keeps memory bounded)."""
META_KEYS = ("trainee", "scenario", "persona", "recorded", "title")
REF_PREFIX = "import:"

# "Speaker: text": a name that starts with a letter, at most 4 words of letters, digits and
# . ' - _ ( ) # & /, then a colon not followed by "//" or a digit ("http://x" and "at 10:30" are text).
_PREFIX = re.compile(r"^\s*([^\W\d_][\w.'()#&/\-]*(?:[ \t]+[\w.'()#&/\-]+){0,3})[ \t]*:(?!//|\d)(.*)$")


class TranscriptError(ValueError):
    """A transcript that cannot be imported; ``str()`` names the file, the line and the problem."""

    def __init__(self, path: str | os.PathLike, problem: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class Utterance:
    speaker: str
    text: str
    line: int  # where it starts in the file (1-based)


@dataclass(frozen=True)
class ParsedTurn:
    """One trainee utterance with what the other side said around it."""

    trainee_text: str
    context: str | None  # the other side's words just before (last MAX_CONTEXT_CHARS characters)
    persona_text: str  # the other side's words after, until the next trainee utterance
    persona_speaker: str  # who said persona_text ("" if nobody; names joined by ", " if several)
    line: int


@dataclass(frozen=True)
class Transcript:
    turns: list[ParsedTurn]
    meta: dict[str, str] = field(default_factory=dict)
    speakers: tuple[str, ...] = ()  # every speaker, in order of first appearance


# -- parsing (pure) -----------------------------------------------------------------------------
def normalise_speakers(names: Iterable[str]) -> frozenset[str]:
    """The trainee speaker set as compared: trimmed, case-folded, empty names dropped."""
    if isinstance(names, str):
        names = (names,)
    out = frozenset(n.strip().casefold() for n in names if isinstance(n, str) and n.strip())
    if not out:
        raise ValueError("trainee speakers: give at least one speaker name (e.g. --trainee-speaker officer)")
    return out


def parse_text(text: str, path: str | os.PathLike = "<text>") -> list[Utterance]:
    """Utterances of a plain-text transcript (``Speaker: text`` lines)."""
    speakers: list[str] = []
    parts: list[list[str]] = []
    starts: list[int] = []
    for n, raw in enumerate(_lines(text), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _PREFIX.match(raw)
        if m and len(m.group(1).strip()) <= MAX_SPEAKER_CHARS:
            speakers.append(m.group(1).strip())
            parts.append([m.group(2).strip()] if m.group(2).strip() else [])
            starts.append(n)
        elif parts:
            parts[-1].append(line)
        else:
            raise TranscriptError(path, f"text before the first 'Speaker: text' line ({_clip(line)!r}); "
                                        "start the line with a speaker name and a colon, or with # to make it a comment", n)
    return [Utterance(s, " ".join(p), n) for s, p, n in zip(speakers, parts, starts) if p]


def parse_jsonl(text: str, path: str | os.PathLike = "<jsonl>") -> tuple[list[Utterance], dict[str, str]]:
    """Utterances and meta of a JSON-lines transcript."""
    out: list[Utterance] = []
    meta: dict[str, str] = {}
    first = True
    for n, raw in enumerate(_lines(text), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise TranscriptError(path, f"invalid JSON ({exc.msg} at column {exc.colno})", n) from None
        if not isinstance(obj, dict):
            raise TranscriptError(path, f'expected an object like {{"speaker": "...", "text": "..."}}, got {type(obj).__name__}', n)
        if "meta" in obj:
            if not first:
                raise TranscriptError(path, '"meta" is allowed only on the first line', n)
            meta = _check_meta(obj, path, n)
            first = False
            continue
        first = False
        speaker, said = obj.get("speaker"), obj.get("text")
        if not isinstance(speaker, str) or not speaker.strip():
            raise TranscriptError(path, '"speaker" must be a non-empty string', n)
        if len(speaker.strip()) > MAX_SPEAKER_CHARS:
            raise TranscriptError(path, f'"speaker" is {len(speaker.strip())} characters; the limit is {MAX_SPEAKER_CHARS}', n)
        if not isinstance(said, str):
            raise TranscriptError(path, '"text" must be a string', n)
        if said.strip():
            out.append(Utterance(speaker.strip(), said.strip(), n))
    return out, meta


def group_turns(utterances: Sequence[Utterance], trainee_speakers: Iterable[str] = DEFAULT_TRAINEE_SPEAKERS,
                path: str | os.PathLike = "<transcript>") -> list[ParsedTurn]:
    """One turn per trainee utterance, with the other side's words before (context) and after it."""
    trainee = normalise_speakers(trainee_speakers)
    found = tuple(dict.fromkeys(u.speaker for u in utterances))
    if not any(u.speaker.casefold() in trainee for u in utterances):
        seen = ", ".join(repr(s) for s in found) or "none"
        raise TranscriptError(path, f"no trainee lines found: speakers are {seen}; the trainee is whoever is named "
                                    f"{', '.join(sorted(trainee))}: choose with --trainee-speaker NAME")
    turns: list[dict] = []
    other: list[Utterance] = []  # the other side's utterances since the last trainee utterance

    def close_previous() -> None:
        if turns:
            turns[-1]["persona_text"] = " ".join(u.text for u in other)
            turns[-1]["persona_speaker"] = ", ".join(dict.fromkeys(u.speaker for u in other))

    for u in utterances:
        if u.speaker.casefold() not in trainee:
            other.append(u)
            continue
        if len(u.text) > MAX_TEXT_CHARS:
            raise TranscriptError(path, f"trainee utterance is {len(u.text)} characters; the limit is "
                                        f"{MAX_TEXT_CHARS} (MAX_TEXT_CHARS): split it into shorter lines", u.line)
        if len(turns) >= MAX_TURNS:
            raise TranscriptError(path, f"more than {MAX_TURNS} trainee utterances (MAX_TURNS): split the transcript", u.line)
        close_previous()
        before = " ".join(x.text for x in other)[-MAX_CONTEXT_CHARS:].strip()
        turns.append({"trainee_text": u.text, "context": before or None, "persona_text": "",
                      "persona_speaker": "", "line": u.line})
        other = []
    close_previous()
    return [ParsedTurn(**t) for t in turns]


def parse_transcript(data: bytes, path: str | os.PathLike = "<transcript>",
                     trainee_speakers: Iterable[str] = DEFAULT_TRAINEE_SPEAKERS,
                     fmt: str | None = None) -> Transcript:
    """Decode, parse and group one file's bytes; ``fmt`` is "text" or "jsonl" (default: from the name)."""
    if len(data) > MAX_FILE_BYTES:
        raise TranscriptError(path, f"file is {len(data):,} bytes; the limit is {MAX_FILE_BYTES:,} (MAX_FILE_BYTES)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise TranscriptError(path, f"not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                                    "save the file as UTF-8", line) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise TranscriptError(path, "contains NUL characters (UTF-16?); save the file as UTF-8", line)
    fmt = fmt or guess_format(path, text)
    if fmt == "jsonl":
        utterances, meta = parse_jsonl(text, path)
    elif fmt == "text":
        utterances, meta = parse_text(text, path), {}
    else:
        raise ValueError(f"format must be 'text' or 'jsonl', not {fmt!r}")
    turns = group_turns(utterances, trainee_speakers, path)
    return Transcript(turns, meta, tuple(dict.fromkeys(u.speaker for u in utterances)))


def guess_format(path: str | os.PathLike, text: str = "") -> str:
    """"jsonl" for .jsonl/.ndjson, "text" for .txt; otherwise JSON lines if the first line is an object."""
    suffix = Path(path).suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if suffix in TEXT_SUFFIXES:
        return "text"
    first = next((ln.strip() for ln in _lines(text) if ln.strip()), "")
    return "jsonl" if first.startswith("{") else "text"


def _lines(text: str) -> list[str]:
    # Split on \n only (str.splitlines also splits on form feeds and U+2028, which editors don't count).
    return [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]


def _clip(s: str, n: int = 40) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def _check_meta(obj: dict, path, n: int) -> dict[str, str]:
    meta = obj["meta"]
    if len(obj) != 1 or not isinstance(meta, dict):
        raise TranscriptError(path, 'the meta line must be exactly {"meta": {...}}', n)
    unknown = sorted(set(meta) - set(META_KEYS))
    if unknown:
        raise TranscriptError(path, f"unknown meta key(s) {', '.join(unknown)}; allowed: {', '.join(META_KEYS)}", n)
    out = {}
    for k, v in meta.items():
        if not isinstance(v, str) or not v.strip():
            raise TranscriptError(path, f'meta "{k}" must be a non-empty string', n)
        out[k] = v.strip()
    for k in ("scenario", "persona"):
        if k in out and len(out[k]) > MAX_ID_CHARS:
            raise TranscriptError(path, f'meta "{k}" is {len(out[k])} characters; the limit is {MAX_ID_CHARS}', n)
    if "recorded" in out:
        out["recorded"] = _parse_when(out["recorded"], path, n).isoformat()
    return out


def _parse_when(value: str, path, n: int) -> datetime:
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise TranscriptError(path, f'meta "recorded" is not an ISO date ({_clip(value)!r}); e.g. 2025-03-14 or '
                                    "2025-03-14T10:30:00+00:00", n) from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


# -- files --------------------------------------------------------------------------------------
def find_files(paths: Iterable[str | os.PathLike]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Transcript files named or under the named folders (sorted per folder), and paths that don't exist.

    Folders are walked recursively for *.txt and *.jsonl (hidden files and folders skipped);
    a file named directly is read whatever its name. A file reached twice is listed once.
    """
    files: list[Path] = []
    missing: list[tuple[Path, str]] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            files.append(p)

    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = []
            for root, dirs, names in os.walk(p):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                found += [Path(root, n) for n in names
                          if not n.startswith(".") and n.lower().endswith(WALK_SUFFIXES)]
            for f in sorted(found):
                add(f)
        elif p.is_file():
            add(p)
        else:
            missing.append((p, "no such file or folder"))
    return files, missing


def import_key(data: bytes) -> str:
    return REF_PREFIX + hashlib.sha256(data).hexdigest()


# -- import -------------------------------------------------------------------------------------
@dataclass
class ImportReport:
    imported: list[tuple[Path, str]] = field(default_factory=list)  # (file, new session id)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (file, session id it was imported as)
    failed: list[tuple[Path, str]] = field(default_factory=list)  # (file, reason)
    turns: int = 0  # trainee turns stored by this run

    @property
    def total(self) -> int:
        return len(self.imported) + len(self.skipped) + len(self.failed)

    def summary(self) -> str:
        s = (f"{self.total} file{'s' if self.total != 1 else ''}: {len(self.imported)} imported "
             f"({self.turns} trainee turns), {len(self.skipped)} already imported, {len(self.failed)} failed")
        if self.failed:
            s += "; fix the failed files and run the same command again (imported files are skipped)"
        return s


@dataclass
class _Pending:
    path: Path
    key: str
    user_id: int
    scenario: str
    persona: str
    title: str
    created_at: datetime
    turns: list[ParsedTurn]


def import_transcripts(store, paths: Iterable[str | os.PathLike], trainee: str, *, analyzer=None,
                       scenario: str = "imported", persona: str = "imported",
                       trainee_speakers: Iterable[str] = DEFAULT_TRAINEE_SPEAKERS, batch_size: int = 64,
                       progress: bool = False, files_per_batch: int = FILES_PER_BATCH) -> ImportReport:
    """Analyse and store transcripts as ended sessions of ``trainee`` (an existing username).

    Files already in the store (same bytes) are skipped; files that cannot be read or parsed are
    reported in ``failed`` and the run goes on. Raises ``ValueError`` before any work for an
    unknown trainee or bad options; a database or analyser failure stops the run (what was
    stored before it stays, and rerunning the same call continues).
    """
    trainee_set = normalise_speakers(trainee_speakers)
    for what, value in (("scenario", scenario), ("persona", persona)):
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_CHARS:
            raise ValueError(f"{what}: 1 to {MAX_ID_CHARS} characters, not {value!r}")
    if batch_size < 1 or files_per_batch < 1:
        raise ValueError("batch_size and files_per_batch must be at least 1")
    user = store.user(trainee) if isinstance(trainee, str) else None
    if user is None:
        raise ValueError(f"trainee {trainee!r} has no account: create it first (rjcoach user add {trainee} --role trainee)")
    users = {trainee: user.id}

    files, missing = find_files(paths)
    report = ImportReport(failed=list(missing))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(files), unit="file", desc="importing", file=sys.stderr)
    state = {"analyzer": analyzer}
    try:
        for start in range(0, len(files), files_per_batch):
            batch: list[_Pending] = []
            dupes: list[tuple[Path, str]] = []  # same bytes as a file earlier in this batch
            keys_in_run: set[str] = set()  # files of this batch waiting to be stored
            for path in files[start:start + files_per_batch]:
                item = _prepare(store, path, users, trainee, scenario, persona, trainee_set, report, keys_in_run)
                if item is None:
                    _tick(bar, report)
                elif isinstance(item, tuple):
                    dupes.append(item)
                else:
                    keys_in_run.add(item.key)
                    batch.append(item)
                    if sum(len(b.turns) for b in batch) >= UTTERANCES_PER_BATCH:
                        _store_batch(store, batch, state, batch_size, report, bar)
                        batch = []
            _store_batch(store, batch, state, batch_size, report, bar)
            for path, key in dupes:
                row = store.session_by_ref(key)
                report.skipped.append((path, row.id if row else ""))
                _tick(bar, report)
    finally:
        if bar is not None:
            bar.close()
    return report


def _prepare(store, path: Path, users: dict, trainee: str, scenario: str, persona: str, trainee_set,
             report: ImportReport, keys_in_run: set):
    """Read and parse one file: a _Pending to store, (path, key) for a duplicate, or None (done)."""
    try:
        st = path.stat()
        if st.st_size > MAX_FILE_BYTES:
            raise TranscriptError(path, f"file is {st.st_size:,} bytes; the limit is {MAX_FILE_BYTES:,} (MAX_FILE_BYTES)")
        data = path.read_bytes()
        key = import_key(data)
        if key in keys_in_run:
            return (path, key)
        row = store.session_by_ref(key)
        if row is not None:
            report.skipped.append((path, row.id))
            return None
        t = parse_transcript(data, path, trainee_set)
        who = t.meta.get("trainee", trainee)
        if who not in users:
            user = store.user(who)
            if user is None:
                raise TranscriptError(path, f'meta "trainee" {who!r} has no account: create it or drop the key')
            users[who] = user.id
    except TranscriptError as exc:
        report.failed.append((path, f"line {exc.line}: {exc.problem}" if exc.line else exc.problem))
        return None
    except OSError as exc:
        report.failed.append((path, f"cannot read: {exc.strerror or exc}"))
        return None
    if "recorded" in t.meta:
        created = datetime.fromisoformat(t.meta["recorded"])
    else:
        created = datetime.fromtimestamp(st.st_mtime, timezone.utc)
    return _Pending(path, key, users[who], t.meta.get("scenario", scenario), t.meta.get("persona", persona),
                    t.meta.get("title", path.name)[:MAX_TITLE_CHARS], created, t.turns)


def _store_batch(store, batch: list[_Pending], state: dict, batch_size: int, report: ImportReport, bar) -> None:
    """One analyser call for every trainee utterance of the batch, then one transaction per file."""
    if not batch:
        return
    texts = [t.trainee_text for item in batch for t in item.turns]
    contexts = [t.context for item in batch for t in item.turns]
    if state["analyzer"] is None:  # loaded only once there is something to analyse
        from rjcoach.analyzer import get_analyzer

        if bar is not None:
            bar.set_description("loading the analyser")
        state["analyzer"] = get_analyzer()
        if bar is not None:
            bar.set_description("importing")
    analyses = state["analyzer"].analyze_many(texts, contexts, batch_size=batch_size) if texts else []
    if len(analyses) != len(texts):
        raise RuntimeError(f"the analyser returned {len(analyses)} results for {len(texts)} utterances")
    from rjcoach.store import StoreError

    pos = 0
    for item in batch:
        rows = []
        for t in item.turns:
            rows.append({"trainee_text": t.trainee_text, "analysis": analyses[pos].to_dict(),
                         "feedback": {"level": "imported"}, "persona_text": t.persona_text,
                         "persona": {"speaker": t.persona_speaker}})
            pos += 1
        try:
            sid = store.import_session(item.user_id, item.scenario, item.persona, item.key, item.title, rows,
                                       created_at=item.created_at)
        except StoreError:
            row = store.session_by_ref(item.key)  # another import stored the same file meanwhile
            if row is None:
                raise
            report.skipped.append((item.path, row.id))
        else:
            report.imported.append((item.path, sid))
            report.turns += len(rows)
        _tick(bar, report)


def _tick(bar, report: ImportReport) -> None:
    if bar is not None:
        bar.set_postfix(imported=len(report.imported), skipped=len(report.skipped), failed=len(report.failed),
                        refresh=False)
        bar.update(1)


# -- command line -------------------------------------------------------------------------------
def register_cli(review_subparsers) -> argparse.ArgumentParser:
    """Add ``import`` to the ``rjcoach review`` sub-commands; returns its parser."""
    p = review_subparsers.add_parser(
        "import", help="analyse transcripts recorded outside the app and store them for review",
        description="Import plain-text ('Speaker: text') or JSON-lines transcripts as ended sessions. "
                    "Files already imported (same bytes) are skipped, so an interrupted run can simply be repeated.")
    p.add_argument("files", nargs="+", metavar="FILES", help="transcript files or folders (walked for *.txt, *.jsonl)")
    p.add_argument("--trainee", required=True, help="username the sessions belong to (a file's meta may name another)")
    p.add_argument("--scenario", default="imported", help="scenario id to file them under (default: imported)")
    p.add_argument("--persona", default="imported", help="persona id to file them under (default: imported)")
    p.add_argument("--trainee-speaker", action="append", metavar="NAME",
                   help="a speaker name that is the trainee, case-insensitive; repeat for several "
                        f"(default: {', '.join(DEFAULT_TRAINEE_SPEAKERS)})")
    p.add_argument("--batch-size", type=int, default=64, help="utterances per analyser batch (default: 64)")
    p.add_argument("--database-url", help="SQLAlchemy URL (default: RJCOACH_DATABASE_URL or the local SQLite file)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_import)
    return p


def cmd_import(args) -> int:
    from rjcoach.store import Store, StoreError

    try:
        store = Store(args.database_url)
        report = import_transcripts(store, args.files, args.trainee, scenario=args.scenario, persona=args.persona,
                                    trainee_speakers=args.trainee_speaker or DEFAULT_TRAINEE_SPEAKERS,
                                    batch_size=args.batch_size, progress=not args.no_progress)
    except ValueError as exc:
        print(f"rjcoach review import: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"rjcoach review import: {exc}; files stored before it are kept: run the same command again to "
              "import the rest", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rjcoach review import: interrupted; files stored so far are kept: run the same command again to "
              "import the rest", file=sys.stderr)
        return 130
    for path, reason in report.failed:
        print(f"{path}: {reason}", file=sys.stderr)
    print(report.summary())
    user = store.user(args.trainee)
    if user is not None and not store.cohorts_of(user.id):
        print(f"note: {args.trainee} is in no cohort, so only admins see these sessions until "
              f"`rjcoach cohort add COHORT {args.trainee}`", file=sys.stderr)
    return 1 if report.failed else 0
