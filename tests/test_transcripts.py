"""Importing transcripts recorded outside the app: parsing, batch analysis, resume, scale, review."""
import argparse
import json
import os
import time
from datetime import datetime, timezone

import pytest

from rjcoach import transcripts as tr
from rjcoach.analysis import MAX_CONTEXT_CHARS, MAX_TEXT_CHARS
from rjcoach.auth import Principal
from rjcoach.review import session_view
from rjcoach.store import Store
from rjcoach.transcripts import (
    TranscriptError,
    group_turns,
    import_key,
    import_transcripts,
    parse_jsonl,
    parse_text,
    parse_transcript,
)

GOOD_TEXT = """\
# Role-play 3, recorded in the training room
Officer: Thanks for agreeing to meet today.
Shop owner: I nearly didn't come.
It has been a rough month.
Officer: What has been the hardest part for you?
Shop owner: Opening up every morning and wondering.
Officer: That sounds exhausting.
"""


def _write(folder, name, content):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _jsonl(*rows):
    return "".join(json.dumps(r) + "\n" for r in rows)


def _aware(dt):
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


# -- parsing --------------------------------------------------------------------------------------
def test_plain_text_speakers_continuations_comments_and_blank_lines():
    text = "# header comment\n\nOfficer: Hello there.\nVictim: I was\n  really upset.\n\nOFFICER:   Go on.\n"
    us = parse_text(text)
    assert [(u.speaker, u.text, u.line) for u in us] == [
        ("Officer", "Hello there.", 3), ("Victim", "I was really upset.", 4), ("OFFICER", "Go on.", 7)]


def test_a_colon_inside_a_line_is_text_when_no_speaker_name_leads_it():
    us = parse_text("Officer: We met at 10:30 and the link was http://example.org/x\n"
                    "Young person: Fine.\nhttp://example.org/y\nMeeting at 10:30 then.\n")
    assert [u.speaker for u in us] == ["Officer", "Young person"]
    assert us[0].text.endswith("http://example.org/x")
    assert us[1].text == "Fine. http://example.org/y Meeting at 10:30 then."


def test_turns_take_context_from_before_and_persona_text_from_after():
    text = ("Victim: I want to know why.\nSupporter: So do I.\nOfficer: What would help most today?\n"
            "Victim: An apology.\nOfficer: Thank you.\nOfficer: Shall we take a break?\nVictim: Yes please.\n")
    turns = group_turns(parse_text(text))
    assert [t.trainee_text for t in turns] == ["What would help most today?", "Thank you.", "Shall we take a break?"]
    assert turns[0].context == "I want to know why. So do I."
    assert turns[0].persona_text == "An apology." and turns[0].persona_speaker == "Victim"
    # consecutive trainee lines are separate turns: nothing between them
    assert turns[1].context == "An apology." and turns[1].persona_text == "" and turns[1].persona_speaker == ""
    assert turns[2].context is None and turns[2].persona_text == "Yes please."
    assert [t.line for t in turns] == [3, 5, 6]


def test_several_other_speakers_after_a_turn_are_all_kept():
    turns = group_turns(parse_text("PC: Who would like to start?\nVictim: Me.\nMum: Then me.\n"))
    assert turns[0].persona_text == "Me. Then me." and turns[0].persona_speaker == "Victim, Mum"


def test_the_trainee_side_is_chosen_by_name_case_insensitively():
    us = parse_text("Sergeant Diaz: How are you?\nSam: Not great.\nsergeant diaz: I hear you.\n")
    turns = group_turns(us, ["Sergeant Diaz"])
    assert [t.trainee_text for t in turns] == ["How are you?", "I hear you."]
    assert turns[1].context == "Not great."
    with pytest.raises(TranscriptError) as err:
        group_turns(us, path="x.txt")
    msg = str(err.value)
    assert "no trainee lines" in msg and "'Sergeant Diaz'" in msg and "'Sam'" in msg and "--trainee-speaker" in msg


