import threading

import numpy as np

from rjcoach import embeddings


def _cos(a, b):
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_single_text_embeddings_match_the_batched_ones_and_are_cached():
    from rjcoach.embeddings import _cache, embed, embed_one

    texts = ["What happened that night?", "That sounds frightening.", "Why did you do it?"]
    batch = embed(texts)
    for text, row in zip(texts, batch):
        one = embed_one(text)
        assert one.dtype == np.float32 and abs(np.linalg.norm(one) - 1) < 1e-4
        # Padding in a batch changes rounding a little (more in bfloat16), not the meaning.
        assert _cos(one, row) > 0.999
        assert text in _cache
    assert embed_one(texts[0]) is embed_one(texts[0])


def test_prefetch_starts_the_work_and_embed_one_collects_it():
    text = "Prefetched while the analyser works: what matters most to you now?"
    embeddings._cache.pop(text, None)
    embeddings.prefetch(text)
    fut = embeddings._pending[text]
    fut.result(timeout=30)  # computed without anyone waiting for it
    vec = embeddings.embed_one(text)
    assert text not in embeddings._pending  # collected, now in the cache
    assert embeddings._cache[text] is vec
    assert _cos(vec, embeddings.embed([text])[0]) > 0.999
    embeddings.prefetch(text)  # cached: nothing new starts
    assert text not in embeddings._pending


def test_prefetch_ignores_what_cannot_be_embedded_and_is_bounded(monkeypatch):
    embeddings.prefetch("   ")
    embeddings.prefetch(None)
    assert "   " not in embeddings._pending and None not in embeddings._pending
    monkeypatch.setattr(embeddings, "MAX_PENDING", 3)
    texts = [f"never collected line {i}" for i in range(6)]
    for t in texts:
        embeddings.prefetch(t)
    assert len(embeddings._pending) <= 3
    assert texts[-1] in embeddings._pending
    for t in texts:  # still answered correctly, prefetched or not
        assert embeddings.embed_one(t).shape == (384,)


def test_concurrent_embed_one_and_index_building_do_not_collide():
    """Sessions starting (whole-list embed) while turns embed single lines share one tokenizer."""
    errors = []

    def turn(i):
        try:
            embeddings.embed_one(f"concurrent turn number {i}, how are you doing?")
        except Exception as exc:
            errors.append(exc)

    def index(i):
        try:
            embeddings.embed([f"prompt {i} {k}" for k in range(20)])
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=f, args=(i,)) for i in range(8) for f in (turn, index)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and not any(t.is_alive() for t in threads)
