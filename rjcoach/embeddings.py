"""Sentence embeddings from the packaged all-MiniLM-L6-v2 (the analyser's base encoder, unmodified).

Used to match a trainee's message to a persona's topics by meaning. Mean pooling and L2
normalisation, as the encoder was trained. ``embed_one`` is what a live turn calls: messages from
concurrent sessions share one batched forward pass, recent texts (a resumed session's replay, stock
phrases) come from a bounded cache, and a message the analyser has just read needs only the upper
layers (``offer_lower_states``).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Sequence

import numpy as np

MAX_TOKENS = 128
MAX_LOWER = 256
"""Texts whose lower-layer states wait to be finished (see offer_lower_states)."""
_lower: OrderedDict = OrderedDict()
_lower_lock = threading.Lock()
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

    from rjcoach.model import encode

    model, tok = _load()
    out = []
    texts = list(texts)
    for b in range(0, len(texts), batch_size):
        chunk = texts[b : b + batch_size]
        with _tokenizer_lock:  # the batch worker and a session's topic index may embed at once
            enc = tok(chunk, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        lengths = enc["attention_mask"].sum(1).tolist()
        with _lower_lock:
            offered = [_lower.get(t) for t in chunk]
        # rows with a fitting offer only finish the encoder; the rest run it whole
        groups: dict[int | None, list[int]] = {}
        for j, (lw, n) in enumerate(zip(offered, lengths)):
            fits = lw is not None and lw[1].shape[0] == n and lw[1].dtype == model.dtype
            groups.setdefault(lw[0] if fits else None, []).append(j)
        vecs = torch.zeros(len(chunk), model.config.hidden_size)
        with torch.inference_mode():
            for layer, rows in groups.items():
                n = max(lengths[j] for j in rows)
                mask = enc["attention_mask"][rows, :n]
                if layer is None:
                    h = encode(model, enc["input_ids"][rows, :n], mask)
                else:
                    h = _finish(model, layer, [offered[j][1] for j in rows], mask)
                h = h.float()  # pool in float32 whatever the precision
                m = mask.unsqueeze(-1).to(h.dtype)
                vecs[rows] = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
        v = torch.nn.functional.normalize(vecs, dim=-1)
        out.append(v.numpy().astype(np.float32))
    return np.concatenate(out) if out else np.zeros((0, 384), dtype=np.float32)


def _finish(model, layer: int, states, attention_mask):
    """The encoder's last hidden states from its states after ``layer`` layers (see offer_lower_states)."""
    from rjcoach.model import pad_states, run_layers

    h, _ = pad_states(states, states[0].shape[-1], states[0].dtype)  # lengths fit the mask (checked by embed)
    return run_layers(model.encoder.layer[layer:], h, attention_mask)


def offer_lower_states(texts: Sequence[str], states: Sequence, layer: int) -> None:
    """Keep each text's hidden states after the encoder's first ``layer`` layers, computed by someone
    who ran exactly this encoder on exactly this text (the analyser's frozen layers do): embedding
    that text next runs only the remaining layers. Bounded: the oldest offers are dropped."""
    with _lower_lock:
        for text, st in zip(texts, states):
            if isinstance(text, str) and text.strip():
                _lower[text] = (layer, st)
                _lower.move_to_end(text)
        while len(_lower) > MAX_LOWER:
            _lower.popitem(last=False)


CACHE_SIZE = 4096
_cache: OrderedDict[str, np.ndarray] = OrderedDict()
_cache_lock = threading.Lock()
_batcher = None


def embed_ahead(texts: Sequence[str]) -> None:
    """Embed ``texts`` now, in one batch, into the cache that :func:`embed_one` reads.

    The app's analyser batch worker calls this right after analysing a batch of messages: their
    lower-layer states were just offered, so this runs only the upper layers, batched with the
    analysis instead of once per message later."""
    with _cache_lock:
        todo = list(dict.fromkeys(t for t in texts if isinstance(t, str) and t.strip() and t not in _cache))
    if not todo:
        return
    vecs = embed(todo)
    with _lower_lock:
        for t in todo:
            _lower.pop(t, None)
    with _cache_lock:
        for t, v in zip(todo, vecs):
            v.setflags(write=False)
            _cache[t] = v
            _cache.move_to_end(t)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)


def embed_one(text: str) -> np.ndarray:
    """One unit-length embedding; concurrent callers are batched together (see rjcoach.batching).

    In a turn the analyser has already run this text through the encoder's lower layers and offered
    those states (:func:`offer_lower_states`), so only the upper layers run here."""
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
