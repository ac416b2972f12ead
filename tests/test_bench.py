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
    res = run_turn_bench(sessions=2, turns=2, out=lines.append, think_ms=50, runs=2)
    text = "\n".join(lines)
    assert "analyser share" in text and "p95" in text
    assert res["single"]["turns"] == 2 and res["concurrent"]["turns"] == 8 and res["paced"]["turns"] == 8
    for mode in ("concurrent", "paced"):  # each run's p95 is reported; the goal reads their median
        runs = res[mode]["p95_runs_ms"]
        assert len(runs) == 2 and min(runs) <= res[mode]["p95_ms"] <= max(runs)
        assert f"each run: {runs[0]:.1f}, {runs[1]:.1f}" in text
    assert 0 < res["concurrent"]["analyser_share"] <= 1
    assert res["group"]["turns"] == 2 and "conference (1 session)" in text


def test_each_bench_session_words_the_script_its_own_way():
    from rjcoach.bench import TURN_SCRIPT, session_script

    scripts = [session_script(k, len(TURN_SCRIPT)) for k in range(50)]
    assert scripts[0] == TURN_SCRIPT
    lines = [line for script in scripts for line in script]
    assert len(set(lines)) == len(lines)  # no cache can answer one session with another's work
    for script in scripts:  # still one sentence each, in the script's order
        for line, original in zip(script, TURN_SCRIPT):
            assert line[0].isupper() and line.lower().endswith(original.lower()[1:])
            assert line.count(".") + line.count("?") == original.count(".") + original.count("?")
