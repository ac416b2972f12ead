import json
from collections import Counter

import pytest

from rjcoach.dataset import Utterance, load, read_file, rubric_problems
from rjcoach.labels import LABELS
from rjcoach.sources import INDOMAIN_DIR, split_for_text

FILES = sorted(INDOMAIN_DIR.glob("*.jsonl"))


def write(tmp_path, rows, name="x.jsonl"):
    p = tmp_path / name
    p.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return p


def test_shipped_data_files_exist():
    assert FILES, f"no labelled utterance files in {INDOMAIN_DIR}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_each_shipped_file_validates(path):
    items, errors, _ = read_file(path)
    assert not errors, "\n".join(errors[:20])
    assert items


def test_shipped_data_meets_the_size_and_label_minimums():
    items = load(FILES)  # also checks ids, duplicates and consistent coding across files
    assert len(items) >= 3000
    counts = Counter(label for u in items for label in u.labels)
    short = {label: counts[label] for label in LABELS if counts[label] < 100}
    assert not short, f"labels under 100 positives: {short}"
    assert sum(1 for u in items if not u.labels) >= 150, "needs unlabelled procedural talk"
    assert sum(1 for u in items if u.context) / len(items) > 0.5


def test_split_is_fixed_and_stored():
    items = load(FILES)
    assert all(u.split == split_for_text(u.text) for u in items)
    share = Counter(u.split for u in items)
    assert 0.10 < share["test"] / len(items) < 0.20
    assert 0.10 < share["validation"] / len(items) < 0.20


def test_rubric_rules_are_errors(tmp_path):
    p = write(tmp_path, [
        {"id": "a", "text": "So far: the fence, the car, the sleep.", "context": "x", "labels": ["summary"]},
        {"id": "b", "text": "Why did you take it?", "labels": ["why_question"]},
        {"id": "c", "text": "What would help put it right?", "labels": ["restorative_question"]},
        {"id": "d", "text": "You sound scared.", "context": "x", "labels": ["emotion_label"]},
    ])
    _, errors, _ = read_file(p)
    assert len(errors) == 4
    assert all(str(p) in e for e in errors)
    assert any("rule 2" in e for e in errors) and any("rule 7" in e for e in errors)


def test_bad_lines_name_file_line_and_field(tmp_path):
    p = write(tmp_path, [
        {"id": "a", "text": "ok", "labels": ["empathy"]},
        "{not json",
        {"id": "c", "labels": []},
        {"id": "d", "text": "hi", "labels": [], "colour": "red"},
    ])
    _, errors, _ = read_file(p)
    assert any(f"{p}:1" in e and "unknown label" in e for e in errors)
    assert any(f"{p}:2" in e and "not valid JSON" in e for e in errors)
    assert any(f"{p}:3" in e and "field text" in e for e in errors)
    assert any(f"{p}:4" in e and "colour" in e for e in errors)


def test_inconsistent_coding_across_files_is_an_error(tmp_path):
    a = write(tmp_path, [{"id": "a", "text": "Go on.", "labels": ["encourager"]}], "a.jsonl")
    b = write(tmp_path, [{"id": "b", "text": "go on.", "labels": []}], "b.jsonl")
    with pytest.raises(ValueError, match="coded differently"):
        load([a, b])


def test_question_mark_without_question_label_is_a_warning():
    u = Utterance(id="w", text="Well, what did you think would happen?", labels=["accusation"])
    errors, warnings = rubric_problems(u)
    assert not errors and warnings
