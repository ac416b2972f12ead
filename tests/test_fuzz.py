"""Property-based fuzzing (Hypothesis) of hostile input: the analyser, the persona loader, a whole turn.

Every test is bounded (``max_examples``) so the file runs in about a minute on two cores; the
analyser is loaded once for the module. Nothing is written to the working tree (no example
database). Timings below are hang guards, not performance tests.
"""
from __future__ import annotations

import math
import os
import re
import shutil
import sys
import tempfile
import time
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, assume, event, example, given, settings
from hypothesis import strategies as st

from rjcoach.analysis import MAX_CONTEXT_CHARS, MAX_TEXT_CHARS, check_context
from rjcoach.labels import FAMILIES, LABELS
from rjcoach.persona_loader import MAX_DEPTH, MAX_FILE_BYTES, PERSONA_DIR, load_folder
from rjcoach.session import INVISIBLE

pytestmark = pytest.mark.slow

HANG_GUARD_S = 20.0  # a safety net against hangs, far above any normal load time
SAFE_ID = re.compile(r"[a-z][a-z0-9_]{1,48}")


# A longer campaign: RJCOACH_FUZZ_SCALE=20 runs twenty times as many examples per test.
SCALE = float(os.environ.get("RJCOACH_FUZZ_SCALE", "1"))


