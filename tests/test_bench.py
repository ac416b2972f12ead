import pytest

from rjcoach.bench import run_bench

pytestmark = pytest.mark.slow


def test_bench_prints_figures_beside_the_reference():
    lines = []
    res = run_bench(n_single=10, n_batch=32, out=lines.append)
    text = "\n".join(lines)
    assert "RoBERTa-base" in text and "resident memory" in text
    for key in ("analyser_single_p50_ms", "roberta_single_p50_ms", "analyser_batch_utt_per_s", "rss_analyser_loaded_mb"):
        assert res[key] > 0


def test_turn_bench_prints_single_and_concurrent_figures():
    from rjcoach.bench import run_turn_bench

    lines = []
    res = run_turn_bench(sessions=2, turns=2, out=lines.append, think_ms=50)
    text = "\n".join(lines)
    assert "analyser share" in text and "p95" in text
    assert res["single"]["turns"] == 2 and res["concurrent"]["turns"] == 4 and res["paced"]["turns"] == 4
    assert 0 < res["concurrent"]["analyser_share"] <= 1
    assert res["group"]["turns"] == 2 and "conference (1 session)" in text
