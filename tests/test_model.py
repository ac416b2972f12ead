import shutil

import pytest

from rjcoach.encoder import ModelFileError
from rjcoach.model import CONFIG_FILE, WEIGHTS_FILE, ModelConfig, load_model, model_dir_from_env

pytestmark = pytest.mark.slow


def test_shipped_model_is_small_and_recorded():
    d = model_dir_from_env()
    size = sum(p.stat().st_size for p in d.parent.rglob("*") if p.is_file())
    assert size <= 30 * 1024 * 1024
    cfg = ModelConfig.load(d)
    assert len(cfg.thresholds) == 17 and all(0 < t < 1 for t in cfg.thresholds)
    assert cfg.training["sources"]


def test_corrupted_weights_stop_with_file_hash_and_fix(tmp_path):
    d = model_dir_from_env()
    shutil.copy(d / CONFIG_FILE, tmp_path / CONFIG_FILE)
    data = bytearray((d / WEIGHTS_FILE).read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / WEIGHTS_FILE).write_bytes(bytes(data))
    expected = ModelConfig.load(d).weights_sha256
    with pytest.raises(ModelFileError) as err:
        load_model(tmp_path)
    msg = str(err.value)
    assert str(tmp_path / WEIGHTS_FILE) in msg and expected in msg and "rjcoach train" in msg


def test_missing_weights_stop(tmp_path):
    shutil.copy(model_dir_from_env() / CONFIG_FILE, tmp_path / CONFIG_FILE)
    with pytest.raises(ModelFileError, match="missing"):
        load_model(tmp_path)


def test_bert_layer_without_context_is_the_layers_own_forward():
    import torch

    from rjcoach.model import RubricClassifier, bert_layer

    model = RubricClassifier(3).eval()
    torch.manual_seed(0)
    h = torch.randn(2, 7, 384)
    mask = torch.ones(2, 7)
    mask[1, 5:] = 0  # the second row is padded
    bias = (1.0 - mask[:, None, None, :]) * torch.finfo(torch.float32).min  # what BERT layers take
    layer = model.encoder.encoder.layer[3]
    with torch.inference_mode():
        ours = bert_layer(layer, h, [7, 5])
        theirs = layer(h, attention_mask=bias)
        theirs = theirs[0] if isinstance(theirs, tuple) else theirs
    assert torch.allclose(ours[0], theirs[0], atol=1e-5)
    assert torch.allclose(ours[1, :5], theirs[1, :5], atol=1e-5)


def test_tuned_forward_reads_the_context_and_ignores_padding():
    import torch

    from rjcoach.model import RubricClassifier

    model = RubricClassifier(3).eval()
    torch.manual_seed(1)
    h, hc = torch.randn(1, 6, 384), torch.randn(1, 9, 384)
    feats = torch.zeros(1, 17)
    one, none = torch.ones(1, 6), torch.zeros(1, 0)
    with torch.inference_mode():
        alone = model.tuned_forward(h, one, hc[:, :0], none, feats)
        with_ctx = model.tuned_forward(h, one, hc, torch.ones(1, 9), feats)
        # the same two rows in one batch: the first without a context, the second padded to 9 tokens
        hb = torch.cat([h, torch.cat([h[:, :4], torch.zeros(1, 2, 384)], 1)])
        mb = torch.tensor([[1.0] * 6, [1.0] * 4 + [0.0] * 2])
        hcb = torch.cat([torch.zeros(1, 9, 384), hc])
        cmb = torch.stack([torch.zeros(9), torch.ones(9)])
        both = model.tuned_forward(hb, mb, hcb, cmb, torch.zeros(2, 17))
        short = model.tuned_forward(h[:, :4], torch.ones(1, 4), hc, torch.ones(1, 9), feats)
    assert not torch.allclose(alone, with_ctx, atol=1e-4)  # the context matters
    assert torch.allclose(both[0], alone[0], atol=1e-5)
    assert torch.allclose(both[1], short[0], atol=1e-5)


def test_tuned_features_are_what_the_head_reads():
    import torch

    from rjcoach.model import RubricClassifier

    model = RubricClassifier(3).eval()
    torch.manual_seed(2)
    h, hc, feats = torch.randn(2, 5, 384), torch.randn(2, 7, 384), torch.rand(2, 17)
    mask, cmask = torch.ones(2, 5), torch.ones(2, 7)
    with torch.inference_mode():
        x = model.tuned_features(h, mask, hc, cmask, feats)
        logits = model.tuned_forward(h, mask, hc, cmask, feats)
        from_features = model.head(x)
    assert x.shape == (2, 2 * 384 + 17)
    assert torch.equal(x[:, -17:], feats)  # the rule cues ride at the end
    assert torch.allclose(from_features, logits, atol=1e-6)


def test_context_ids_keep_the_end_of_a_long_line():
    from transformers import AutoTokenizer

    from rjcoach.encoder import encoder_dir
    from rjcoach.model import context_ids

    tok = AutoTokenizer.from_pretrained(str(encoder_dir()), local_files_only=True)
    long_line = "it was fine at first " * 40 + "and then I was terrified"
    rows = context_ids(tok, [long_line, None, "   ", "Hi."], limit=16)
    assert len(rows[0]) == 16 and rows[0][0] == tok.cls_token_id and rows[0][-1] == tok.sep_token_id
    assert tok.decode(rows[0][1:-1]).endswith("and then i was terrified")
    assert rows[1] == [] and rows[2] == []
    assert rows[3] == tok("Hi.")["input_ids"]


@pytest.mark.parametrize("mode", ["sideways", None])
def test_a_model_from_an_older_rjcoach_is_refused_with_the_fix(tmp_path, mode):
    """Models built before message and context were read apart have no (or another) context_mode."""
    import json

    raw = json.loads((model_dir_from_env() / CONFIG_FILE).read_text())
    raw.pop("context_mode")
    if mode:
        raw["context_mode"] = mode
    (tmp_path / CONFIG_FILE).write_text(json.dumps(raw))
    with pytest.raises(ModelFileError, match=f"context_mode {mode!r}") as err:
        ModelConfig.load(tmp_path)
    assert str(tmp_path / CONFIG_FILE) in str(err.value) and "rjcoach train" in str(err.value)


def test_bfloat16_states_do_not_depend_on_the_batch():
    """In bfloat16 a message's states are bit for bit the same alone and padded into a batch with
    longer messages and contexts (attention runs text by text), so its flags never depend on who
    else was typing."""
    import torch

    from rjcoach.model import RubricClassifier, bert_layer

    model = RubricClassifier(3).eval()
    model.encoder.to(torch.bfloat16)
    torch.manual_seed(3)
    ids, ctx = torch.randint(1000, 5000, (4, 12)), torch.randint(1000, 5000, (4, 30))
    mask, cmask = torch.ones(4, 12, dtype=torch.long), torch.ones(4, 30, dtype=torch.long)
    mask[0, 5:], cmask[0, 7:] = 0, 0  # the first message and its context are the shortest

    def upper(ids, mask, ctx, cmask):
        h, hc = model.frozen_states(ids, mask), model.frozen_states(ctx, cmask)
        for layer in model.encoder.encoder.layer[3:]:
            h = bert_layer(layer, h, mask.sum(1).tolist(), hc, cmask.sum(1).tolist())
        return h

    with torch.inference_mode():
        batch = upper(ids, mask, ctx, cmask)
        alone = upper(ids[:1, :5], mask[:1, :5], ctx[:1, :7], cmask[:1, :7])
    assert torch.equal(alone[0], batch[0, :5])