def bounded(n: int):
    """At most ``n`` examples, no deadline, no example database in the tree, and no "explain" phase
    (it re-runs a failing example under a line tracer, which takes minutes on the pure-Python YAML
    parser and only delays the report)."""
    return settings(max_examples=max(1, round(n * SCALE)), deadline=None, database=None,
                    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ------------------------------------------------------------------------------------------------
# Hostile text
# ------------------------------------------------------------------------------------------------

FRAGMENTS = [
    # control characters and line breaks of every kind
    "\x00", "\x07", "\x08", "\x1b[31m", "\x1b]0;title\x07", "\r\n", "\r", "\t", "\x0b", "\x0c", "\x1c", "\x1f",
    "\x7f", "\x85", "\u2028", "\u2029",
    # bidi controls, zero-width and special code points
    "\u202e", "\u202d", "\u2066", "\u2069", "\u200f", "\u200e", "\u200b", "\u200c", "\u200d", "\u2060",
    "\ufeff", "\ufffd", "\uffff", "\U0010ffff", "\ue000",
    # combining marks (including a "zalgo" pile-up)
    "e\u0301", "\u0301\u0302\u0303", "a" + "\u0336\u0300\u0301\u0302" * 20, "\u0903",
    # emoji: ZWJ families, flags, skin tones, variation selectors
    "😀", "👨\u200d👩\u200d👧\u200d👦", "🏳\ufe0f\u200d🌈", "🇬🇧", "👍🏽", "☺\ufe0e",
    # other scripts
    "مرحبا، كيف حالك؟", "שלום", "漢字だけの文です。", "ﷺ", "𝕳𝖊𝖑𝖑𝖔", "İı", "ß", "ǅ", "Ⅻ", "١٢٣",
    # markup and injection-shaped text
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "</textarea>", "&lt;&amp;&#0;",
    "**bold**", "_it_", "[link](javascript:alert(1))", "![img](http://x/y.png)", "```\ncode\n```",
    "# heading\n", "> quote\n", "| a | b |\n|---|---|", "http://example.com/?a=1&b=<2>", "{{7*7}}",
    "${jndi:ldap://x/a}", "'; DROP TABLE turns; --", "%s%n%x", "\\", "\\u0000", "\"", "'",
    # rubric-looking words, so labels and evidence actually get exercised
    "Why did you do it?", "why", "You always", "you lot never", "I'm so sorry.", "That must be hard.",
    "What happened?", "Go on.", "you're a thug", "It's only a wall.", "or you'll regret it",
    "?", "!", ".", "...", " ", "  ", "\n\n",
]

# Hypothesis leaves out surrogates by default in text(); characters() needs telling.
piece = st.one_of(st.text(max_size=12), st.sampled_from(FRAGMENTS), st.characters(exclude_categories=("Cs",)))
hostile_text = st.lists(piece, max_size=40).map("".join)
sendable_text = st.lists(piece, min_size=1, max_size=40).map("".join).map(lambda s: s if s.strip(INVISIBLE) else s + "?")


def repeated(min_len: int, max_len: int):
    """Long strings built by repeating a hostile snippet (cheap to generate, any length)."""
    snippet = st.lists(piece, max_size=6).map(lambda p: "".join(p) or "x")
    return st.tuples(snippet, st.integers(min_len, max_len)).map(lambda t: (t[0] * (t[1] // len(t[0]) + 1))[: t[1]])


near_text_limit = repeated(MAX_TEXT_CHARS - 40, MAX_TEXT_CHARS + 40)
contexts = st.one_of(
    st.none(),
    hostile_text,
    st.text(alphabet=" \t\n\r\x0b\x0c\x1c\x85\u2028\u3000", max_size=10),  # blank
    repeated(MAX_CONTEXT_CHARS - 5, MAX_CONTEXT_CHARS * 10),  # over-long
)
lone_surrogates = st.integers(0xD800, 0xDFFF).map(chr)


def with_surrogate(texts):
    """A str with a lone surrogate somewhere, as ``json.loads('"\\ud800"')`` can produce."""
    return st.tuples(texts, lone_surrogates, st.integers(0, 10**6)).map(
        lambda t: t[0][: t[2] % (len(t[0]) + 1)] + t[1] + t[0][t[2] % (len(t[0]) + 1):])


non_strings = st.one_of(st.none(), st.integers(), st.floats(), st.binary(max_size=10),
                        st.lists(st.text(max_size=3), max_size=2), st.dictionaries(st.text(max_size=2), st.none(), max_size=1))


# ------------------------------------------------------------------------------------------------
# 1. The analyser
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def analyzer():
    from rjcoach.analyzer import get_analyzer

    return get_analyzer()


def check_analysis(a, text, context) -> None:
    assert a.text == text
    assert a.context == check_context(context)
    assert a.context is None or len(a.context) <= MAX_CONTEXT_CHARS
    assert a.labels <= set(LABELS), f"not rubric ids: {sorted(a.labels - set(LABELS))}"
    assert set(a.scores) == set(LABELS)
    for label, s in a.scores.items():
        assert isinstance(s, float) and math.isfinite(s) and 0.0 <= s <= 1.0, (label, s)
    assert set(a.families) == set(FAMILIES)
    for fam, summary in a.families.items():
        assert set(summary.labels) == a.labels & set(FAMILIES[fam])
        assert 0.0 <= summary.score <= 1.0
    for e in a.evidence:
        assert e.label in a.labels
        assert 0 <= e.start <= e.end <= len(text), (e, len(text))
        assert text[e.start : e.end] == e.text, e
        assert e.text.strip(), f"evidence for {e.label} is blank: {e!r}"
    assert {e.label for e in a.evidence} == a.labels  # every flag says which words carry it
    a.to_dict()  # serialisable shape, as the store keeps it


@bounded(50)
@given(text=st.one_of(sendable_text, hostile_text, near_text_limit), context=contexts)
def test_analyze_any_text_and_context(analyzer, text, context):
    if len(text) > MAX_TEXT_CHARS:
        event("over the limit")
        with pytest.raises(ValueError, match=str(MAX_TEXT_CHARS)):
            analyzer.analyze(text, context)
        return
    a = analyzer.analyze(text, context)
    event("blank" if not text.strip() else "flagged" if a.labels else "no labels")
    check_analysis(a, text, context)


@bounded(20)
@example(text="\ud800", context=None)  # UnicodeEncodeError from spaCy before the fix
@given(text=with_surrogate(st.lists(piece, max_size=10).map("".join)), context=st.one_of(st.none(), sendable_text))
def test_analyze_lone_surrogates_raise_value_error(analyzer, text, context):
    with pytest.raises(ValueError, match="surrogate"):
        analyzer.analyze(text, context)
    with pytest.raises(ValueError, match="context.*surrogate"):
        analyzer.analyze("Go on.", "It was late." + text)
    # Only the end of a long context is used; a surrogate in the part left out does no harm.
    check_analysis(analyzer.analyze("Go on.", text + "x" * MAX_CONTEXT_CHARS), "Go on.", text + "x" * MAX_CONTEXT_CHARS)


SENTENCES = ["Why?", "Why did you do it?", "Go on.", "You're a thug.", "What happened?", "I see.",
             "That must be hard!", "You always do this.", "It's only a wall.", "Was it locked?", "So it hurt."]


@bounded(5)
@example(sentences=["Why?"] * 400, context="It was late. " * 200)  # 400 full-length passes before the fix
@given(sentences=st.lists(st.one_of(st.sampled_from(SENTENCES), sendable_text.map(lambda t: t + ".")),
                          min_size=20, max_size=400),
       context=st.one_of(st.none(), repeated(MAX_CONTEXT_CHARS, MAX_CONTEXT_CHARS + 100)))
def test_analysis_cost_is_bounded_for_many_sentences(analyzer, sentences, context):
    """However many sentences a message has, one analysis runs at most 1 + MAX_EVIDENCE_SENTENCES
    rows through the classifier (every row carries the whole context)."""
    from rjcoach.analyzer import MAX_EVIDENCE_SENTENCES

    text = " ".join(sentences)[:MAX_TEXT_CHARS]
    comp = analyzer.component
    rows: list[int] = []
    real = comp.probabilities

    def counting(texts, contexts_, hits):
        rows.append(len(texts))
        return real(texts, contexts_, hits)

    comp.probabilities = counting
    try:
        a = analyzer.analyze(text, context)
    finally:
        del comp.probabilities  # back to the class's method
    check_analysis(a, text, context)
    assert sum(rows) <= 1 + MAX_EVIDENCE_SENTENCES, rows


@bounded(20)
@given(bad=non_strings, context=contexts)
def test_analyze_non_strings_raise_type_error(analyzer, bad, context):
    with pytest.raises(TypeError):
        analyzer.analyze(bad, context)
    with pytest.raises(TypeError, match="context"):
        analyzer.analyze("Go on.", bad if bad is not None else 0)


@bounded(10)
@given(items=st.lists(st.tuples(st.one_of(sendable_text, hostile_text), contexts), min_size=0, max_size=4),
       batch_size=st.integers(1, 4))
def test_analyze_many_agrees_with_analyze(analyzer, items, batch_size):
    texts = [t for t, _ in items]
    ctxs = [c for _, c in items]
    many = analyzer.analyze_many(texts, ctxs, batch_size=batch_size)
    assert len(many) == len(texts)
    for t, c, m in zip(texts, ctxs, many):
        check_analysis(m, t, c)
        one = analyzer.analyze(t, c)
        assert one.labels == m.labels, (t, c, sorted(one.labels), sorted(m.labels))
        for label in LABELS:
            assert abs(one.scores[label] - m.scores[label]) < 1e-4, (label, one.scores[label], m.scores[label])


# ------------------------------------------------------------------------------------------------
# 2. The persona loader
# ------------------------------------------------------------------------------------------------

REAL_SCENARIO = "graffiti_bakery"
REAL_FILES = ["graffiti_bakery.yml", "rana_haddad.yml", "jayden_price.yml", "kerry_price.yml", "des_okafor.yml"]
REAL_PERSONAS = {"rana_haddad", "jayden_price", "kerry_price", "des_okafor"}
RANA_TEXT = (PERSONA_DIR / "rana_haddad.yml").read_text(encoding="utf-8")
SCENARIO_TEXT = (PERSONA_DIR / "graffiti_bakery.yml").read_text(encoding="utf-8")

# Opens and writes seen while a load is watched (an audit hook, installed on first use).
_watch: dict | None = None
_hook_installed = False
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_WRITE_EVENTS = {"os.remove", "os.rename", "os.replace", "os.mkdir", "os.rmdir", "os.symlink", "os.link",
                 "os.truncate", "os.chmod", "os.chown", "os.utime", "shutil.copyfile", "shutil.rmtree"}


def _audit(name, args):
    w = _watch
    if w is None:
        return
    if name == "open":
        path, mode, flags = (tuple(args) + (None, None, None))[:3]
        if isinstance(path, int):
            return
        w["opened"].append(os.fsdecode(path))
        if (isinstance(mode, str) and set(mode) & set("wax+")) or (isinstance(flags, int) and flags & _WRITE_FLAGS):
            w["written"].append(os.fsdecode(path))
    elif name in _WRITE_EVENTS:
        w["written"].append(repr(args))


def _install_hook():
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit)
        _hook_installed = True


_PY_DIRS = tuple({str(Path(p).resolve()) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})


@contextmanager
def hostile_folder(files: dict[str, bytes]):
    """A temporary persona folder: one real scenario with its roster, plus the given files, plus a
    symlink to a persona file outside the folder and a directory named like a persona file.

    Yields (folder, lib, seconds); checks on the way what must hold for any input.
    """
    global _watch
    _install_hook()
    with tempfile.TemporaryDirectory() as tmp:
        outside = Path(tmp) / "outside"
        outside.mkdir()
        (outside / "secret.yml").write_text(RANA_TEXT.replace("id: rana_haddad", "id: secret_persona"))
        folder = (Path(tmp) / "personas").resolve()
        folder.mkdir()
        for name in REAL_FILES:
            shutil.copy(PERSONA_DIR / name, folder / name)
        for name, data in files.items():
            (folder / name).write_bytes(data)
        (folder / "zz_link.yml").symlink_to(outside / "secret.yml")
        (folder / "zz_dir.yml").mkdir()
        before = sorted(p.name for p in folder.iterdir())
        snapshot = {p: p.read_bytes() for p in folder.iterdir() if p.is_file()}
        _watch = {"opened": [], "written": []}
        t0 = time.monotonic()
        try:
            lib = load_folder(folder)  # must return, never raise
        finally:
            seconds = time.monotonic() - t0
            watched, _watch = _watch, None
        assert seconds < HANG_GUARD_S, f"load_folder took {seconds:.1f}s"
        # Nothing outside the folder read, nothing anywhere written.
        assert not watched["written"], watched["written"]
        assert any(Path(p).name == "rana_haddad.yml" for p in watched["opened"]), "the audit hook saw nothing"
        for p in watched["opened"]:
            rp = str(Path(p).resolve())
            if rp.startswith(_PY_DIRS) and rp.endswith((".py", ".pyc", ".so", ".pth", ".typed")):
                continue  # a lazy import
            assert Path(rp).parent == folder, f"opened {p} outside the persona folder"
        assert sorted(p.name for p in folder.iterdir()) == before
        assert all(p.read_bytes() == snapshot[p] for p in folder.iterdir() if p.is_file())
        for special in ("zz_link.yml", "zz_dir.yml"):
            assert errors_of(lib, folder, special), f"{special} was not reported"
        # The valid files still load, whatever is next to them.
        assert REAL_PERSONAS <= set(lib.personas), (sorted(lib.personas), [str(e) for e in lib.errors])
        assert REAL_SCENARIO in lib.scenarios, [str(e) for e in lib.errors]
        assert "secret_persona" not in lib.personas
        # Every error names a file in the folder, and says something.
        for e in lib.errors:
            assert Path(e.file).parent == folder and Path(e.file).name in before, e
            assert e.message.strip(), e
            assert e.line is None or e.line >= 1, e
        # Whatever loaded has safe ids.
        for key, model in list(lib.personas.items()) + list(lib.scenarios.items()):
            assert key == model.id and SAFE_ID.fullmatch(model.id), repr(model.id)
            assert Path(lib.files[key]).parent == folder
        yield folder, lib, seconds


def errors_of(lib, folder: Path, name: str):
    return [e for e in lib.errors if e.file == str(folder / name)]


file_names = st.text(
    alphabet=st.characters(exclude_characters="/\x00", exclude_categories=("Cs",)), max_size=30,
).map(lambda s: "h_" + s).filter(lambda s: len(os.fsencode(s)) < 200).map(
    lambda s: s + ".yml")

YAMLISH = [
    "{", "}", "[", "]", ":", ": ", ",", "- ", "-", "? ", "&a ", "*a ", "&b ", "*b ", "<<: ", "!!int ", "!!float ",
    "!!str ", "!!map ", "!!seq ", "!!set ", "!!omap ", "!!binary ", "!!timestamp ", "!!bool ", "!!null ",
    "!!python/object/apply:os.system ", "!!python/name:os.system ", "!local ", "!<tag:x> ", "%YAML 1.1\n",
    "%TAG ! tag:x,2000:\n", "---\n", "...\n", "\n", "  ", "    ", "\t", "'", '"', "#", "|", ">", "|-\n", ">+\n",
    "kind: persona\n", "kind: scenario\n", "kind: [persona]\n", "kind: {a: 1}\n", "schema_version: 1\n",
    "id: rana_haddad\n", "2001-13-45", "2001-02-29", "1e999", "0x", "0o9", ".nan", "~", "null", "yes", "\ufeff",
    "\x00", "\x85", "\u2028", "é", "😀", "\\", "a", "b", "key", "1", "-1", "0.5",
]
yamlish = st.lists(st.one_of(st.sampled_from(YAMLISH), st.text(max_size=4)), max_size=60).map("".join)

yaml_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20), st.binary(max_size=8),
              st.sampled_from(["persona", "scenario", "harmed", "angry", "neutral", "graffiti_bakery", "impact"])),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.text(max_size=8), st.integers(), st.booleans()), inner, max_size=4)),
    max_leaves=12,
)


