"""The number format the encoders compute in at run time (training always uses float32).

``RJCOACH_PRECISION`` chooses: ``auto`` (the default), ``float32`` or ``bfloat16``. ``auto`` takes
bfloat16 only where the CPU computes it natively (AVX-512 BF16 or AMX, as listed in
``/proc/cpuinfo``) and oneDNN can use it; elsewhere bfloat16 would be emulated and slower, so
float32.

Measured on this project's machine (2026-11-25, docs/load.md): bfloat16 cuts the analyser's batched
cost per message by about a quarter and the 10-session closed-loop turn p95 from about 150 to about
130 ms, with the evaluation suite unchanged (in-domain macro-F1 0.849 against 0.848 in float32; the
shipped thresholds are calibrated in float32). A message's scores do not depend on what it is
batched with in either format: attention runs text by text in bfloat16 (``rjcoach.model.bert_layer``).
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

PRECISIONS = ("auto", "float32", "bfloat16")
ENV = "RJCOACH_PRECISION"
_NATIVE_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    try:
        flags = cpuinfo.read_text(errors="replace").split()
    except OSError:
        return False
    return any(f in flags for f in _NATIVE_FLAGS)


def choose(setting: str | None, native_bf16: bool, onednn_bf16: bool) -> str:
    """The precision a setting resolves to; an unknown setting is refused by name."""
    value = (setting or "auto").strip().lower()
    if value not in PRECISIONS:
        raise ValueError(f"{ENV}={setting!r} is not one of {', '.join(PRECISIONS)}")
    if value == "auto":
        return "bfloat16" if native_bf16 and onednn_bf16 else "float32"
    return value


@functools.lru_cache(maxsize=None)
def _resolved(setting: str | None) -> str:
    import torch

    return choose(setting, cpu_has_native_bf16(), bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()))


def precision() -> str:
    """``"float32"`` or ``"bfloat16"``, from ``RJCOACH_PRECISION`` and this CPU."""
    return _resolved(os.environ.get(ENV))


def dtype():
    import torch

    return torch.bfloat16 if precision() == "bfloat16" else torch.float32
