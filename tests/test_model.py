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