@st.composite
def mutated_persona(draw) -> bytes:
    """Rana's file with one field, at any depth, replaced by a random value (a new id unless hit)."""
    data = yaml.safe_load(RANA_TEXT)
    data["id"] = "rana_mutant"
    node = data
    for _ in range(draw(st.integers(0, 3))):
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node, key=str)))
        elif isinstance(node, list) and node:
            key = draw(st.integers(0, len(node) - 1))
        else:
            break
        if not isinstance(node[key], (dict, list)) or not node[key]:
            break
        node = node[key]
    if isinstance(node, dict):
        key = draw(st.one_of(st.sampled_from(sorted(node, key=str)), st.text(max_size=8))) if node else "x"
        if draw(st.booleans()) and key in node and len(node) > 1:
            del node[key]
        else:
            node[key] = draw(yaml_values)
    elif isinstance(node, list) and node:
        node[draw(st.integers(0, len(node) - 1))] = draw(yaml_values)
    return yaml.safe_dump(data, allow_unicode=draw(st.booleans()), sort_keys=False).encode("utf-8")


hostile_files = st.one_of(
    st.binary(max_size=600),
    yamlish.map(lambda s: s.encode("utf-8")),
    st.tuples(st.sampled_from(["", "schema_version: 1\nkind: persona\n", "schema_version: 1\nkind: scenario\n"]),
              yamlish).map(lambda t: (t[0] + t[1]).encode("utf-8")),
    mutated_persona(),
    st.tuples(yaml_values, yaml_values, st.dictionaries(st.text(max_size=6), yaml_values, max_size=3)).map(
        lambda t: yaml.safe_dump({"schema_version": t[0], "kind": t[1], **t[2]}, sort_keys=False).encode("utf-8")),
    hostile_text.map(lambda s: s.encode("utf-8")),
)


