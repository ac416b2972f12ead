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


def _lower_states(text, layers=3):
    """What the analyser's frozen half computes for ``text`` (the sentence encoder's first layers)."""
    import torch

    from rjcoach.model import encode

    model, tok = embeddings._load()
    enc = tok([text], return_tensors="pt")
    with torch.inference_mode():
        return encode(model, enc["input_ids"], enc["attention_mask"], layers)[0]


def test_offered_lower_states_are_finished_into_the_same_embedding(monkeypatch):
    finished_rows = []
    real_finish = embeddings._finish
    monkeypatch.setattr(embeddings, "_finish",
                        lambda model, layer, states, mask: finished_rows.append(len(states)) or real_finish(model, layer, states, mask))
    texts = ["Offered by the analyser: what was that like?", "And this one, a little longer, was offered too."]
    full = embeddings.embed(texts)
    embeddings.offer_lower_states(texts, [_lower_states(t) for t in texts], 3)
    assert all(t in embeddings._lower for t in texts)
    finished = embeddings.embed(texts + ["Never offered, so the whole encoder runs for this one."] + texts[:1])
    assert finished_rows == [3]  # the two offered texts (one of them twice) only ran the upper layers
    for a, b in zip(list(full) + [full[0]], list(finished[:2]) + [finished[3]]):
        assert _cos(a, b) > 0.99999
    assert _cos(finished[2], embeddings.embed(["Never offered, so the whole encoder runs for this one."])[0]) > 0.99999


def test_an_offer_that_does_not_fit_is_not_used(monkeypatch):
    text = "Offered with the wrong length: how are you holding up?"
    reference = embeddings.embed([text])[0]
    wrong = _lower_states(text)[:-2]  # not this text's token count
    embeddings.offer_lower_states([text, "   "], [wrong, wrong], 3)
    assert "   " not in embeddings._lower and text in embeddings._lower
    finished = []
    real_finish = embeddings._finish
    monkeypatch.setattr(embeddings, "_finish", lambda *a: finished.append(1) or real_finish(*a))
    assert _cos(embeddings.embed([text])[0], reference) > 0.99999
    assert not finished  # the whole encoder ran instead


def test_offers_are_bounded(monkeypatch):
    monkeypatch.setattr(embeddings, "MAX_LOWER", 2)
    state = _lower_states("x")
    embeddings.offer_lower_states([f"bounded offer {i}" for i in range(5)], [state] * 5, 3)
    assert len(embeddings._lower) <= 2 and "bounded offer 4" in embeddings._lower
    embeddings._lower.clear()


def test_the_analyser_offers_the_lower_states_of_what_it_analyses():
    from rjcoach.analyzer import get_analyzer

    analyzer = get_analyzer()
    text = "So since the break-in you have not slept at home?"
    embeddings._cache.pop(text, None)
    reference = embeddings.embed([text])[0]
    analyzer.analyze(text, "I stay at my sister's most nights now.")
    assert text in embeddings._lower
    assert _cos(embeddings.embed_one(text), reference) > 0.9999
