import numpy as np

def test_single_text_embeddings_match_the_batched_ones_and_are_cached():
    from rjcoach.embeddings import _cache, embed, embed_one

    texts = ["What happened that night?", "That sounds frightening.", "Why did you do it?"]
    batch = embed(texts)
    for text, row in zip(texts, batch):
        assert np.allclose(embed_one(text), row, atol=1e-5)
        assert text in _cache
    assert embed_one(texts[0]) is embed_one(texts[0])