# Inputs that crashed load_folder before the fixes (each raised out of it), kept as regressions.
CRASHERS = {
    "h_kind_list.yml": b"kind: [persona]\n",  # TypeError: unhashable type: 'list'
    "h_kind_map.yml": b"schema_version: 1\nkind: {a: 1}\n",  # TypeError: unhashable type: 'dict'
    "h_unhashable_key.yml": b"? [a]\n: b\n",  # ConstructorError
    "h_dup_anchor.yml": b"a: &x 1\nb: &x 2\n",  # ComposerError
    "h_two_docs.yml": b"a: 1\n---\nb: 2\n",  # ComposerError
    "h_bad_date.yml": b"a: 2001-13-45\n",  # ValueError: month must be in 1..12
    "h_bad_int.yml": b"a: !!int abc\n",  # ValueError
    "h_bad_bool.yml": b"a: !!bool xyz\n",  # KeyError
    "h_bad_timestamp.yml": b"!!timestamp",  # AttributeError
    "h_python_tag.yml": b"a: !!python/object/apply:os.system [echo hi]\n",  # ConstructorError
    "h_bad_merge.yml": b"a: {<<: 1}\n",  # ConstructorError
}


@bounded(50)
@given(files=st.dictionaries(file_names, hostile_files, min_size=1, max_size=3))
@example(files=CRASHERS)
def test_loader_survives_random_files(files):
    with hostile_folder(files) as (folder, lib, _):
        for name in files:
            path = str(folder / name)
            loaded = any(str(p) == path for p in lib.files.values())
            assert loaded or errors_of(lib, folder, name), f"{name} neither loaded nor reported"


