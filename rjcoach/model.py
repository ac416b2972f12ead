"""The trained rubric classifier: the packaged MiniLM encoder with its top layers fine-tuned.

Input is the trainee's utterance and the other person's previous line (the context). Each goes
through the frozen lower layers on its own; in the tuned layers the utterance's tokens attend to
themselves and to the context's frozen states, which are not updated (``context_mode = "cross"``).
So only the utterance's tokens pass through the tuned layers, a context's lower states serve every
message that answers the same line, and the utterance's lower states are exactly the sentence
encoder's, which topic matching finishes instead of starting again (``rjcoach.embeddings``).

The utterance tokens and the context tokens are mean-pooled separately, joined with the rule-cue
features, and a linear head gives one logit per rubric label. Per-label Platt scaling turns logits
into calibrated probabilities; per-label thresholds (tuned on validation data) turn those into
labels. Only what the project trained is stored in ``models/analyser`` (the fine-tuned top layers,
the head, calibration and thresholds); the frozen lower layers come from the encoder package.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from rjcoach.encoder import FIX as ENCODER_FIX
from rjcoach.encoder import ModelFileError, encoder_dir, sha256_of, verify_file
from rjcoach.labels import LABELS

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_DIR = REPO_ROOT / "models" / "analyser"
WEIGHTS_FILE = "weights.safetensors"
CONFIG_FILE = "config.json"
MAX_TOKENS = 128
CONTEXT_TOKENS = 64
"""Word pieces of the context kept: its end, which is what the message answers."""
CONTEXT_MODE = "cross"
N_RULE_FEATURES = len(LABELS)
MODEL_FIX = "restore it with `git checkout -- models/` or rebuild it with `rjcoach train`"


def model_dir_from_env() -> Path:
    return Path(os.environ.get("RJCOACH_MODEL_DIR", DEFAULT_MODEL_DIR))


@dataclass
class ModelConfig:
    """What is saved beside the weights: architecture, calibration, thresholds and provenance."""

    labels: list[str] = field(default_factory=lambda: list(LABELS))
    tuned_layers: int = 2
    max_tokens: int = MAX_TOKENS
    context_mode: str = CONTEXT_MODE
    context_tokens: int = CONTEXT_TOKENS
    platt_a: list[float] = field(default_factory=lambda: [1.0] * len(LABELS))
    platt_b: list[float] = field(default_factory=lambda: [0.0] * len(LABELS))
    thresholds: list[float] = field(default_factory=lambda: [0.5] * len(LABELS))
    accusatory_threshold: float | None = None
    weights_sha256: str = ""
    training: dict = field(default_factory=dict)
    calibration: dict = field(default_factory=dict)

    def save(self, directory: Path) -> None:
        (directory / CONFIG_FILE).write_text(json.dumps(self.__dict__, indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> "ModelConfig":
        path = directory / CONFIG_FILE
        if not path.is_file():
            raise ModelFileError(f"model config missing: {path}; {MODEL_FIX}")
        raw = json.loads(path.read_text())
        mode = raw.get("context_mode")
        if mode != CONTEXT_MODE:  # models built before read message and context as one sentence pair
            raise ModelFileError(
                f"{path}: context_mode {mode!r} is not {CONTEXT_MODE!r} (a model from an older rjcoach that "
                f"this one cannot run); {MODEL_FIX}"
            )
        cfg = cls(**raw)
        if cfg.labels != list(LABELS):
            raise ModelFileError(
                f"{path} was trained for labels {cfg.labels}, but the rubric has {list(LABELS)}; "
                "retrain with `rjcoach train`"
            )
        return cfg


class RubricClassifier(nn.Module):
    """MiniLM encoder + separate pooling of utterance and context + rule features -> 17 logits."""

    def __init__(self, tuned_layers: int = 2, encoder_path: Path | None = None) -> None:
        super().__init__()
        from transformers import AutoModel

        path = encoder_path or encoder_dir()
        self.encoder = AutoModel.from_pretrained(str(path), local_files_only=True)
        self.encoder.eval()
        n_layers = len(self.encoder.encoder.layer)
        if not 0 <= tuned_layers <= n_layers:
            raise ValueError(f"tuned_layers must be between 0 and {n_layers}, got {tuned_layers}")
        self.tuned_layers = tuned_layers
        self.split = n_layers - tuned_layers
        hidden = self.encoder.config.hidden_size
        self.context_role = nn.Parameter(torch.zeros(hidden))  # marks the other speaker's states
        self.dropout = nn.Dropout(0.1)
        self.head = nn.Linear(2 * hidden + N_RULE_FEATURES, len(LABELS))

    # -- the two halves, so training can cache the frozen half ------------------------------
    @torch.no_grad()
    def frozen_states(self, input_ids, attention_mask) -> torch.Tensor:
        """Hidden states after the frozen lower layers (no gradient): the base encoder's own."""
        return encode(self.encoder, input_ids, attention_mask, self.split)

    def tuned_forward(self, h, mask, h_ctx, ctx_mask, rule_features) -> torch.Tensor:
        """Logits from the utterance's and the context's frozen-layer states.

        ``h`` [B, T, H] and ``h_ctx`` [B, C, H] (C may be 0) come from :meth:`frozen_states` run on
        each alone; ``mask`` and ``ctx_mask`` mark their real tokens. Pooling and the head run in
        float32 whatever precision the encoder runs in.
        """
        return self.head(self.dropout(self.tuned_features(h, mask, h_ctx, ctx_mask, rule_features)))

    def tuned_features(self, h, mask, h_ctx, ctx_mask, rule_features) -> torch.Tensor:
        """What the head reads [B, 2H + rule features]: the pooled message after the tuned layers,
        the pooled context and the rule cues (arguments as for :meth:`tuned_forward`)."""
        lengths, ctx_lengths = mask.sum(1).tolist(), ctx_mask.sum(1).tolist()
        kv_ctx = h_ctx + self.context_role.to(h.dtype)
        for layer in self.encoder.encoder.layer[self.split :]:
            h = bert_layer(layer, h, lengths, kv_ctx, ctx_lengths, self.training)
        text_vec = _masked_mean(h.float(), mask.float())
        ctx_vec = _masked_mean(h_ctx.float(), ctx_mask.float())
        return torch.cat([text_vec, ctx_vec, rule_features.float()], dim=-1)

    def forward(self, ids, mask, ctx_ids, ctx_mask, rule_features) -> torch.Tensor:
        return self.tuned_forward(self.frozen_states(ids, mask), mask, self.frozen_states(ctx_ids, ctx_mask),
                                  ctx_mask, rule_features)

    # -- what is saved ------------------------------------------------------------------------
    def trained_state(self) -> dict[str, torch.Tensor]:
        """Only the parameters training changes: the tuned layers and the head."""
        state = {}
        for i in range(self.split, self.split + self.tuned_layers):
            for k, v in self.encoder.encoder.layer[i].state_dict().items():
                state[f"layer.{i}.{k}"] = v
        for k, v in self.head.state_dict().items():
            state[f"head.{k}"] = v
        state["context_role"] = self.context_role
        return state

    def load_trained_state(self, state: dict[str, torch.Tensor]) -> None:
        expected = set(self.trained_state())
        got = set(state)
        if expected != got:
            raise ModelFileError(
                f"weights do not fit the model: missing {sorted(expected - got)[:5]}, "
                f"unexpected {sorted(got - expected)[:5]}; {MODEL_FIX}"
            )
        for i in range(self.split, self.split + self.tuned_layers):
            prefix = f"layer.{i}."
            self.encoder.encoder.layer[i].load_state_dict(
                {k[len(prefix):]: v.float() for k, v in state.items() if k.startswith(prefix)}
            )
        self.head.load_state_dict({k[5:]: v.float() for k, v in state.items() if k.startswith("head.")})
        with torch.no_grad():
            self.context_role.copy_(state["context_role"].float())


