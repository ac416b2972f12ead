"""Exports: JSON and CSV of reviewed sessions, the HTML report, and corrections as training data."""
import argparse
import csv
import json

import pytest

from rjcoach import export, review
from rjcoach.analysis import Analysis, Evidence, summarise_families
from rjcoach.auth import Principal
from rjcoach.dataset import load as load_utterances
from rjcoach.labels import LABELS
from rjcoach.sources import TARGETS, load_sources
from rjcoach.store import Store

HOSTILE = ['=HYPERLINK("http://x","y")', "@SUM(1)", "+1+1", "-2+3", "\tcmd", "\rcmd"]


def analysis(text, labels, context=None, evidence=()):
    """A stored analysis, exactly as the analyser's ``Analysis.to_dict()`` writes it."""
    labels = frozenset(labels)
    scores = {label: (0.91 if label in labels else 0.04) for label in LABELS}
    ev = tuple(Evidence(label, s, e, text[s:e], "rule:test") for label, s, e in evidence)
    return Analysis(text, context, labels, scores, ev, summarise_families(labels, scores)).to_dict()


def feedback(level="coached", tip="Try reflecting what you heard first."):
    return {"level": level, "labels_plain": [], "tip": {"kind": "balance", "text": tip, "quote": None},
            "rewrite": None, "show_labels": level == "coached", "metrics": {}}


def persona(emotion="neutral", trust=0.4):
    return {"emotion": emotion, "disclosure": None, "topic": "t", "variant": 0, "backend": "embedded",
            "state": {"trust": trust, "distress": 0.5, "defensiveness": 0.2}, "similarity": 0.5, "notice": None}


class World:
    """Two cohorts, an instructor for each, a trainee in each, an admin; sessions for both trainees."""

    def __init__(self, store: Store):
        self.store = store
        add = store.create_user
        self.admin = Principal(add("ada", "h", "admin"), "ada", "admin")
        self.ina = Principal(add("ina", "h", "instructor"), "ina", "instructor")
        self.ivo = Principal(add("ivo", "h", "instructor"), "ivo", "instructor")
        self.tam = Principal(add("tam", "h", "trainee"), "tam", "trainee")
        self.tia = Principal(add("tia", "h", "trainee"), "tia", "trainee")
        a, b = store.create_cohort("spring-a"), store.create_cohort("spring-b")
        for cohort, uid in ((a, self.ina.id), (a, self.tam.id), (b, self.ivo.id), (b, self.tia.id)):
            store.add_member(cohort, uid)
        # Tam: an app session with three messages, the second one rewound.
        self.tam_session = store.create_session(self.tam.id, "graffiti_bakery", "rana_haddad", "coached", 1)
        ctx = "I opened up and the whole front was covered."
        t1 = "So you felt scared, and you should get a camera."
        self.t1 = store.add_turn(self.tam_session, t1, analysis(t1, {"reflection", "advice"}, ctx, [("reflection", 0, 17)]),
                                 feedback(), "It was frightening, yes.", persona("afraid", 0.45))
        t2 = "Why did you not lock up?"
        self.t2 = store.add_turn(self.tam_session, t2, analysis(t2, {"open_question", "why_question", "victim_blaming"}),
                                 feedback(), "Are you blaming me?", persona("angry", 0.3))
        store.rewind_last(self.tam_session)
        t3 = "What has been the hardest part?"
        self.t3 = store.add_turn(self.tam_session, t3, analysis(t3, {"open_question"}, "It was frightening, yes."),
                                 feedback(), "Not feeling safe.", persona("sad", 0.5))
        # Tia: one session in the other cohort.
        self.tia_session = store.create_session(self.tia.id, "graffiti_bakery", "rana_haddad", "light", 2)
        t = "Tell me what happened."
        self.tia_turn = store.add_turn(self.tia_session, t, analysis(t, {"encourager"}), feedback("light"),
                                       "Someone sprayed my shop.", persona())


@pytest.fixture
def world(tmp_path):
    return World(Store(f"sqlite:///{tmp_path / 'db.sqlite3'}"))


