"""The run-time number format: what each setting resolves to, and that the analyser honours it."""
import pytest

from rjcoach import precision


@pytest.mark.parametrize(
    "setting, native, onednn, expected",
    [
        (None, True, True, "bfloat16"),  # the default is auto
        (None, False, True, "float32"),
        ("auto", True, True, "bfloat16"),
        ("auto", False, True, "float32"),  # emulated bfloat16 is slower than float32
        ("auto", True, False, "float32"),
        (" Float32 ", True, True, "float32"),
        ("bfloat16", False, False, "bfloat16"),  # asked for by name: honoured
    ],
)
def test_choose(setting, native, onednn, expected):
    assert precision.choose(setting, native, onednn) == expected


def test_unknown_setting_is_refused_by_name():
    with pytest.raises(ValueError, match="RJCOACH_PRECISION='fp8' is not one of auto, float32, bfloat16"):
        precision.choose("fp8", True, True)


def test_cpu_flags(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor : 0\nflags : fpu sse2 avx2 avx512f avx512_bf16 fma\n")
    assert precision.cpu_has_native_bf16(info)
    info.write_text("processor : 0\nflags : fpu sse2 avx2 avx512f avx512_vnni\n")
    assert not precision.cpu_has_native_bf16(info)
    assert not precision.cpu_has_native_bf16(tmp_path / "missing")


def test_analyser_encoder_runs_in_the_chosen_precision_and_head_in_float32():
    import torch

    from rjcoach.analyzer import get_analyzer

    model = get_analyzer().component.model
    assert next(model.encoder.parameters()).dtype == precision.dtype()
    assert model.head.weight.dtype == torch.float32
