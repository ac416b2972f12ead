"""`rjcoach train`: rebuild the shipped classifier from the data, seeded, on CPU.

The frozen lower encoder layers are run once per distinct utterance and per distinct context and
cached; each epoch then trains only
the top layers and the head, which keeps a full rebuild well inside 30 minutes on two cores.
Calibration (per-label Platt scaling) and decision thresholds are fitted on the in-domain
validation split, never on the test split or the public sets' validation parts, which stay for
reporting.
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rjcoach.labels import LABELS
from rjcoach.sources import DEFAULT_SOURCES, GROUPS, TARGETS, Example, describe, load_sources

SOURCE_WEIGHT = {"indomain": 1.0, "annomi": 0.8, "esconv": 0.5, "epitome": 0.5, "corrections": 1.0}


@dataclass
class TrainSettings:
    sources: tuple[str, ...] = DEFAULT_SOURCES
    epochs: int = 4
    batch_size: int = 32
    lr_layers: float = 6e-5
    lr_head: float = 2e-3
    tuned_layers: int = 3
    indomain_repeat: int = 2
    seed: int = 13
    limit: int | None = None  # cap examples per source (quick runs and tests)
    source_cap: tuple[tuple[str, int], ...] = (("esconv", 8000),)  # training examples kept per source
    max_tokens: int = 128
    context_tokens: int = 64


def _seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _target_arrays(examples: list[Example]) -> tuple[np.ndarray, np.ndarray]:
    y = np.zeros((len(examples), len(TARGETS)), dtype=np.float32)
    m = np.zeros_like(y)
    index = {t: i for i, t in enumerate(TARGETS)}
    for row, ex in enumerate(examples):
        for name, value in ex.targets.items():
            y[row, index[name]] = value
            m[row, index[name]] = 1.0
    return y, m


def _group_matrix() -> torch.Tensor:
    """[n_groups, 17] membership of each group target."""
    g = torch.zeros(len(GROUPS), len(LABELS))
    for gi, members in enumerate(GROUPS.values()):
        for label in members:
            g[gi, LABELS.index(label)] = 1.0
    return g


def target_log_probs(logits: torch.Tensor, groups: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log p and log(1-p) for every target: labels directly, groups through the noisy-OR."""
    log_p = nn.functional.logsigmoid(logits)
    log_not = nn.functional.logsigmoid(-logits)
    group_log_not = log_not @ groups.T  # log prod(1 - p_i)
    group_log_p = torch.log(-torch.expm1(group_log_not.clamp(max=-1e-6)))
    return torch.cat([log_p, group_log_p], 1), torch.cat([log_not, group_log_not], 1)


def _rule_features(texts: list[str]) -> np.ndarray:
    import spacy

    from rjcoach.analyzer import SPACY_PIPELINE
    from rjcoach.rules import RuleCues, label_features

    nlp = spacy.load(SPACY_PIPELINE, exclude=["ner", "lemmatizer"])
    rules = RuleCues(nlp.vocab)
    return np.array([label_features(rules(doc)) for doc in nlp.pipe(texts, batch_size=256)], dtype=np.float32)


class _Cache:
    """Frozen-layer states of each distinct utterance and each distinct context, run
    on their own (float16, trimmed). The context-free copy of an utterance shares its states."""

    def __init__(self, model, tokenizer, examples: list[Example], max_tokens: int, context_tokens: int, log) -> None:
        from rjcoach.model import context_ids

        texts = sorted({e.text for e in examples})
        contexts = sorted({e.context for e in examples if e.context and e.context.strip()})
        text_ids = tokenizer(texts, truncation=True, max_length=max_tokens)["input_ids"]
        ctx_ids = context_ids(tokenizer, contexts, context_tokens)
        log(f"  {len(texts)} distinct utterances, {len(contexts)} distinct contexts")
        text_states = self._run(model, text_ids, log)
        ctx_states = self._run(model, ctx_ids, log)
        t_index = dict(zip(texts, text_states))
        c_index = dict(zip(contexts, ctx_states))
        self.text = [t_index[e.text] for e in examples]
        self.ctx = [c_index.get(e.context) if e.context else None for e in examples]
        self.lengths = [s.shape[0] + (0 if c is None else c.shape[0]) for s, c in zip(self.text, self.ctx)]

    @staticmethod
    def _run(model, rows: list[list[int]], log) -> list[torch.Tensor]:
        from rjcoach.model import pad_ids

        out: list[torch.Tensor] = [None] * len(rows)  # type: ignore[list-item]
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        start = time.time()
        for b in range(0, len(order), 64):
            idx = order[b : b + 64]
            ids, mask = pad_ids([rows[i] for i in idx])
            h = model.frozen_states(ids, mask)
            for j, i in enumerate(idx):
                out[i] = h[j, : len(rows[i])].to(torch.float16).clone()
            if b // 64 % 100 == 0:
                log(f"  cached {b + len(idx)}/{len(order)} ({time.time() - start:.0f}s)")
        return out

    def batch(self, idx: list[int]):
        from rjcoach.model import pad_states

        hidden = self.text[idx[0]].shape[-1]
        h, mask = pad_states([self.text[i] for i in idx], hidden, torch.float32)
        hc, cmask = pad_states([self.ctx[i] for i in idx], hidden, torch.float32)
        return h, mask, hc, cmask