def encode(bert, input_ids, attention_mask, layers: int | None = None) -> torch.Tensor:
    """A BERT model's hidden states after its first ``layers`` layers (all by default)."""
    h = bert.embeddings(input_ids=input_ids, token_type_ids=torch.zeros_like(input_ids))
    return run_layers(bert.encoder.layer[:layers], h, attention_mask)


def run_layers(layers, h: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """``h`` through BERT ``layers`` in turn; ``attention_mask`` marks each row's real tokens, which
    come first (right padding). The frozen half here; the sentence encoder in ``rjcoach.embeddings``."""
    lengths = attention_mask.sum(1).tolist()
    for layer in layers:
        h = bert_layer(layer, h, lengths)
    return h


def bert_layer(layer, h, lengths, kv_ctx=None, ctx_lengths=None, training: bool = False):
    """One BERT layer with its own weights. Row ``j`` of ``h`` has ``lengths[j]`` real tokens (then
    padding); they attend to themselves and, when context states are given, to the first
    ``ctx_lengths[j]`` rows of ``kv_ctx[j]``. Only ``h`` is updated. With no context this is the
    layer's ordinary forward pass.

    Attention is computed in float32. In bfloat16 it runs text by text on the real tokens only: the
    attention kernel rounds differently for different padded lengths, and bfloat16 then carries
    that difference on, which made a message's scores depend on what it was batched with (the
    linear layers work row by row and do not). In float32 one padded call moves results by about
    1e-7, far below anything a threshold can see."""
    att = layer.attention.self
    b, t, hidden = h.shape
    heads, size = att.num_attention_heads, att.attention_head_size
    with_ctx = kv_ctx is not None and kv_ctx.shape[1] > 0
    kv = torch.cat([h, kv_ctx], 1) if with_ctx else h
    s = kv.shape[1]
    q = att.query(h).view(b, t, heads, size).transpose(1, 2).float()
    k = att.key(kv).view(b, s, heads, size).transpose(1, 2).float()
    v = att.value(kv).view(b, s, heads, size).transpose(1, 2).float()
    dropout = att.dropout.p if training else 0.0
    if h.dtype == torch.float32:
        real = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]
        if with_ctx:
            ctx_real = torch.arange(s - t)[None, :] < torch.tensor(ctx_lengths)[:, None]
            real = torch.cat([real, ctx_real], 1)
        bias = (~real)[:, None, None, :].float() * torch.finfo(torch.float32).min
        a = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout, scale=att.scaling)
    else:
        a = torch.zeros(b, heads, t, size)
        for j, n in enumerate(lengths):
            if not n:
                continue
            kj, vj = k[j, :, :n], v[j, :, :n]
            if with_ctx and ctx_lengths[j]:
                end = t + ctx_lengths[j]
                kj, vj = torch.cat([kj, k[j, :, t:end]], 1), torch.cat([vj, v[j, :, t:end]], 1)
            a[j, :, :n] = nn.functional.scaled_dot_product_attention(q[j, :, :n], kj, vj, scale=att.scaling)
    h = layer.attention.output(a.transpose(1, 2).reshape(b, t, hidden).to(h.dtype), h)
    return layer.output(layer.intermediate(h), h)