def read_csv(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


# -- corrections round trip --------------------------------------------------------------------
def test_corrections_round_trip_into_the_training_loader(db_url, tmp_path, monkeypatch):
    w = World(Store(db_url))
    review.correct(w.store, w.ina, w.t1.id, "advice", "reject")
    review.correct(w.store, w.ina, w.t1.id, "emotion_label", "add")
    review.correct(w.store, w.ina, w.t2.id, "victim_blaming", "confirm")  # a rewound message counts too
    folder = tmp_path / "corrections"
    assert export.export_corrections(w.store, folder / "corrections.jsonl") == 2

    lines = [json.loads(x) for x in (folder / "corrections.jsonl").read_text(encoding="utf-8").splitlines()]
    first = lines[0]
    assert first["id"] == f"corr-{w.t1.id}" and first["text"] == w.t1.trainee_text
    assert first["context"] == "I opened up and the whole front was covered."
    assert first["labels"] == ["emotion_label", "reflection"]
    assert (first["setting"], first["speaker"]) == ("other", "none") and "split" not in first
    assert w.tam_session in first["note"] and "reviewed" in first["note"]
    assert len(load_utterances([folder / "corrections.jsonl"])) == 2  # the dataset checker accepts it

    monkeypatch.setenv("RJCOACH_CORRECTIONS_DIR", str(folder))
    examples = load_sources(("corrections",), public=tmp_path / "no-public-data")
    assert {e.source for e in examples} == {"corrections"}
    ex = next(e for e in examples if e.text == w.t1.trainee_text)
    assert set(ex.targets) == set(TARGETS[:17])  # fully reviewed: all 17 labels are known
    assert ex.targets["advice"] == 0 and ex.targets["emotion_label"] == 1 and ex.targets["reflection"] == 1
    assert ex.split in ("train", "validation", "test")


def test_corrections_leave_out_lines_training_would_refuse(world, tmp_path):
    s, ina = world.store, world.ina
    # The same words in two sessions, coded differently after review: the latest review wins.
    text = world.tia_turn.trainee_text
    again = s.add_turn(world.tam_session, text, analysis(text, {"encourager"}), feedback(), "Ok.", persona())
    review.correct(s, world.ivo, world.tia_turn.id, "open_question", "add")
    review.correct(s, ina, again.id, "advice", "add")
    # A reviewed set that breaks a rubric rule (a why question that is no longer a question).
    review.correct(s, ina, world.t2.id, "open_question", "reject")
    skipped = []
    assert export.export_corrections(s, tmp_path / "c.jsonl", log=skipped.append) == 1
    kept = json.loads((tmp_path / "c.jsonl").read_text(encoding="utf-8"))
    assert kept["id"] == f"corr-{again.id}" and kept["labels"] == ["advice", "encourager"]
    assert any(f"corr-{world.tia_turn.id}" in m and "coded differently" in m for m in skipped)
    assert any(f"corr-{world.t2.id}" in m and "rubric" in m for m in skipped)
    load_utterances([tmp_path / "c.jsonl"])


def test_no_corrections_writes_an_empty_file(world, tmp_path):
    assert export.export_corrections(world.store, tmp_path / "c.jsonl") == 0
    assert (tmp_path / "c.jsonl").read_text() == ""


# -- CSV ---------------------------------------------------------------------------------------
def test_csv_escapes_formula_cells_and_keeps_numbers(world, tmp_path):
    s = world.store
    sid = s.create_session(world.tam.id, "graffiti_bakery", "rana_haddad", "coached", 5)
    turns = [s.add_turn(sid, t, analysis(t, {"closed_question"}), feedback(), "-1 for you", persona()) for t in HOSTILE]
    review.correct(s, world.ina, turns[0].id, "closed_question", "reject")
    review.correct(s, world.ina, turns[0].id, "accusation", "add")
    review.correct(s, world.ina, turns[1].id, "closed_question", "confirm")
    review.comment(s, world.ina, sid, "=1+2 is not a formula here", turns[0].id)
    review.rate(s, world.ina, sid, 4, "@mention the trainee")
    counts = export.write_csv(tmp_path / "out", s, world.admin, [sid])
    assert counts == {"sessions.csv": 1, "turns.csv": 6, "flags.csv": 7, "corrections.csv": 3, "comments.csv": 1}

    rows = read_csv(tmp_path / "out" / "turns.csv")
    assert [r["trainee_text"] for r in rows] == ["'" + t for t in HOSTILE]
    assert {r["persona_text"] for r in rows} == {"'-1 for you"}
    assert rows[0]["position"] == "1" and rows[0]["rewound"] == "0" and rows[0]["trust"] == "0.4"
    assert rows[0]["model_labels"] == "closed_question" and rows[0]["reviewed_labels"] == "accusation"
    assert read_csv(tmp_path / "out" / "comments.csv")[0]["text"] == "'=1+2 is not a formula here"
    session = read_csv(tmp_path / "out" / "sessions.csv")[0]
    assert session["review_note"] == "'@mention the trainee" and session["rating"] == "4"
    assert session["cohorts"] == "spring-a" and session["utterances"] == "6"
    flags = read_csv(tmp_path / "out" / "flags.csv")
    first = {r["label"]: r for r in flags if r["turn_id"] == str(turns[0].id)}
    assert first["closed_question"]["status"] == "rejected" and first["closed_question"]["source"] == "model"
    assert first["accusation"]["status"] == "added" and first["accusation"]["source"] == "instructor"
    assert first["accusation"]["score"] == "0.04" and first["accusation"]["family"] == "accusatory"
    second = [r for r in flags if r["turn_id"] == str(turns[1].id)]
    assert [(r["label"], r["status"]) for r in second] == [("closed_question", "confirmed")]
    assert {r["status"] for r in flags if r["turn_id"] == str(turns[2].id)} == {"kept"}
    # No text cell anywhere starts with a character a spreadsheet would run.
    for name in counts:
        for row in read_csv(tmp_path / "out" / name):
            assert not any(v.startswith(export.FORMULA_START) for v in row.values()), (name, row)
    # Rows headed the way the documentation says.
    header = next(csv.reader(open(tmp_path / "out" / "flags.csv", encoding="utf-8")))
    assert tuple(header) == export.FLAG_COLUMNS


def test_safe_cell():
    assert export.safe_cell("=1") == "'=1" and export.safe_cell("ok =1") == "ok =1"
    assert export.safe_cell(-1.5) == -1.5 and export.safe_cell(None) is None and export.safe_cell(True) == 1
    assert export.safe_cell("") == ""


# -- JSON --------------------------------------------------------------------------------------
def test_json_has_the_schema_version_and_model_beside_reviewed_labels(world, tmp_path):
    s = world.store
    review.correct(s, world.ina, world.t1.id, "advice", "reject")
    review.correct(s, world.ina, world.t1.id, "emotion_label", "add")
    review.comment(s, world.ina, world.tam_session, "Good recovery after the rewind.")
    review.comment(s, world.ina, world.tam_session, "Name the feeling first.", world.t1.id)
    review.rate(s, world.ina, world.tam_session, 3, "Solid start.")
    n = export.write_json(tmp_path / "e.json", s, world.admin, [world.tam_session])
    doc = json.loads((tmp_path / "e.json").read_text(encoding="utf-8"))
    assert n == 1 and doc["schema"] == "rjcoach-export" and doc["schema_version"] == export.SCHEMA_VERSION == 1
    assert doc["exported_at"].endswith("+00:00")
    sess = doc["sessions"][0]
    assert (sess["trainee"], sess["cohorts"], sess["source"], sess["status"]) == ("tam", ["spring-a"], "app", "active")
    assert sess["review"] == {"rating": 3, "note": "Solid start.", "reviewer": "ina",
                              "updated_at": sess["review"]["updated_at"]}
    assert [c["text"] for c in sess["comments"]] == ["Good recovery after the rewind."]
    t1, t2, t3 = sess["turns"]
    assert t1["model_labels"] == ["reflection", "advice"]
    assert t1["reviewed_labels"] == ["reflection", "emotion_label"]
    assert [(c["label"], c["verdict"], c["reviewer"]) for c in t1["corrections"]] == [
        ("advice", "reject", "ina"), ("emotion_label", "add", "ina")]
    assert t1["comments"][0]["author"] == "ina" and t1["context"].startswith("I opened up")
    assert t1["scores"]["advice"] == 0.91 and t1["evidence"][0]["label"] == "reflection"
    assert t1["tip"]["text"].startswith("Try reflecting") and t1["persona_state"]["trust"] == 0.45
    assert t2["rewound"] is True and t3["position"] == 3
    m = sess["metrics"]  # reviewed labels of the two live messages
    assert (m["utterances"], m["reflections"], m["questions"], m["open_questions"]) == (2, 1, 1, 1)
    assert m["rq_ratio"] == 1.0 and m["accusatory_utterances"] == 0 and m["acknowledged_share"] == 0.0


def test_assessment_sessions_export_no_tip(world):
    s = world.store
    sid = s.create_session(world.tam.id, "graffiti_bakery", "rana_haddad", "assessment", 1)
    s.add_turn(sid, "Hello.", analysis("Hello.", set()), feedback("assessment"), "Hi.", persona())
    turn = export.export_json(s, world.tam, [sid])["sessions"][0]["turns"][0]
    assert turn["tip"] is None and turn["rewrite"] is None


# -- access ------------------------------------------------------------------------------------
def test_trainees_export_only_their_own_sessions(world, tmp_path):
    with pytest.raises(review.AccessDenied):
        export.export_json(world.store, world.tam, [world.tia_session])
    with pytest.raises(review.AccessDenied):  # one forbidden id spoils the whole request
        export.write_csv(tmp_path / "x", world.store, world.tam, [world.tam_session, world.tia_session])
    assert not (tmp_path / "x").exists()
    with pytest.raises(review.AccessDenied):
        export.export_json(world.store, world.tam, ["no-such-session"])
    with pytest.raises(review.AccessDenied):
        export.session_report_html(world.store, None, world.tam, world.tia_session)
    mine = export.export_json(world.store, world.tam)["sessions"]
    assert [x["id"] for x in mine] == [world.tam_session]


def test_instructors_export_only_their_cohorts(world, tmp_path):
    ids = [x["id"] for x in export.export_json(world.store, world.ina)["sessions"]]
    assert ids == [world.tam_session]
    counts = export.write_csv(tmp_path / "ivo", world.store, world.ivo)
    assert counts["sessions.csv"] == 1
    assert [r["trainee"] for r in read_csv(tmp_path / "ivo" / "sessions.csv")] == ["tia"]
    with pytest.raises(review.AccessDenied):
        export.export_json(world.store, world.ina, [world.tia_session])
    everyone = export.export_json(world.store, world.admin)["sessions"]
    assert {x["id"] for x in everyone} == {world.tam_session, world.tia_session}
    only_b = export.export_json(world.store, world.admin, cohort="spring-b")["sessions"]
    assert [x["trainee"] for x in only_b] == ["tia"]


# -- HTML report -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def library():
    from rjcoach.persona_loader import load_folder

    return load_folder()


def test_app_session_report_escapes_trainee_text_and_shows_the_review(world, library):
    s = world.store
    sid = s.create_session(world.tam.id, "graffiti_bakery", "rana_haddad", "coached", 1)
    bad = "<script>alert('x')</script> what happened?"
    t = s.add_turn(sid, bad, analysis(bad, {"open_question"}), feedback(), "<b>It</b> was awful.", persona("sad"))
    review.correct(s, world.ina, t.id, "sympathy", "add")
    review.comment(s, world.ina, sid, "<img src=x onerror=alert(1)> see turn 1", t.id)
    review.rate(s, world.ina, sid, 5, "<script>note</script>")
    page = export.session_report_html(s, library, world.tam, sid)
    assert "<script" not in page and "<img" not in page and "<b>It" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "Instructor review" in page and "5 of 5" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "sympathy added" in page and "Debrief" in page and page.rstrip().endswith("</html>")


def test_imported_session_gets_a_plain_report(world, library):
    s = world.store
    sid = s.import_session(world.tam.id, "recorded", "someone_real", "ref-1", "<i>role-play</i>.txt", [
        {"trainee_text": "<script>x</script>", "analysis": analysis("<script>x</script>", {"closed_question"}),
         "feedback": {"level": "imported"}, "persona_text": "Fine.", "persona": {"speaker": "<u>Sam</u>"}},
    ])
    review.correct(s, world.ina, s.turns(sid)[0].id, "closed_question", "reject")
    page = export.session_report_html(s, library, world.admin, sid)
    assert "<script" not in page and "<i>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "<u>" not in page and "&lt;u&gt;Sam&lt;/u&gt;" in page
    assert "Session report" in page and "removed closed question" in page and "Not rated yet" in page
    doc = export.export_json(s, world.admin, [sid])["sessions"][0]
    turn = doc["turns"][0]
    assert doc["source"] == "import" and turn["persona_state"] == {} and turn["tip"] is None
    assert turn["persona_speaker"] == "<u>Sam</u>"


# -- command line ------------------------------------------------------------------------------
def test_command_line_exports_as_admin(world, tmp_path, capsys):
    review.correct(world.store, world.ina, world.t1.id, "advice", "reject")
    parser = argparse.ArgumentParser(prog="rjcoach")
    export.register_cli(parser.add_subparsers(dest="command", required=True))
    url = world.store.url

    def run(*argv):
        args = parser.parse_args(list(argv))
        return args.func(args)

    assert run("export", "sessions", "--format", "json", "--out", str(tmp_path / "all.json"), "--database-url", url) == 0
    assert len(json.loads((tmp_path / "all.json").read_text())["sessions"]) == 2
    assert run("export", "sessions", "--format", "csv", "--out", str(tmp_path / "csv"), "--trainee", "tia",
               "--database-url", url) == 0
    assert [r["trainee"] for r in read_csv(tmp_path / "csv" / "sessions.csv")] == ["tia"]
    assert run("export", "sessions", "--format", "json", "--out", str(tmp_path / "x.json"), "--cohort", "nope",
               "--database-url", url) == 2
    assert run("export", "corrections", "--out", str(tmp_path / "c.jsonl"), "--database-url", url) == 0
    assert "wrote 1 reviewed messages" in capsys.readouterr().out
    assert run("export", "report", world.tam_session, "--out", str(tmp_path / "r.html"), "--database-url", url) == 0
    assert (tmp_path / "r.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    assert run("export", "report", "missing", "--out", str(tmp_path / "m.html"), "--database-url", url) == 2
