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


def test_fit_logistic_learns_a_separable_rule():
    import numpy as np

    from rjcoach.evaluation import fit_logistic

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 5)) * [1, 100, 1, 1, 0.01]  # scales differ: features are standardised
    y = x[:, 1] + 50 * x[:, 2] > 0
    predict = fit_logistic(x, y)
    p = predict(x)
    assert p.shape == (400,) and ((p >= 0.5) == y).mean() > 0.95
    assert ((predict(-x) >= 0.5) == y).mean() < 0.05  # the sign of the rule, not a constant


@pytest.mark.slow
def test_esconv_ceiling_reports_both_bounds_beside_the_suite(tmp_path):
    """The ceiling probe's "shipped" column is the suite's ESConv figure on the same turns, and
    its question-mark bound is F1 of "has a ?" computed here by hand."""
    from rjcoach.analyzer import get_analyzer
    from rjcoach.evaluation import ESCONV_GOLD, esconv_ceiling, evaluate_suite
    from rjcoach.sources import PUBLIC_DIR, load_esconv_turns, public_tuning_half

    if not (PUBLIC_DIR / "esconv").is_dir():
        pytest.skip("../shared/data/public/esconv is not beside the repository")
    analyzer = get_analyzer()
    report = esconv_ceiling(analyzer, limit=120)
    suite = evaluate_suite(analyzer, limit=120)["esconv_validation"]
    reported = report["reported"]
    assert report["train_turns"] == 120 and reported["n"] == suite["n"] == 120
    for task, row in reported["tasks"].items():
        assert row["shipped"] == pytest.approx(suite["tasks"][task]["f1"], abs=1e-4)
        assert 0.0 <= row["fitted_head"] <= 1.0 and 0.05 <= row["fitted_threshold"] <= 0.95
    turns = [t for t in load_esconv_turns() if t.split == "validation" and not public_tuning_half(t.group)][:120]
    gold = [t.strategy in ESCONV_GOLD["question"] for t in turns]
    marked = ["?" in t.text for t in turns]
    tp = sum(g and m for g, m in zip(gold, marked))
    assert reported["tasks"]["question"]["question_mark"] == pytest.approx(2 * tp / (sum(gold) + sum(marked)))
    assert report["tuning"]["n"] == 120
    assert reported["shipped_mean"] == pytest.approx(suite["mean_f1"], abs=1e-4)


def test_esconv_ceiling_command_prints_the_table():
    from rjcoach.sources import PUBLIC_DIR

    if not (PUBLIC_DIR / "esconv").is_dir():
        pytest.skip("../shared/data/public/esconv is not beside the repository")
    out = subprocess.run(
        [sys.executable, "-m", "rjcoach", "evaluate", "--esconv-ceiling", "--limit", "60"],
        capture_output=True, text=True, timeout=600, check=True,
    ).stdout
    assert "reported half" in out and "tuning half" in out
    assert all(task in out for task in ("question", "reflection", "emotion_label", "advice", "mean"))
