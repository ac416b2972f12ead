import json
import subprocess
import sys
from pathlib import Path

import pytest

from rjcoach.evaluation import binary_scores, label_report, read_eval_file

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_eval.jsonl"


def test_binary_scores_by_hand():
    s = binary_scores([True, True, False, False], [True, False, True, False])
    assert (s.precision, s.recall, s.f1, s.support, s.predicted) == (0.5, 0.5, 0.5, 2, 2)
    none = binary_scores([False], [False])
    assert none.f1 == 0.0


def test_label_report_by_hand():
    gold = [frozenset({"open_question", "why_question"}), frozenset({"encourager"}), frozenset()]
    pred = [frozenset({"open_question"}), frozenset({"encourager", "threat"}), frozenset()]
    r = label_report(gold, pred)
    assert r["labels"]["open_question"]["f1"] == 1.0
    assert r["labels"]["why_question"]["recall"] == 0.0
    assert r["labels"]["threat"]["precision"] == 0.0
    # any accusatory: gold [T, F, F], pred [F, T, F] -> tp 0
    assert r["any_accusatory"]["f1"] == 0.0
    assert r["macro_f1"] == pytest.approx((1.0 + 1.0) / 17)
    assert r["exact_match"] == pytest.approx(1 / 3)


def test_read_eval_file_errors_name_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"text": "a", "labels": ["nope"]}\n{"labels": []}\n[1]\n')
    with pytest.raises(ValueError) as err:
        read_eval_file(p)
    msg = str(err.value)
    assert f"{p}:1" in msg and "nope" in msg and f"{p}:2" in msg and f"{p}:3" in msg


@pytest.mark.slow
def test_evaluate_command_on_tiny_fixture():
    out = subprocess.run(
        [sys.executable, "-m", "rjcoach", "evaluate", str(FIXTURE), "--json"],
        capture_output=True, text=True, timeout=300, check=True,
    )
    report = json.loads(out.stdout)
    assert report["n"] == 5
    assert set(report["labels"]) >= {"open_question", "advice"}
    assert 0.0 <= report["macro_f1"] <= 1.0
    assert report["labels"]["why_question"]["support"] == 1
    text = subprocess.run(
        [sys.executable, "-m", "rjcoach", "evaluate", str(FIXTURE)],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout
    assert "macro-F1" in text and "why_question" in text


def test_evaluate_command_refuses_bad_file(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"text": 1}\n')
    out = subprocess.run([sys.executable, "-m", "rjcoach", "evaluate", str(p)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and f"{p}:1" in out.stderr


def test_model_card_quotes_the_measured_metrics():
    """The card's metrics block is exactly what `rjcoach evaluate --suite --write` rendered."""
    from rjcoach.evaluation import CARD_END, CARD_START, metrics_markdown
    from rjcoach.model import model_dir_from_env

    metrics = model_dir_from_env() / "metrics.json"
    card = model_dir_from_env().parent / "MODEL_CARD.md"
    text = card.read_text()
    block = CARD_START + text.split(CARD_START, 1)[1].split(CARD_END, 1)[0] + CARD_END
    assert block == metrics_markdown(json.loads(metrics.read_text()))


def test_metrics_markdown_renders_every_label():
    from rjcoach.evaluation import metrics_markdown

    report = label_report([frozenset({"advice"})], [frozenset({"advice"})])
    text = metrics_markdown({"generated": "2026-01-01", "limit": None, "indomain_test": report})
    assert "`advice` | 1.000" in text and "macro-F1" in text