@bounded(2)
@given(n=st.integers(20000, 22000), shape=st.sampled_from(["unknown_keys", "bad_items"]))
def test_loader_file_with_thousands_of_errors(n, shape):
    """Every error of a file points at its own line, and a file of (small) errors does not hang."""
    head = ["schema_version: 1", "kind: persona"]
    if shape == "unknown_keys":
        lines = head + [f"k{i}: 1" for i in range(n)]
    else:
        lines = head + ["knows:"] + [f"  - [{i}]" for i in range(n)]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    assume(len(data) <= MAX_FILE_BYTES)
    with hostile_folder({"many.yml": data}) as (folder, lib, _):
        errs = errors_of(lib, folder, "many.yml")
        by_field = {e.field: e.line for e in errs}
        if shape == "unknown_keys":
            assert all(by_field[f"k{i}"] == i + 3 for i in range(n))
        else:
            assert all(by_field[f"knows.{i}"] == i + 4 for i in range(n))


@st.composite
def deep_document(draw) -> str:
    depth = draw(st.integers(MAX_DEPTH + 1, 3000))
    style = draw(st.sampled_from(["flow_seq", "flow_map", "block_seq", "block_map", "mixed_flow", "in_persona"]))
    if style == "flow_seq":
        return "a: " + "[" * depth + "x" + "]" * depth + "\n"
    if style == "flow_map":
        return "{a: " * depth + "1" + "}" * depth + "\n"
    if style == "block_seq":
        return "- " * depth + "x\n"  # compact nested sequences on one line
    if style == "block_map":
        depth = min(depth, 400)
        return "".join("  " * i + "k:\n" for i in range(depth)) + "  " * depth + "v\n"
    if style == "mixed_flow":
        opens = [draw(st.sampled_from(["[", "{a: "])) for _ in range(depth)]
        return "".join(opens) + "x" + "".join("]" if o == "[" else "}" for o in reversed(opens)) + "\n"
    return RANA_TEXT.replace("id: rana_haddad", "id: rana_deep") + "extra: " + "[" * depth + "]" * depth + "\n"