def pad_ids(rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Token id lists -> (ids, mask), zero-padded on the right; ``[B, 0]`` when every row is empty."""
    n = max((len(r) for r in rows), default=0)
    ids = torch.zeros(len(rows), n, dtype=torch.long)
    mask = torch.zeros(len(rows), n, dtype=torch.long)
    for j, r in enumerate(rows):
        ids[j, : len(r)] = torch.tensor(r, dtype=torch.long)
        mask[j, : len(r)] = 1
    return ids, mask


def pad_states(states, hidden: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-text hidden states ``[len_i, hidden]`` (``None`` for no text) -> (``[B, T, hidden]``
    zero-padded on the right in ``dtype``, ``[B, T]`` mask of the real positions)."""
    n = max((0 if s is None else s.shape[0]) for s in states)
    h = torch.zeros(len(states), n, hidden, dtype=dtype)
    mask = torch.zeros(len(states), n, dtype=torch.long)
    for j, s in enumerate(states):
        if s is not None:
            h[j, : s.shape[0]] = s
            mask[j, : s.shape[0]] = 1
    return h, mask


def context_ids(tokenizer, contexts, limit: int = CONTEXT_TOKENS) -> list[list[int]]:
    """Token ids of each context on its own: ``[CLS]`` + its last ``limit - 2`` word pieces +
    ``[SEP]`` (the end of a long line is what the message answers); ``[]`` for none or blank."""
    texts = [c if isinstance(c, str) else "" for c in contexts]
    pieces = tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
    keep = max(1, limit - 2)
    return [[tokenizer.cls_token_id, *p[-keep:], tokenizer.sep_token_id] if t.strip() and p else []
            for t, p in zip(texts, pieces)]


def _masked_mean(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    summed = (h * mask.unsqueeze(-1)).sum(1)
    count = mask.sum(1, keepdim=True).clamp(min=1.0)
    return summed / count


def save_model(model: RubricClassifier, cfg: ModelConfig, directory: Path) -> None:
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.trained_state().items()}
    path = directory / WEIGHTS_FILE
    save_file(state, str(path))
    cfg.weights_sha256 = sha256_of(path)
    cfg.tuned_layers = model.tuned_layers
    cfg.save(directory)


def load_model(directory: Path | None = None) -> tuple[RubricClassifier, ModelConfig]:
    """Load the shipped classifier; a missing or altered file stops with the file, hash and fix."""
    from safetensors.torch import load_file

    directory = directory or model_dir_from_env()
    cfg = ModelConfig.load(directory)
    weights = verify_file(directory / WEIGHTS_FILE, cfg.weights_sha256, MODEL_FIX)
    model = RubricClassifier(cfg.tuned_layers)
    model.load_trained_state(load_file(str(weights)))
    model.eval()
    return model, cfg


__all__ = [
    "ENCODER_FIX",
    "ModelConfig",
    "RubricClassifier",
    "load_model",
    "save_model",
]
