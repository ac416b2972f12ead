"""Micro-batching: every caller gets its own result, concurrent callers share batches, errors reach
everyone waiting, several workers overlap, and the real analyser behind it stays correct."""
import threading
import time

import pytest

from rjcoach.batching import BatchingAnalyzer, MicroBatcher


def _run_threads(fn, items, timeout=60):
    results, errors = {}, {}

    def work(i, item):
        try:
            results[i] = fn(item)
        except Exception as exc:  # recorded for the assertion
            errors[i] = exc

    threads = [threading.Thread(target=work, args=(i, item)) for i, item in enumerate(items)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a caller never got its result"
    return results, errors


def test_each_caller_gets_its_own_result_and_concurrent_callers_share_batches():
    sizes = []

    def run_many(items):
        sizes.append(len(items))
        time.sleep(0.02)  # while a batch computes, the others queue up
        return [x * 10 for x in items]

    batcher = MicroBatcher(run_many, window_ms=5)
    results, errors = _run_threads(batcher, list(range(24)))
    assert not errors
    assert results == {i: i * 10 for i in range(24)}
    assert sum(sizes) == 24
    assert len(sizes) < 24 and max(sizes) > 1  # batched, not one call per item


def test_max_batch_is_respected():
    sizes = []

    def run_many(items):
        sizes.append(len(items))
        time.sleep(0.01)
        return items

    batcher = MicroBatcher(run_many, window_ms=20, max_batch=4)
    results, _ = _run_threads(batcher, list(range(17)))
    assert results == {i: i for i in range(17)}
    assert max(sizes) <= 4


def test_an_error_reaches_every_caller_in_the_batch_and_the_batcher_keeps_working():
    fail = threading.Event()
    fail.set()

    def run_many(items):
        time.sleep(0.02)
        if fail.is_set():
            raise RuntimeError("model failed")
        return items

    batcher = MicroBatcher(run_many, window_ms=10)
    _, errors = _run_threads(batcher, list(range(6)))
    assert len(errors) == 6 and all("model failed" in str(e) for e in errors.values())
    fail.clear()
    assert batcher("again") == "again"


def test_submit_returns_at_once_with_a_future():
    release = threading.Event()

    def run_many(items):
        release.wait(5)
        return [x + 1 for x in items]

    batcher = MicroBatcher(run_many, window_ms=0)
    fut = batcher.submit(1)
    assert not fut.done()
    release.set()
    assert fut.result(timeout=5) == 2


def test_two_workers_run_two_batches_at_once():
    both = threading.Barrier(2, timeout=5)  # passes only if two batches are in run_many together

    def run_many(items):
        both.wait()
        return items

    batcher = MicroBatcher(run_many, window_ms=0, max_batch=1, workers=2)
    results, errors = _run_threads(batcher, [1, 2])
    assert not errors and results == {0: 1, 1: 2}


def test_one_worker_runs_one_batch_at_a_time():
    running, most = [0], [0]
    lock = threading.Lock()

    def run_many(items):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.01)
        with lock:
            running[0] -= 1
        return items

    batcher = MicroBatcher(run_many, window_ms=0, max_batch=1, workers=1)
    _run_threads(batcher, list(range(8)))
    assert most[0] == 1


def test_workers_must_be_positive():
    with pytest.raises(ValueError, match="workers must be at least 1, got 0"):
        MicroBatcher(lambda items: items, workers=0)


# -- the real analyser behind it ------------------------------------------------------------------
LINES = [
    ("Can you tell me what happened that night?", "I don't really want to talk about it."),
    ("That sounds really frightening.", "I haven't slept properly since."),
    ("Why would you do something so stupid?", "I was just with my mates."),
    ("So the worst part is not knowing if they'll come back.", "Every noise at night, I'm up."),
    ("Who else has been affected by this?", None),
    ("You should have locked the door.", "They came in through the back."),
    ("What do you think needs to happen to put this right?", "I want him to fix the window."),
    ("Did you go back to the shop afterwards?", "Yeah, the next day."),
]


@pytest.fixture(scope="module")
def analyzer():
    from rjcoach.analyzer import get_analyzer

    return get_analyzer()


def test_bad_input_fails_in_the_callers_thread(analyzer):
    batched = BatchingAnalyzer(analyzer)
    with pytest.raises(TypeError):
        batched.analyze(42)
    with pytest.raises(TypeError):
        batched.analyze("fine", context=["not", "a", "string"])


def test_many_threads_through_two_workers_each_get_their_own_analysis(analyzer):
    from rjcoach.labels import LABELS

    alone = {t: analyzer.analyze(t, c) for t, c in LINES}
    batched = BatchingAnalyzer(analyzer, workers=2)
    items = LINES * 4  # 32 callers at once
    results, errors = _run_threads(lambda tc: batched.analyze(*tc), items, timeout=120)
    assert not errors
    for i, (text, context) in enumerate(items):
        got = results[i]
        assert got.text == text and got.context == context
        # whoever it was batched with (rjcoach.model.bert_layer)
        assert got.labels == alone[text].labels
        assert max(abs(got.scores[k] - alone[text].scores[k]) for k in LABELS) < 1e-5


def test_the_app_analyser_leaves_each_message_embedded_for_topic_matching(analyzer, monkeypatch):
    """In the app the analyser's batch also finishes each message's sentence embedding from the
    analysis's own lower layers, so the persona's topic match finds it in the cache."""
    import numpy as np

    from rjcoach import embeddings

    texts = [f"{t} (embedded ahead)" for t, _ in LINES[:4]]
    for t in texts:
        embeddings._cache.pop(t, None)
    reference = embeddings.embed(texts)
    batched = BatchingAnalyzer(analyzer)
    results, errors = _run_threads(lambda t: batched.analyze(t, "I haven't slept properly since."), texts,
                                   timeout=60)
    assert not errors
    for t, ref in zip(texts, reference):
        assert t in embeddings._cache and t not in embeddings._lower  # finished, offer used up
        assert float(np.dot(embeddings._cache[t], ref)) > 0.9999

    def broken(texts):
        raise RuntimeError("embedding is down")

    monkeypatch.setattr(embeddings, "embed_ahead", broken)
    assert batched.analyze("Still analysed when embedding ahead fails.").scores  # the analysis stands


def test_batching_follows_the_number_format(monkeypatch):
    from rjcoach import batching, precision

    monkeypatch.setattr(precision, "precision", lambda: "bfloat16")
    assert batching.analyser_batching() == (1, 2.0)
    monkeypatch.setattr(precision, "precision", lambda: "float32")
    assert batching.analyser_batching() == (2, 4.0)
    b = batching.BatchingAnalyzer(object(), workers=3, window_ms=1.0)  # given settings win
    assert (b.workers, b.window_ms) == (3, 1.0)