def test_context_keeps_only_the_last_characters():
    long_story = "word " * 1000
    turns = group_turns(parse_text(f"Victim: {long_story}\nVictim: The end.\nOfficer: I see.\n"))
    assert len(turns[0].context) <= MAX_CONTEXT_CHARS and turns[0].context.endswith("The end.")


def test_jsonl_with_meta_and_utterances():
    text = _jsonl({"meta": {"trainee": "kim", "scenario": "bike_theft", "recorded": "2025-02-03", "title": "Take 2"}},
                  {"speaker": "Officer", "text": "Can you tell me what happened?"},
                  {"speaker": "Owner", "text": "Someone took my bike."}) + "\n"
    t = parse_transcript(text.encode(), "a.jsonl")
    assert t.meta["trainee"] == "kim" and t.meta["scenario"] == "bike_theft" and t.meta["title"] == "Take 2"
    assert datetime.fromisoformat(t.meta["recorded"]) == datetime(2025, 2, 3, tzinfo=timezone.utc)
    assert [(x.trainee_text, x.context, x.persona_text) for x in t.turns] == [
        ("Can you tell me what happened?", None, "Someone took my bike.")]
    assert t.speakers == ("Officer", "Owner")


def test_format_follows_the_name_then_the_content():
    rows = _jsonl({"speaker": "trainee", "text": "Hi."})
    assert parse_transcript(rows.encode(), "notes.log").turns[0].trainee_text == "Hi."
    assert parse_transcript(b"Trainee: Hi.\n", "notes").turns[0].trainee_text == "Hi."


@pytest.mark.parametrize("content, line, words", [
    (_jsonl({"speaker": "Officer", "text": "Hi"}) + '{"speaker": "Officer", "text": oops}\n', 2, "invalid JSON"),
    (_jsonl({"speaker": "Officer", "text": "Hi"}, {"meta": {"trainee": "x"}}), 2, "only on the first line"),
    (_jsonl({"meta": {"trainee": "x", "colour": "red"}}), 1, "unknown meta key(s) colour"),
    (_jsonl({"meta": {"recorded": "last Tuesday"}}), 1, "not an ISO date"),
    (_jsonl({"speaker": "Officer"}), 1, '"text" must be a string'),
    (_jsonl(["Officer", "Hi"]), 1, "expected an object"),
    ("\n\nWe sat down at noon.\nOfficer: Hello.\n", 3, "text before the first"),
    ("Officer: Hi.\nVictim: " + "x" * 50 + "\nOfficer: " + "y" * (MAX_TEXT_CHARS + 1) + "\n", 3, str(MAX_TEXT_CHARS)),
])
def test_parse_errors_name_the_line_and_the_problem(content, line, words):
    name = "t.jsonl" if content.lstrip().startswith(("{", "[")) else "t.txt"
    with pytest.raises(TranscriptError) as err:
        parse_transcript(content.encode(), name)
    assert err.value.line == line and words in err.value.problem
    assert str(err.value).startswith(f"{name}:{line}: ")


def test_not_utf8_is_reported_with_its_line():
    with pytest.raises(TranscriptError) as err:
        parse_transcript("Officer: Hello.\nVictim: Caf\u00e9.\n".encode("latin-1"), "old.txt")
    assert err.value.line == 2 and "not UTF-8" in err.value.problem