def _batches(indices: list[int], lengths: list[int], size: int, rng: random.Random) -> list[list[int]]:
    """Shuffle, then group similar lengths (chunks of 50 batches) to cut padding."""
    indices = indices[:]
    rng.shuffle(indices)
    out = []
    chunk = size * 50
    for c in range(0, len(indices), chunk):
        part = sorted(indices[c : c + chunk], key=lambda i: lengths[i])
        out += [part[b : b + size] for b in range(0, len(part), size)]
    rng.shuffle(out)
    return out


def fit_platt(logit: np.ndarray, y: np.ndarray, steps: int = 300) -> tuple[float, float]:
    """Per-label Platt scaling by Newton's method with a little L2 toward identity."""
    a, b = 1.0, 0.0
    if y.min() == y.max():
        return a, b
    # Smoothed targets (Platt 1999) avoid overconfident fits on small validation sets.
    n_pos, n_neg = y.sum(), len(y) - y.sum()
    t = np.where(y > 0.5, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(a * logit + b)))
        g_a = np.sum((p - t) * logit) + 1e-3 * (a - 1)
        g_b = np.sum(p - t) + 1e-3 * b
        w = p * (1 - p)
        h_aa = np.sum(w * logit * logit) + 1e-3
        h_ab = np.sum(w * logit)
        h_bb = np.sum(w) + 1e-3
        det = h_aa * h_bb - h_ab * h_ab
        if det <= 1e-12:
            break
        da = (h_bb * g_a - h_ab * g_b) / det
        db = (h_aa * g_b - h_ab * g_a) / det
        a, b = a - da, b - db
        if abs(da) + abs(db) < 1e-8:
            break
    return float(a), float(b)


def _f1(p: np.ndarray, y: np.ndarray, th: float) -> float:
    pred = p >= th
    tp = np.sum(pred & (y > 0.5))
    return 2 * tp / max(pred.sum() + (y > 0.5).sum(), 1)


def best_threshold(p: np.ndarray, y: np.ndarray) -> float:
    """Threshold maximising F1 on validation, searched over a fixed grid (stable, seedless)."""
    if y.sum() == 0:
        return 0.5
    best, best_f1 = 0.5, -1.0
    for th in np.arange(0.05, 0.951, 0.01):
        f1 = _f1(p, y, th)
        if f1 > best_f1 + 1e-9:
            best, best_f1 = float(th), f1
    return round(best, 2)


def _accusatory_threshold(val_logits: np.ndarray, val_y: np.ndarray, cfg) -> float | None:
    """The family-level threshold that best improves any-accusatory F1 on validation (or None)."""
    from rjcoach.decision import ACC_IDX, calibrate, decide

    probs = calibrate(val_logits, np.asarray(cfg.platt_a), np.asarray(cfg.platt_b))
    gold = val_y[:, ACC_IDX].any(axis=1)

    def f1(th):
        pred = decide(probs, np.asarray(cfg.thresholds), th)[:, ACC_IDX].any(axis=1)
        tp = np.sum(pred & gold)
        return 2 * tp / max(pred.sum() + gold.sum(), 1)

    best, best_f1 = None, f1(None)
    for th in np.arange(0.2, 0.951, 0.01):
        score = f1(float(th))
        if score > best_f1 + 1e-9:
            best, best_f1 = round(float(th), 2), score
    return best


# Labels that public validation data also measures: their thresholds are chosen for F1 on the
# in-domain validation split and on the public sets' tuning halves together.
SHARED_LABELS = ("open_question", "closed_question", "reflection", "emotion_label", "advice")


