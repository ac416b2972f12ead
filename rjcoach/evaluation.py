"""Measuring the analyser: per-label precision/recall/F1 on a labelled file, and the standard suite.

The suite runs the whole analyser (rules, model, thresholds, rubric rules) on data it was not
trained or tuned on: the in-domain test split and the validation parts of the public sets, mapped
onto the rubric as the independent evaluation maps them. ``rjcoach evaluate --suite --write``
stores the figures in ``models/analyser/metrics.json``; the model card quotes that file.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from rjcoach.analysis import MAX_TEXT_CHARS
from rjcoach.labels import ACCUSATORY, LABELS


@dataclass
class Scores:
    precision: float
    recall: float
    f1: float
    support: int
    predicted: int

    def as_dict(self) -> dict:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in self.__dict__.items()}


def binary_scores(gold: Sequence[bool], pred: Sequence[bool]) -> Scores:
    tp = sum(g and p for g, p in zip(gold, pred))
    n_gold, n_pred = sum(gold), sum(pred)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * tp / (n_gold + n_pred) if n_gold + n_pred else 0.0
    return Scores(precision, recall, f1, n_gold, n_pred)


def label_report(gold: Sequence[frozenset[str]], pred: Sequence[frozenset[str]]) -> dict:
    """Per-label scores, macro-F1 over the 17 labels, and any-accusatory F1."""
    per_label = {
        label: binary_scores([label in g for g in gold], [label in p for p in pred]) for label in LABELS
    }
    acc = binary_scores([bool(g & ACCUSATORY) for g in gold], [bool(p & ACCUSATORY) for p in pred])
    exact = sum(g == p for g, p in zip(gold, pred)) / len(gold) if gold else 0.0
    return {
        "n": len(gold),
        "macro_f1": sum(s.f1 for s in per_label.values()) / len(LABELS),
        "any_accusatory": acc.as_dict(),
        "exact_match": exact,
        "labels": {label: s.as_dict() for label, s in per_label.items()},
    }


def read_eval_file(path: Path) -> tuple[list[str], list[str | None], list[frozenset[str]]]:
    """Lines of {"text", "context", "labels"}; every problem names the file and line."""
    from rjcoach.dataset import json_lines

    texts, contexts, golds = [], [], []
    problems = []
    for where, row, bad in json_lines(path):
        if bad:
            problems.append(bad)
            continue
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            problems.append(f"{where}: needs a string field 'text'")
            continue
        labels = row.get("labels", [])
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            problems.append(f"{where}: 'labels' must be a list of rubric ids")
            continue
        unknown = [x for x in labels if x not in LABELS]
        if unknown:
            problems.append(f"{where}: unknown label(s) {unknown}")
            continue
        context = row.get("context")
        if context is not None and not isinstance(context, str):
            problems.append(f"{where}: 'context' must be a string or null")
            continue
        texts.append(row["text"])
        contexts.append(context)
        golds.append(frozenset(labels))
    if problems:
        raise ValueError("cannot evaluate:\n" + "\n".join(problems))
    if not texts:
        raise ValueError(f"{path}: no utterances to evaluate")
    return texts, contexts, golds


def evaluate_file(path: Path, analyzer=None, progress: bool = False) -> dict:
    from rjcoach.analyzer import get_analyzer

    analyzer = analyzer or get_analyzer()
    texts, contexts, golds = read_eval_file(path)
    preds = [a.labels for a in analyzer.analyze_many(texts, contexts, progress=progress)]
    report = label_report(golds, preds)
    report["file"] = str(path)
    return report


# -- the suite --------------------------------------------------------------------------------
GroupFn = Callable[[frozenset[str]], bool]
PUBLIC_TASKS: dict[str, dict[str, GroupFn]] = {
    "annomi": {
        "open_question": lambda s: "open_question" in s,
        "closed_question": lambda s: "closed_question" in s,
        "reflection": lambda s: "reflection" in s,
    },
    "esconv": {
        "question": lambda s: bool(s & {"open_question", "closed_question"}),
        "reflection": lambda s: "reflection" in s,
        "emotion_label": lambda s: "emotion_label" in s,
        "advice": lambda s: "advice" in s,
    },
    "epitome": {
        "emotional_reactions": lambda s: bool(s & {"sympathy", "validation"}),
        "interpretations": lambda s: bool(s & {"reflection", "emotion_label"}),
        "explorations": lambda s: bool(s & {"open_question", "closed_question"}),
    },
}
# Which example target answers each task.
_TASK_TARGET = {
    "annomi": {"open_question": "open_question", "closed_question": "closed_question", "reflection": "reflection"},
    "esconv": {"question": "esconv_question", "reflection": "esconv_reflection",
               "emotion_label": "esconv_emotion", "advice": "esconv_advice"},
    "epitome": {"emotional_reactions": "empathy_any", "interpretations": "interpretation",
                "explorations": "any_question"},
}


# ESConv's strategies that make each task's gold, as the independent evaluation maps them.
ESCONV_GOLD = {
    "question": ("Question",),
    "reflection": ("Restatement or Paraphrasing", "Reflection of feelings"),
    "emotion_label": ("Reflection of feelings",),
    "advice": ("Providing Suggestions",),
}


def _public_gold(source: str, ex) -> dict[str, bool] | None:
    if source == "esconv":
        return {task: ex.strategy in strategies for task, strategies in ESCONV_GOLD.items()}
    gold = {}
    for task, target in _TASK_TARGET[source].items():
        if target not in ex.targets:
            return None
        gold[task] = bool(ex.targets[target])
    return gold


def evaluate_suite(analyzer=None, limit: int | None = None, progress: bool = False) -> dict:
    """In-domain test split + public validation parts; the figures behind the model card."""
    from rjcoach.analyzer import get_analyzer
    from rjcoach.sources import PUBLIC_DIR, load_esconv_turns, load_sources, public_tuning_half

    analyzer = analyzer or get_analyzer()
    from rjcoach.precision import precision

    out: dict = {"generated": time.strftime("%Y-%m-%d"), "limit": limit, "precision": precision()}
    test = [e for e in load_sources(("indomain",)) if e.split == "test"][:limit]
    preds = analyzer.analyze_many([e.text for e in test], [e.context for e in test], progress=progress)
    out["indomain_test"] = label_report([e.labels for e in test], [p.labels for p in preds])
    if PUBLIC_DIR.is_dir():
        for source in PUBLIC_TASKS:
            if source == "esconv":
                items = [e for e in load_esconv_turns() if e.split == "validation"]
            else:
                items = [e for e in load_sources((source,)) if e.split == "validation"]
            if source in ("annomi", "esconv"):  # their tuning halves set thresholds: report the rest
                items = [e for e in items if not public_tuning_half(e.group)]
            items = items[:limit]
            golds = [_public_gold(source, e) for e in items]
            keep = [i for i, g in enumerate(golds) if g is not None]
            items = [items[i] for i in keep]
            golds = [golds[i] for i in keep]
            # A few Reddit posts exceed the analyser's input limit; the model reads 128 tokens anyway.
            texts = [e.text[:MAX_TEXT_CHARS] for e in items]
            preds = analyzer.analyze_many(texts, [e.context for e in items], progress=progress)
            tasks = {}
            for task, fn in PUBLIC_TASKS[source].items():
                tasks[task] = binary_scores([g[task] for g in golds], [fn(p.labels) for p in preds]).as_dict()
            out[f"{source}_validation"] = {
                "n": len(items),
                "mean_f1": sum(t["f1"] for t in tasks.values()) / len(tasks),
                "tasks": tasks,
            }
    return out


# -- how far ESConv can go ---------------------------------------------------------------------
def fit_logistic(x, y, l2: float = 1e-3, steps: int = 100):
    """A plain L2 logistic regression (L-BFGS, full batch) on standardised features; returns a
    function giving probabilities for new rows. Small enough to need no extra dependency."""
    import numpy as np
    import torch

    mean, std = x.mean(0), x.std(0) + 1e-6
    xt = torch.from_numpy(((x - mean) / std).astype(np.float32))
    yt = torch.from_numpy(np.asarray(y, dtype=np.float32))
    w = torch.zeros(xt.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=steps, line_search_fn="strong_wolfe")

    def loss():
        opt.zero_grad()
        value = torch.nn.functional.binary_cross_entropy_with_logits(xt @ w + b, yt) + l2 / 2 * (w * w).sum()
        value.backward()
        return value

    opt.step(loss)
    w_, b_ = w.detach().numpy().astype(np.float64), float(b.detach())
    return lambda rows: 1 / (1 + np.exp(-(((rows - mean) / std) @ w_ + b_)))


def esconv_ceiling(analyzer=None, limit: int | None = None) -> dict:
    """How far the four ESConv tasks can go for this model while it follows the rubric.

    Two bounds, each on both halves of ESConv's validation file (the half `--suite` reports, and
    the half whose turns help set thresholds), beside the shipped analyser's own F1:
    - ``question_mark``: F1 for ESConv's "Question" of "the turn contains a '?'". Rubric rule 1
      codes every question as a question, while ESConv files each turn under one strategy, so a
      suggestion or a checked restatement asked with a "?" is not "Question" there; a coder who
      follows rule 1 scores about this.
    - ``fitted_head``: a logistic regression per task on the features the shipped model's head
      reads, trained on ESConv's training file with ESConv's own labels (no rubric), its threshold
      chosen on the other half: what this encoder gives when fitted to ESConv instead of the rubric.
    """
    import numpy as np

    from rjcoach.analyzer import get_analyzer
    from rjcoach.sources import load_esconv_turns, public_tuning_half
    from rjcoach.training import best_threshold

    analyzer = analyzer or get_analyzer()
    turns = load_esconv_turns()
    train = [t for t in turns if t.split == "train"][:limit]
    valid = [t for t in turns if t.split == "validation"]
    halves = {
        "reported": [t for t in valid if not public_tuning_half(t.group)][:limit],
        "tuning": [t for t in valid if public_tuning_half(t.group)][:limit],
    }

    def features(items):
        return analyzer.logits([t.text[:MAX_TEXT_CHARS] for t in items], [t.context for t in items], features=True)

    def gold(items, task):
        return np.array([t.strategy in ESCONV_GOLD[task] for t in items])

    x_train = features(train)
    x_half = {h: features(items) for h, items in halves.items()}
    shipped = {
        h: [a.labels for a in analyzer.analyze_many([t.text[:MAX_TEXT_CHARS] for t in items], [t.context for t in items])]
        for h, items in halves.items()
    }
    prob = {h: {} for h in halves}
    for task in ESCONV_GOLD:
        y = gold(train, task)
        if y.min() == y.max():
            raise ValueError(f"ESConv training turns (limit {limit}) hold no positive and negative for {task!r}")
        predict = fit_logistic(x_train, y)
        for h in halves:
            prob[h][task] = predict(x_half[h])
    out: dict = {"train_turns": len(train), "limit": limit}
    for h, other in (("reported", "tuning"), ("tuning", "reported")):
        items = halves[h]
        rows = {}
        for task, fn in PUBLIC_TASKS["esconv"].items():
            y = gold(items, task)
            th = best_threshold(prob[other][task], gold(halves[other], task).astype(float))
            rows[task] = {
                "shipped": binary_scores(list(y), [fn(s) for s in shipped[h]]).f1,
                "fitted_head": binary_scores(list(y), list(prob[h][task] >= th)).f1,
                "fitted_threshold": th,
            }
        rows["question"]["question_mark"] = binary_scores(list(gold(items, "question")), ["?" in t.text for t in items]).f1
        out[h] = {
            "n": len(items),
            "tasks": rows,
            "shipped_mean": sum(r["shipped"] for r in rows.values()) / len(rows),
            "fitted_head_mean": sum(r["fitted_head"] for r in rows.values()) / len(rows),
        }
    return out


def format_ceiling(report: dict) -> str:
    lines = [f"ESConv training turns for the fitted head: {report['train_turns']}"]
    for h in ("reported", "tuning"):
        r = report[h]
        lines += [f"\n{h} half of the validation file (n={r['n']}):",
                  f"{'task':14s} {'shipped':>8s} {'fitted':>8s} {'has ?':>8s}"]
        for task, row in r["tasks"].items():
            mark = f"{row['question_mark']:8.3f}" if "question_mark" in row else f"{'':8s}"
            lines.append(f"{task:14s} {row['shipped']:8.3f} {row['fitted_head']:8.3f} {mark}")
        lines.append(f"{'mean':14s} {r['shipped_mean']:8.3f} {r['fitted_head_mean']:8.3f}")
    return "\n".join(lines)


def format_report(report: dict) -> str:
    lines = [f"{'label':22s} {'prec':>6s} {'rec':>6s} {'F1':>6s} {'gold':>6s} {'pred':>6s}"]
    for label, s in report["labels"].items():
        lines.append(
            f"{label:22s} {s['precision']:6.3f} {s['recall']:6.3f} {s['f1']:6.3f} {s['support']:6d} {s['predicted']:6d}"
        )
    acc = report["any_accusatory"]
    lines.append(f"{'any accusatory':22s} {acc['precision']:6.3f} {acc['recall']:6.3f} {acc['f1']:6.3f} {acc['support']:6d} {acc['predicted']:6d}")
    lines.append(f"macro-F1 (17 labels): {report['macro_f1']:.3f}   exact match: {report['exact_match']:.3f}   n={report['n']}")
    return "\n".join(lines)


def format_suite(suite: dict) -> str:
    parts = ["in-domain test split:", format_report(suite["indomain_test"])]
    for key, val in suite.items():
        if key.endswith("_validation"):
            tasks = ", ".join(f"{t} {s['f1']:.3f}" for t, s in val["tasks"].items())
            parts.append(f"{key} (n={val['n']}): mean F1 {val['mean_f1']:.3f} [{tasks}]")
    return "\n".join(parts)


CARD_START = "<!-- metrics:start (written by `rjcoach evaluate --suite --write`; do not edit) -->"
CARD_END = "<!-- metrics:end -->"
TARGETS = {
    "indomain_macro_f1": 0.80,
    "indomain_any_accusatory_f1": 0.90,
    "annomi_mean_f1": 0.70,
    "esconv_mean_f1": 0.55,
    "epitome_mean_f1": 0.66,
}


def metrics_markdown(suite: dict) -> str:
    """The model card's metrics block, rendered from the suite's figures."""
    ind = suite["indomain_test"]
    rows = [
        "| measure | value | target |",
        "|---|---|---|",
        f"| in-domain test, macro-F1 over 17 labels (n={ind['n']}) | {ind['macro_f1']:.3f} | >= {TARGETS['indomain_macro_f1']:.2f} |",
        f"| in-domain test, any-accusatory F1 | {ind['any_accusatory']['f1']:.3f} | >= {TARGETS['indomain_any_accusatory_f1']:.2f} |",
    ]
    names = {"annomi": "AnnoMI validation transcripts, mean F1 (open, closed, reflection)",
             "esconv": "ESConv validation dialogues, mean F1 (question, reflection, emotion label, advice)",
             "epitome": "EPITOME validation posts, mean F1 (emotional reactions, interpretations, explorations)"}
    for src, title in names.items():
        key = f"{src}_validation"
        if key in suite:
            v = suite[key]
            tasks = ", ".join(f"{t} {x['f1']:.3f}" for t, x in v["tasks"].items())
            rows.append(f"| {title} (n={v['n']}): {tasks} | {v['mean_f1']:.3f} | >= {TARGETS[src + '_mean_f1']:.2f} |")
    per = ["", "Per label, in-domain test split:", "", "| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for label, sc in ind["labels"].items():
        per.append(f"| `{label}` | {sc['precision']:.3f} | {sc['recall']:.3f} | {sc['f1']:.3f} | {sc['support']} |")
    acc = ind["any_accusatory"]
    per.append(f"| any accusatory | {acc['precision']:.3f} | {acc['recall']:.3f} | {acc['f1']:.3f} | {acc['support']} |")
    head = f"Measured {suite['generated']}" + (f" (limit {suite['limit']} per set)" if suite.get("limit") else "")
    if suite.get("precision"):
        head += f", encoders in {suite['precision']}"
    return "\n".join([CARD_START, head + ":", "", *rows, *per, CARD_END])


def update_card(card: Path, suite: dict) -> None:
    text = card.read_text(encoding="utf-8")
    if CARD_START not in text or CARD_END not in text:
        raise ValueError(f"{card} has no metrics block markers")
    before, rest = text.split(CARD_START, 1)
    _, after = rest.split(CARD_END, 1)
    card.write_text(before + metrics_markdown(suite) + after, encoding="utf-8")