@bounded(20)
@given(doc=deep_document())
def test_loader_refuses_deep_nesting(doc):
    data = doc.encode("utf-8")
    with hostile_folder({"deep.yml": data}) as (folder, lib, _):
        errs = errors_of(lib, folder, "deep.yml")
        assert errs and "rana_deep" not in lib.personas
        if len(data) <= MAX_FILE_BYTES:
            assert any("nested deeper" in e.message for e in errs), [str(e) for e in errs]


@bounded(8)
@given(size=st.integers(MAX_FILE_BYTES + 1, 4 * MAX_FILE_BYTES),
       kind=st.sampled_from(["comment", "persona", "scalars", "flow"]))
def test_loader_refuses_giant_files(size, kind):
    body = {
        "comment": "# " + "x" * size,
        "persona": RANA_TEXT.replace("id: rana_haddad", "id: rana_giant") + "#" * size,
        "scalars": "a: [" + "1, " * (size // 3) + "1]",
        "flow": "k: " + "'" + "lol " * (size // 4) + "'",
    }[kind]
    data = body.encode("utf-8")
    assert len(data) > MAX_FILE_BYTES
    with hostile_folder({"giant.yml": data}) as (folder, lib, _):
        errs = errors_of(lib, folder, "giant.yml")
        assert len(errs) == 1 and str(MAX_FILE_BYTES) in errs[0].message, [str(e) for e in errs]
        assert "rana_giant" not in lib.personas


@st.composite
def yaml_bomb(draw) -> str:
    """Billion laughs: each level refers to the one before ``fan`` times."""
    levels = draw(st.integers(2, 40))
    fan = draw(st.integers(2, 12))
    style = draw(st.sampled_from(["flow_seq", "block_seq", "flow_map", "merge", "in_persona"]))
    lines = [] if style == "in_persona" else ["schema_version: 1", "kind: persona"]
    if style == "merge":
        lines.append("l0: &l0 {a: lol, b: lol, c: lol}")
    else:
        lines.append('l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]')
    for i in range(1, levels):
        prev = f"*l{i - 1}"
        if style in ("flow_seq", "in_persona"):
            lines.append(f"l{i}: &l{i} [" + ", ".join([prev] * fan) + "]")
        elif style == "block_seq":
            lines.append(f"l{i}: &l{i}")
            lines += [f"  - {prev}"] * fan
        elif style == "flow_map":
            lines.append(f"l{i}: &l{i} {{" + ", ".join(f"k{j}: {prev}" for j in range(fan)) + "}")
        else:  # merge keys copy the mapping they name
            lines.append(f"l{i}: &l{i}")
            lines.append(f"  <<: {prev}")
            lines.append(f"  k{i}: [{', '.join([prev] * fan)}]")
    text = "\n".join(lines) + "\n"
    if style == "in_persona":
        text = text + RANA_TEXT.replace("id: rana_haddad", "id: rana_bomb").replace(
            "knows:\n", f"knows: *l{levels - 1}\nold_knows:\n", 1)
    return text


@bounded(8)
@given(bomb=yaml_bomb())
def test_loader_refuses_yaml_bombs(bomb):
    tracemalloc.start()
    try:
        with hostile_folder({"bomb.yml": bomb.encode("utf-8")}) as (folder, lib, _):
            _, peak = tracemalloc.get_traced_memory()
            errs = errors_of(lib, folder, "bomb.yml")
            assert errs and any("alias" in e.message for e in errs), [str(e) for e in errs]
            assert "rana_bomb" not in lib.personas
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, f"loading a bomb used {peak / 2**20:.0f} MiB"


def test_loader_does_not_block_on_a_fifo(tmp_path):
    """A FIFO named like a persona file (no writer) is refused, not read: reading it blocks forever."""
    import threading

    for name in REAL_FILES:
        shutil.copy(PERSONA_DIR / name, tmp_path / name)
    os.mkfifo(tmp_path / "pipe.yml")
    done: dict = {}
    t = threading.Thread(target=lambda: done.setdefault("lib", load_folder(tmp_path)), daemon=True)
    t.start()
    t.join(HANG_GUARD_S)
    if "lib" not in done:  # unblock the reader so the thread can finish
        fd = os.open(tmp_path / "pipe.yml", os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        pytest.fail("load_folder blocked reading a FIFO")
    lib = done["lib"]
    assert [e.message for e in lib.errors if Path(e.file).name == "pipe.yml"] == ["is not a regular file"]
    assert REAL_PERSONAS <= set(lib.personas)


TRAVERSAL_IDS = [
    "../../etc/passwd", "..\\x", "..", ".", "/etc/passwd", "/tmp/x", "C:\\Windows\\win.ini", "rana\x00haddad",
    "rana_haddad\x00../../x", "a" * 5000, "r" + "a" * 49, "rana_haddad/../../x", "~/.ssh/id_rsa", "%2e%2e%2f",
    "file:///etc/passwd", "\u202erana", "ｒａｎａ", "rana-haddad", "rana haddad", "RANA", "r", "1abc", "_abc",
    "ra\nna", "rana.yml", "rana_haddad.yml", "../outside/secret", "\\\\server\\share", "con", "nul?", "*", "",
]
hostile_ids = st.one_of(st.sampled_from(TRAVERSAL_IDS), st.text(max_size=60),
                        st.text(alphabet="./\\\x00a_~:", max_size=20))
ID_FIELDS = ["persona.id", "persona.scenario", "disclosure.id", "scenario.id", "roster.persona", "goal.disclosure"]


def _quoted(value: str) -> str:
    return yaml.safe_dump(value, default_style='"', allow_unicode=False, width=10**9).strip().removesuffix("\n...")


@bounded(30)
@given(value=hostile_ids, where=st.sampled_from(ID_FIELDS))
@example(value="../../etc/passwd", where="goal.disclosure")  # was accepted before the fix
def test_loader_rejects_path_traversal_ids(value, where):
    q = _quoted(value)
    assert yaml.safe_load(q) == value
    if where.startswith("persona") or where == "disclosure.id":
        text = RANA_TEXT.replace("id: rana_haddad", "id: rana_evil")
        if where == "persona.id":
            text = text.replace("id: rana_evil", f"id: {q}", 1)
        elif where == "persona.scenario":
            text = text.replace("scenario: graffiti_bakery", f"scenario: {q}", 1)
        else:
            text = text.replace("id: rana_father_shop", f"id: {q}", 1)
    else:
        text = SCENARIO_TEXT.replace("id: graffiti_bakery", "id: evil_scenario")
        if where == "scenario.id":
            text = text.replace("id: evil_scenario", f"id: {q}", 1)
        elif where == "roster.persona":
            text = text.replace("persona: jayden_price", f"persona: {q}", 1)
        else:
            text = text.replace("disclosure: rana_father_shop", f"disclosure: {q}", 1)
    assert q in text
    safe = SAFE_ID.fullmatch(value.strip()) is not None
    with hostile_folder({"zz_evil.yml": text.encode("utf-8")}) as (folder, lib, _):
        errs = errors_of(lib, folder, "zz_evil.yml")
        if not safe:
            # Rejected by validation: the file with it does not load at all.
            assert errs, f"{where}={value!r} was accepted"
            assert not any(Path(f).name == "zz_evil.yml" for f in lib.files.values()), \
                f"{where}={value!r} was accepted: {[str(e) for e in errs]}"
        for key in list(lib.personas) + list(lib.scenarios):
            assert not re.search(r"[./\\\x00~:%]", key)


# ------------------------------------------------------------------------------------------------
# 3. A whole turn
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def turn_world(analyzer, tmp_path_factory):
    from rjcoach.persona_engine import EmbeddedPersona
    from rjcoach.store import Store

    lib = load_folder()
    assert not lib.errors, [str(e) for e in lib.errors]
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('fuzz_db') / 'db.sqlite3'}")
    uid = store.create_user("fuzz", "hash", "trainee")

    def agent(persona, scenario, seed):  # the embedded engine, whatever the environment says
        return EmbeddedPersona(persona, seed=seed)

    return {"lib": lib, "store": store, "uid": uid, "agent": agent, "analyzer": analyzer}


def _messages():
    """Mostly messages that should be sent; the rest of every kind that must be refused."""
    from rjcoach.session import MAX_MESSAGE_CHARS

    kinds = {
        "send": sendable_text,
        "any": hostile_text,
        "blank": st.text(alphabet=" \t\n\r\x0b\x0c\x1c\x1d\x85\u2028\u2029\u3000\xa0", max_size=8),
        "at_limit": repeated(MAX_MESSAGE_CHARS - 3, MAX_MESSAGE_CHARS + 3),
        "over": repeated(MAX_MESSAGE_CHARS + 1, MAX_TEXT_CHARS + 500),
        "not_str": non_strings,
        "surrogate": with_surrogate(sendable_text),
    }
    weights = ["send"] * 7 + ["any", "blank", "at_limit", "over", "not_str", "surrogate"]
    return st.sampled_from(weights).flatmap(lambda k: kinds[k])


@bounded(30)
@given(messages=st.lists(_messages(), min_size=1, max_size=6),
       who=st.sampled_from([("graffiti_bakery", "rana_haddad"), ("graffiti_bakery", "jayden_price")]),
       level=st.sampled_from(["coached", "light", "assessment"]), seed=st.integers(0, 2**31 - 1))
def test_a_whole_turn_with_any_message(turn_world, messages, who, level, seed):
    from rjcoach.session import INVISIBLE, MAX_MESSAGE_CHARS, MessageRejected, PracticeSession

    w = turn_world
    store = w["store"]
    s = PracticeSession.start(store, w["lib"], w["uid"], who[0], who[1], level, seed,
                              analyzer=w["analyzer"], agent=w["agent"])
    accepted: list[str] = []
    for msg in messages:
        broken = isinstance(msg, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in msg)
        should_reject = not isinstance(msg, str) or not msg.strip(INVISIBLE) or len(msg) > MAX_MESSAGE_CHARS or broken
        try:
            r = s.turn(msg)
        except MessageRejected as exc:
            assert should_reject, f"{msg!r} was rejected: {exc.hint}"
            assert exc.hint.strip()
            if not isinstance(msg, str) or not msg.strip(INVISIBLE):
                assert "empty" in exc.hint
            elif len(msg) > MAX_MESSAGE_CHARS:
                assert str(MAX_MESSAGE_CHARS) in exc.hint
            else:
                assert "broken characters" in exc.hint
        else:
            assert not should_reject, f"{msg!r} should have been rejected"
            accepted.append(msg)
            assert r.turn.trainee_text == msg
            assert r.analysis.text == msg
            assert r.reply.text.strip()
            for v in (r.reply.state.trust, r.reply.state.distress, r.reply.state.defensiveness):
                assert 0.0 <= v <= 1.0
            assert math.isfinite(r.reply.similarity)
        st_ = s.state
        assert all(0.0 <= v <= 1.0 for v in (st_.trust, st_.distress, st_.defensiveness)), st_
        stored = store.turns(s.id, include_rewound=True)
        assert [t.trainee_text for t in stored] == accepted  # nothing lost, nothing extra, exact text
    event(f"accepted {len(accepted)} of {len(messages)}")
    for t in store.turns(s.id):
        assert t.analysis["text"] == t.trainee_text
        assert set(t.analysis["labels"]) <= set(LABELS)
        assert all(0.0 <= t.persona["state"][k] <= 1.0 for k in ("trust", "distress", "defensiveness"))
    again = PracticeSession.resume(store, w["lib"], s.id, analyzer=w["analyzer"], agent=w["agent"])
    assert again.state == s.state