def calibrate(model_dir: Path, sources: tuple[str, ...] = DEFAULT_SOURCES, log=print):
    """Fit Platt scaling and decision thresholds for the saved model in ``model_dir``.

    Runs on the saved (float16) weights, so what is calibrated is exactly what ships. Platt scaling
    and most thresholds come from the in-domain validation split; the thresholds of labels that the
    public sets also code (SHARED_LABELS) maximise in-domain validation F1 plus the mean F1 on the
    public validation *tuning halves*. The other halves stay untouched for `rjcoach evaluate --suite`.
    """
    from rjcoach.analysis import MAX_TEXT_CHARS
    from rjcoach.analyzer import Analyzer
    from rjcoach.precision import precision
    from rjcoach.sources import public_tuning_half

    analyzer = Analyzer(model_dir)
    cfg = analyzer.component.cfg

    def logits(examples: list[Example]) -> np.ndarray:
        return analyzer.logits([e.text[:MAX_TEXT_CHARS] for e in examples], [e.context for e in examples])
    val = [e for e in load_sources(sources) if e.split == "validation"]
    ind = [e for e in val if e.source == "indomain"]
    pub = [e for e in val if e.source in ("annomi", "esconv") and public_tuning_half(e.group)]
    if not ind:
        log("no in-domain validation examples: identity calibration, thresholds 0.5")
        return cfg
    log(f"calibrating on {len(ind)} in-domain and {len(pub)} public validation utterances ...")
    li = logits(ind)
    lp = logits(pub)
    yi = np.array([[label in e.labels for label in LABELS] for e in ind], dtype=float)
    for j, label in enumerate(LABELS):
        a, b = fit_platt(li[:, j], yi[:, j])
        cfg.platt_a[j], cfg.platt_b[j] = a, b
        pi = 1 / (1 + np.exp(-(a * li[:, j] + b)))
        sets = []
        if label in SHARED_LABELS:
            for src in ("annomi", "esconv"):
                rows = [k for k, e in enumerate(pub) if e.source == src and label in e.targets]
                if rows:
                    pp = 1 / (1 + np.exp(-(a * lp[rows, j] + b)))
                    sets.append((pp, np.array([pub[k].targets[label] for k in rows], dtype=float)))
        if sets:
            grid = np.arange(0.05, 0.951, 0.01)
            scores = [_f1(pi, yi[:, j], t) + np.mean([_f1(p, y, t) for p, y in sets]) for t in grid]
            cfg.thresholds[j] = round(float(grid[int(np.argmax(scores))]), 2)
        else:
            cfg.thresholds[j] = best_threshold(pi, yi[:, j])
    cfg.accusatory_threshold = _accusatory_threshold(li, yi, cfg)
    cfg.calibration = {
        "platt": f"in-domain validation split ({len(ind)} utterances)",
        "thresholds": "F1 on the in-domain validation split; for " + ", ".join(SHARED_LABELS)
        + f", plus mean F1 on the AnnoMI/ESConv validation tuning halves ({len(pub)} utterances)",
        "accusatory_threshold": "any-accusatory F1 on the in-domain validation split",
        "precision": precision(),
    }
    cfg.save(model_dir)
    return cfg