def test_size_and_turn_limits_are_named():
    with pytest.raises(TranscriptError, match="MAX_FILE_BYTES"):
        parse_transcript(b"Officer: x\n" * (tr.MAX_FILE_BYTES // 11 + 1), "big.txt")
    with pytest.raises(TranscriptError, match=f"more than {tr.MAX_TURNS} .*MAX_TURNS"):
        parse_transcript(b"Officer: ok\n" * (tr.MAX_TURNS + 1), "long.txt")


def test_a_utf8_byte_order_mark_and_windows_line_ends_are_fine():
    t = parse_transcript(b"\xef\xbb\xbfOfficer: Hello.\r\nVictim: Hi.\r\n", "w.txt")
    assert (t.turns[0].trainee_text, t.turns[0].persona_text) == ("Hello.", "Hi.")


# -- importing --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def analyzer():
    from rjcoach.analyzer import get_analyzer

    return get_analyzer()


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    s.create_user("ana", "hash", "trainee")
    return s


@pytest.mark.slow
def test_a_folder_of_good_and_broken_files(db_url, tmp_path, analyzer):
    store = Store(db_url)
    ana = store.create_user("ana", "hash", "trainee")
    kim = store.create_user("kim", "hash", "trainee")
    src = tmp_path / "in"
    good_txt = _write(src, "a_role_play.txt", GOOD_TEXT)
    good_jsonl = _write(src, "sub/b_conference.jsonl", _jsonl(
        {"meta": {"trainee": "kim", "scenario": "bike_theft", "persona": "owner", "recorded": "2025-02-03T10:00:00Z"}},
        {"speaker": "Owner", "text": "I just want my bike back."},
        {"speaker": "Facilitator", "text": "It sounds like the bike matters a lot to you."},
        {"speaker": "Owner", "text": "It was my dad's."}))
    os.utime(good_txt, (1_700_000_000, 1_700_000_000))
    broken = {
        _write(src, "c_latin1.txt", "Officer: Hello.\nVictim: Caf\u00e9 owner.\n".encode("latin-1")): "line 2: not UTF-8",
        _write(src, "d_nobody.txt", "Victim: Hello?\nMum: Anyone?\n"): "no trainee lines found",
        _write(src, "e_bad.jsonl", '{"speaker": "Officer", "text": "Hi"}\n{"speaker": \n'): "line 2: invalid JSON",
        _write(src, "f_long.txt", "Victim: Go on.\nOfficer: " + "so " * MAX_TEXT_CHARS + "\n"): f"line 2: trainee utterance is {3 * MAX_TEXT_CHARS - 1} characters; the limit is {MAX_TEXT_CHARS}",
        _write(src, "g_ghost.jsonl", _jsonl({"meta": {"trainee": "nobody"}}, {"speaker": "pc", "text": "Hi"})): "'nobody' has no account",
    }
    _write(src, "notes.md", "Officer: not a transcript extension, not picked up")
    _write(src, ".hidden/h.txt", "Officer: hidden folders are skipped")

    report = import_transcripts(store, [src], "ana", analyzer=analyzer)

    assert [p for p, _ in report.imported] == [good_txt, good_jsonl]
    assert report.skipped == []
    assert [p for p, _ in report.failed] == list(broken)
    for (path, reason), expected in zip(report.failed, broken.values()):
        assert expected in reason, (path, reason)
    assert report.summary().startswith("7 files: 2 imported (4 trainee turns), 0 already imported, 5 failed")

    sid = dict(report.imported)[good_txt]
    row = store.session(sid)
    assert (row.user_id, row.source, row.status, row.level, row.title) == (ana, "import", "ended", "imported", "a_role_play.txt")
    assert (row.scenario_id, row.persona_id) == ("imported", "imported")
    assert row.external_ref == import_key(good_txt.read_bytes())
    assert _aware(row.created_at) == datetime.fromtimestamp(1_700_000_000, timezone.utc)
    turns = store.turns(sid)
    assert [t.trainee_text for t in turns] == ["Thanks for agreeing to meet today.", "What has been the hardest part for you?",
                                               "That sounds exhausting."]
    assert [t.persona_text for t in turns] == ["I nearly didn't come. It has been a rough month.",
                                               "Opening up every morning and wondering.", ""]
    assert [t.persona for t in turns] == [{"speaker": "Shop owner"}, {"speaker": "Shop owner"}, {"speaker": ""}]
    assert [t.analysis["context"] for t in turns] == [None, "I nearly didn't come. It has been a rough month.",
                                                      "Opening up every morning and wondering."]
    assert all(t.feedback == {"level": "imported"} for t in turns)
    assert "open_question" in turns[1].analysis["labels"]
    assert turns[1].analysis == analyzer.analyze(turns[1].trainee_text, turns[1].analysis["context"]).to_dict()

    other = store.session(dict(report.imported)[good_jsonl])
    assert (other.user_id, other.scenario_id, other.persona_id) == (kim, "bike_theft", "owner")
    assert _aware(other.created_at) == datetime(2025, 2, 3, 10, tzinfo=timezone.utc)
    (turn,) = store.turns(other.id)
    assert turn.analysis["context"] == "I just want my bike back." and turn.persona_text == "It was my dad's."


@pytest.mark.slow
def test_rerun_imports_only_new_files_and_never_duplicates(store, tmp_path, analyzer):
    src = tmp_path / "in"
    first = [_write(src, f"s{i}.txt", f"Officer: First batch, number {i}?\nVictim: Reply {i}.\n") for i in range(3)]
    r1 = import_transcripts(store, [src], "ana", analyzer=analyzer)
    assert [p for p, _ in r1.imported] == first
    new = [_write(src, f"t{i}.txt", f"Officer: Second batch, number {i}?\nVictim: Reply {i}.\n") for i in range(2)]
    copy = _write(tmp_path / "elsewhere", "renamed.txt", first[0].read_text())  # same bytes, other name

    r2 = import_transcripts(store, [src, copy, new[0]], "ana", analyzer=analyzer)

    assert [p for p, _ in r2.imported] == new
    assert sorted(r2.skipped) == sorted([*r1.imported, (copy, dict(r1.imported)[first[0]])])
    assert r2.failed == [] and "2 imported" in r2.summary() and "4 already imported" in r2.summary()
    sessions = store.all_sessions()
    assert len(sessions) == 5 and len({s.external_ref for s in sessions}) == 5
    assert all(len(store.turns(s.id)) == 1 for s in sessions)


@pytest.mark.slow
def test_identical_files_in_one_run_are_stored_once(store, tmp_path, analyzer):
    a = _write(tmp_path, "a.txt", GOOD_TEXT)
    b = _write(tmp_path, "b.txt", GOOD_TEXT)
    report = import_transcripts(store, [a, b], "ana", analyzer=analyzer)
    (path, sid), = report.imported
    assert path == a and report.skipped == [(b, sid)]
    assert len(store.all_sessions()) == 1


class _FailsOnCall:
    """The real analyser, which raises on its n-th batch: a run stopped partway."""

    def __init__(self, real, n):
        self.real, self.n, self.calls = real, n, 0

    def analyze_many(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.n:
            raise RuntimeError("simulated crash")
        return self.real.analyze_many(*args, **kwargs)


@pytest.mark.slow
def test_an_interrupted_run_leaves_whole_files_and_the_rerun_finishes(store, tmp_path, analyzer):
    src = tmp_path / "in"
    files = [_write(src, f"f{i}.txt", f"Officer: How are you, {i}?\nVictim: Tired.\nOfficer: Tell me more.\n")
             for i in range(6)]
    with pytest.raises(RuntimeError, match="simulated crash"):
        import_transcripts(store, [src], "ana", analyzer=_FailsOnCall(analyzer, 2), files_per_batch=2)
    done = store.all_sessions()
    assert len(done) == 2 and all(len(store.turns(s.id)) == 2 for s in done)  # whole files only

    report = import_transcripts(store, [src], "ana", analyzer=analyzer, files_per_batch=2)
    assert [p for p, _ in report.imported] == files[2:] and [p for p, _ in report.skipped] == files[:2]
    assert len(store.all_sessions()) == 6


@pytest.mark.slow
def test_an_unknown_trainee_stops_before_any_work(store, tmp_path):
    f = _write(tmp_path, "a.txt", GOOD_TEXT)
    with pytest.raises(ValueError, match="'ghost'"):
        import_transcripts(store, [f], "ghost", analyzer=None)
    assert store.all_sessions() == []


def test_files_over_the_size_limit_are_reported_unread(store, tmp_path):
    big = _write(tmp_path, "big.txt", b"Officer: " + b"x" * tr.MAX_FILE_BYTES)
    report = import_transcripts(store, [big], "ana", analyzer=None)
    assert report.failed == [(big, f"file is {tr.MAX_FILE_BYTES + 9:,} bytes; the limit is {tr.MAX_FILE_BYTES:,} (MAX_FILE_BYTES)")]


def test_a_missing_path_is_reported(store, tmp_path):
    report = import_transcripts(store, [tmp_path / "nope"], "ana", analyzer=None)
    assert report.failed == [(tmp_path / "nope", "no such file or folder")]


@pytest.mark.slow
def test_imported_turns_are_reviewable(store, tmp_path, analyzer):
    admin = Principal(store.create_user("boss", "hash", "admin"), "boss", "admin")
    report = import_transcripts(store, [_write(tmp_path, "r.txt", GOOD_TEXT)], "ana", analyzer=analyzer)
    view = session_view(store, admin, report.imported[0][1])
    assert view.trainee == "ana" and view.row.source == "import"
    assert [t.turn.trainee_text for t in view.turns][1] == "What has been the hardest part for you?"
    assert "open_question" in view.turns[1].labels
    assert view.metrics.utterances == 3


@pytest.mark.slow
def test_a_thousand_small_files_in_bounded_time(store, tmp_path, analyzer, capsys):
    src = tmp_path / "many"
    for i in range(1000):
        _write(src, f"group{i % 10}/t{i:04d}.txt", f"Resident: Paint on my door again, week {i}.\nOfficer: How has that been?\n")
    t0 = time.monotonic()
    report = import_transcripts(store, [src], "ana", analyzer=analyzer, progress=True)
    took = time.monotonic() - t0
    assert len(report.imported) == 1000 and report.failed == [] and report.turns == 1000
    assert took < 60, f"1,000 files took {took:.1f} s"
    assert "1000/1000" in capsys.readouterr().err  # the progress bar ran to the end
    again = import_transcripts(store, [src], "ana", analyzer=analyzer)
    assert len(again.skipped) == 1000 and again.imported == []


# -- command line -----------------------------------------------------------------------------------
def _cli(argv):
    parser = argparse.ArgumentParser(prog="rjcoach")
    sub = parser.add_subparsers(dest="command", required=True)
    review = sub.add_parser("review").add_subparsers(dest="review_command", required=True)
    tr.register_cli(review)
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.mark.slow
def test_the_command_line_exit_codes(tmp_path, capsys, analyzer):
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    Store(url).create_user("ana", "hash", "trainee")
    good = _write(tmp_path / "in", "good.txt", "Constable: What happened?\nOwner: They ran off.\n")
    base = ["review", "import", "--trainee", "ana", "--database-url", url, "--no-progress"]

    assert _cli([*base, str(good)]) == 0
    out, err = capsys.readouterr()
    assert "1 file: 1 imported" in out and err.startswith("note: ana is in no cohort")

    bad = _write(tmp_path / "in", "bad.txt", "Sergeant: Hello.\nOwner: Hi.\n")
    assert _cli([*base, str(tmp_path / "in")]) == 1
    out, err = capsys.readouterr()
    assert "1 already imported, 1 failed" in out and f"{bad}: no trainee lines found" in err

    assert _cli([*base, "--trainee-speaker", "sergeant", "--trainee-speaker", "CONSTABLE", str(bad)]) == 0
    assert "1 imported" in capsys.readouterr().out

    assert _cli([*base[:3], "ghost", *base[4:], str(good)]) == 2
    assert "'ghost' has no account" in capsys.readouterr().err
