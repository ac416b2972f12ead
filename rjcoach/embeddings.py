"""Sentence embeddings from the packaged all-MiniLM-L6-v2 (the analyser's base encoder, unmodified).

Used to match a trainee's message to a persona's topics by meaning. Mean pooling and L2
normalisation, as the encoder was trained. ``embed_one`` is what a live turn calls: messages from
concurrent sessions share one batched forward pass, and recent texts (a resumed session's replay,
stock phrases) come from a bounded cache.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future
from typing import Sequence

import numpy as np

_lock = threading.Lock()
_tokenizer_lock = threading.Lock()
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
                from rjcoach.precision import dtype

                model = AutoModel.from_pretrained(path, local_files_only=True)
                model.to(dtype())
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
        with _tokenizer_lock:  # the batch worker and a session's topic index may embed at once
            enc = tok(texts[b : b + batch_size], padding=True, truncation=True, max_length=128, return_tensors="pt")
        with torch.inference_mode():
            h = model(**enc).last_hidden_state.float()  # pool in float32 whatever the precision
        mask = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
        v = (h * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        v = torch.nn.functional.normalize(v, dim=-1)
        out.append(v.numpy().astype(np.float32))
    return np.concatenate(out) if out else np.zeros((0, 384), dtype=np.float32)


CACHE_SIZE = 4096
MAX_PENDING = 256
"""Embeddings started by :func:`prefetch` and not yet collected; the oldest are dropped beyond this."""
_cache: OrderedDict[str, np.ndarray] = OrderedDict()
_pending: OrderedDict[str, Future] = OrderedDict()
_cache_lock = threading.Lock()
_batcher = None


def _future(text: str) -> Future:
    """The embedding of ``text`` under way, started if need be (call with ``_cache_lock`` held)."""
    global _batcher
    fut = _pending.get(text)
    if fut is None:
        if _batcher is None:
            from rjcoach.batching import MicroBatcher

            _batcher = MicroBatcher(lambda texts: list(embed(texts)), name="rjcoach-embed")
        fut = _pending[text] = _batcher.submit(text)
        while len(_pending) > MAX_PENDING:
            _pending.popitem(last=False)
    return fut


def prefetch(text: str) -> None:
    """Start embedding ``text`` now, so that it computes while the caller does other work (a turn
    starts it before the analysis: the two forward passes then share the machine's cores) and a
    later ``embed_one(text)`` only collects it."""
    if not isinstance(text, str) or not text.strip():
        return
    with _cache_lock:
        if text not in _cache:
            _future(text)


def embed_one(text: str) -> np.ndarray:
    """One unit-length embedding; concurrent callers are batched together (see rjcoach.batching)."""
    with _cache_lock:
        hit = _cache.get(text)
        if hit is not None:
            _cache.move_to_end(text)
            return hit
        fut = _future(text)
    try:
        vec = fut.result()
    finally:
        with _cache_lock:
            if _pending.get(text) is fut:
                del _pending[text]
    vec.setflags(write=False)
    with _cache_lock:
        _cache[text] = vec
        if len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return vec