def train(settings: TrainSettings, out_dir: Path, log=print) -> dict:
    """Train, calibrate, tune thresholds and save to ``out_dir``; returns a short report."""
    from transformers import AutoTokenizer

    from rjcoach.encoder import encoder_dir
    from rjcoach.model import ModelConfig, RubricClassifier, save_model

    _seed(settings.seed)
    t0 = time.time()
    examples = load_sources(settings.sources)
    if settings.limit:
        rng = random.Random(settings.seed)
        by_source: dict[str, list[Example]] = {}
        for e in examples:
            by_source.setdefault(e.source, []).append(e)
        examples = []
        for items in by_source.values():
            rng.shuffle(items)
            examples += items[: settings.limit]
    examples = [e for e in examples if e.split != "test"]
    caps = dict(settings.source_cap)
    if caps:
        rng = random.Random(settings.seed)
        kept, seen = [], {}
        shuffled = examples[:]
        rng.shuffle(shuffled)
        for e in shuffled:
            if e.split == "train" and e.source in caps:
                seen[e.source] = seen.get(e.source, 0) + 1
                if seen[e.source] > caps[e.source]:
                    continue
            kept.append(e)
        examples = sorted(kept, key=lambda e: (e.source, e.split, e.text))
    log(f"examples: {describe(examples)}")
    train_idx = [i for i, e in enumerate(examples) if e.split == "train"]
    # The analyser is often called without a context line. Each extra pass over an in-domain
    # utterance that has a context uses a copy without it, so the model learns both situations.
    no_context = {}
    if settings.indomain_repeat > 1:
        for i in train_idx:
            e = examples[i]
            if e.source == "indomain" and e.context:
                no_context[i] = len(examples)
                examples.append(Example(e.text, None, e.targets, e.source, e.split, e.weight, e.labels, e.group))
    if not train_idx:
        raise ValueError("no training examples in the chosen sources")

    model = RubricClassifier(settings.tuned_layers)
    tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir()), local_files_only=True)
    log("rule features ...")
    feats = _rule_features([e.text for e in examples])
    log(f"caching frozen layers for {len(examples)} examples ...")
    cache = _Cache(model, tokenizer, examples, settings.max_tokens, settings.context_tokens, log)
    lengths = cache.lengths
    y, m = _target_arrays(examples)
    w = np.array([SOURCE_WEIGHT.get(e.source, 1.0) * e.weight for e in examples], dtype=np.float32)
    groups = _group_matrix()

    for p in model.parameters():
        p.requires_grad = False
    layer_params = [p for layer in model.encoder.encoder.layer[model.split :] for p in layer.parameters()]
    layer_params.append(model.context_role)
    for p in layer_params + list(model.head.parameters()):
        p.requires_grad = True
    opt = torch.optim.AdamW(
        [
            {"params": layer_params, "lr": settings.lr_layers},
            {"params": list(model.head.parameters()), "lr": settings.lr_head},
        ],
        weight_decay=0.01,
    )
    rng = random.Random(settings.seed)
    extra = [no_context.get(i, i) for i in train_idx if examples[i].source == "indomain"]
    epoch_idx = train_idx + extra * (settings.indomain_repeat - 1)
    steps_per_epoch = math.ceil(len(epoch_idx) / settings.batch_size)
    total = steps_per_epoch * settings.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / max(1, total // 20)) * max(0.0, (total - s) / total)
    )
    step = 0
    for epoch in range(settings.epochs):
        model.train()
        model.encoder.embeddings.eval()
        running, seen = 0.0, 0
        for batch in _batches(epoch_idx, lengths, settings.batch_size, rng):
            h, mask, hc, cmask = cache.batch(batch)
            logits = model.tuned_forward(h, mask, hc, cmask, torch.from_numpy(feats[batch]))
            lp, lnp = target_log_probs(logits, groups)
            yt, mt = torch.from_numpy(y[batch]), torch.from_numpy(m[batch])
            loss_el = -(yt * lp + (1 - yt) * lnp) * mt
            loss = (loss_el.sum(1) * torch.from_numpy(w[batch])).sum() / mt.sum().clamp(min=1)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(layer_params + list(model.head.parameters()), 1.0)
            opt.step()
            sched.step()
            step += 1
            running += loss.item() * len(batch)
            seen += len(batch)
            if step % 100 == 0:
                log(f"  epoch {epoch + 1} step {step}/{total} loss {running / seen:.4f} ({time.time() - t0:.0f}s)")
        log(f"epoch {epoch + 1}/{settings.epochs} done, mean loss {running / max(seen, 1):.4f}")

    model.eval()
    cfg = ModelConfig(tuned_layers=settings.tuned_layers, max_tokens=settings.max_tokens,
                      context_tokens=settings.context_tokens)
    cfg.training = {
        "sources": list(settings.sources),
        "source_weights": {s: SOURCE_WEIGHT.get(s, 1.0) for s in settings.sources},
        "examples": describe(examples),
        "epochs": settings.epochs,
        "batch_size": settings.batch_size,
        "lr_layers": settings.lr_layers,
        "lr_head": settings.lr_head,
        "indomain_repeat": settings.indomain_repeat,
        "context_free_copies": len(no_context),
        "seed": settings.seed,
        "limit": settings.limit,
        "source_cap": dict(settings.source_cap),
        "tuned_layers": settings.tuned_layers,
        "context_mode": cfg.context_mode,
        "context_tokens": settings.context_tokens,
        "seconds": round(time.time() - t0, 1),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    save_model(model, cfg, out_dir)
    del cache
    cfg = calibrate(out_dir, settings.sources, log=log)
    log(f"saved to {out_dir} in {time.time() - t0:.0f}s")
    return cfg.training
