"""Sentence embeddings from the packaged all-MiniLM-L6-v2 (the analyser's base encoder, unmodified).

Used to match a trainee's message to a persona's topics by meaning. Mean pooling and L2
normalisation, as the encoder was trained. ``embed_one`` is what a live turn calls: messages from
concurrent sessions share one batched forward pass, and recent texts (a resumed session's replay,
stock phrases) come from a bounded cache.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Sequence

import numpy as np

_lock = threading.Lock()
_model = None
_tokenizer = None


def _load():
    global _model, _tokenizer
    if _model is None:
        with _lock:
            if _model is None:
                from transformers import AutoModel, AutoTokenizer

                from rjcoach.encoder import encoder_dir

                path = str(encoder_dir())
                _tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
                model = AutoModel.from_pretrained(path, local_files_only=True)
                model.eval()
                _model = model
    return _model, _tokenizer


def embed(texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Unit-length embeddings, one row per text (float32)."""
    import torch

    model, tok = _load()
    out = []
    texts = list(texts)
    for b in range(0, len(texts), batch_size):
        enc = tok(texts[b : b + batch_size], padding=True, truncation=True, max_length=128, return_tensors="pt")
        with torch.inference_mode():
            h = model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
        v = (h * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        v = torch.nn.functional.normalize(v, dim=-1)
        out.append(v.numpy().astype(np.float32))
    return np.concatenate(out) if out else np.zeros((0, 384), dtype=np.float32)


CACHE_SIZE = 4096
_cache: OrderedDict[str, np.ndarray] = OrderedDict()
_cache_lock = threading.Lock()
_batcher = None


def embed_one(text: str) -> np.ndarray:
    """One unit-length embedding; concurrent callers are batched together (see rjcoach.batching)."""
    global _batcher
    with _cache_lock:
        hit = _cache.get(text)
        if hit is not None:
            _cache.move_to_end(text)
            return hit
        if _batcher is None:
            from rjcoach.batching import MicroBatcher

            _batcher = MicroBatcher(lambda texts: list(embed(texts)), name="rjcoach-embed")
    vec = _batcher(text)
    vec.setflags(write=False)
    with _cache_lock:
        _cache[text] = vec
        if len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return vec
