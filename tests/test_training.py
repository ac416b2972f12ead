import numpy as np
import pytest
import torch

from rjcoach.model import ModelConfig
from rjcoach.sources import GROUPS, TARGETS, _esconv_targets, load_sources
from rjcoach.training import (
    TrainSettings,
    _group_matrix,
    best_threshold,
    fit_platt,
    target_log_probs,
    train,
)


def test_noisy_or_group_probability():
    logits = torch.tensor([[0.0] * 17])  # every label p = 0.5
    lp, lnp = target_log_probs(logits, _group_matrix())
    names = list(TARGETS)
    q = names.index("any_question")  # 2 members: 1 - 0.25
    assert torch.exp(lp[0, q]).item() == pytest.approx(0.75, abs=1e-5)
    acc = names.index("accusatory_any")  # 7 members
    assert torch.exp(lnp[0, acc]).item() == pytest.approx(0.5 ** 7, rel=1e-4)
    assert len(GROUPS["accusatory_any"]) == 7


def test_esconv_mapping():
    assert _esconv_targets("Question", "How are you?")["any_question"] == 1
    t = _esconv_targets("Reflection of feelings", "You seem anxious.")
    assert t["reflection"] == 1 and t["emotion_label"] == 1 and t["any_question"] == 0
    assert "any_question" not in _esconv_targets("Restatement or Paraphrasing", "So it's not protected?")
    assert _esconv_targets("Providing Suggestions", "Try a walk.")["advice"] == 1


def test_platt_and_threshold_recover_simple_cases():
    rng = np.random.default_rng(0)
    x = rng.normal(size=2000)
    y = (rng.random(2000) < 1 / (1 + np.exp(-2 * x))).astype(float)
    a, b = fit_platt(x, y)
    assert a == pytest.approx(2.0, abs=0.3) and abs(b) < 0.3
    p = np.array([0.1, 0.2, 0.8, 0.9])
    th = best_threshold(p, np.array([0, 0, 1, 1]))
    assert 0.2 < th <= 0.8


def test_indomain_sources_carry_full_labels():
    ex = load_sources(("indomain",))
    assert all(set(e.targets) == set(TARGETS[:17]) and e.labels is not None for e in ex)
    assert {e.split for e in ex} == {"train", "validation", "test"}


@pytest.mark.slow
def test_seeded_tiny_training_is_repeatable_and_loads(tmp_path):
    from rjcoach.analyzer import Analyzer

    settings = TrainSettings(sources=("indomain",), epochs=1, limit=160, seed=3)
    train(settings, tmp_path / "a", log=lambda *_: None)
    train(settings, tmp_path / "b", log=lambda *_: None)
    a, b = ModelConfig.load(tmp_path / "a"), ModelConfig.load(tmp_path / "b")
    assert a.weights_sha256 == b.weights_sha256
    assert a.thresholds == b.thresholds
    result = Analyzer(tmp_path / "a").analyze("Why did you take it?", "I took it.")
    assert set(result.scores) and all(0 <= s <= 1 for s in result.scores.values())
