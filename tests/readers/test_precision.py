"""Reader precision: bf16 only where the CPU computes it natively; a user may force any precision."""

from __future__ import annotations

import pytest

from qa_app.readers.inference import autocast_bf16, cpu_has_native_bf16, use_bf16

XEON = "processor\t: 0\nmodel name\t: Intel Xeon\nflags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_vnni\n"
EPYC = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n"
SAPPHIRE = "flags\t\t: fpu avx512f amx_tile amx_bf16 amx_int8\n"
ARM = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes\n"


def test_native_bf16_is_read_from_the_cpu_flags() -> None:
    assert not cpu_has_native_bf16(XEON)  # AVX-512 without BF16: oneDNN would emulate it, 3x slower
    assert cpu_has_native_bf16(EPYC)
    assert cpu_has_native_bf16(SAPPHIRE)
    assert not cpu_has_native_bf16(ARM)
    assert not cpu_has_native_bf16("")


def test_forced_precisions_override_the_cpu_and_auto_follows_it() -> None:
    assert autocast_bf16("bf16") is True
    assert autocast_bf16("fp32") is False
    assert autocast_bf16("int8") is False
    assert autocast_bf16("auto") is use_bf16()
    if not cpu_has_native_bf16():
        assert use_bf16() is False
    with pytest.raises(ValueError, match="precision"):
        autocast_bf16("fp16")


def test_the_cpu_model_name_comes_from_cpuinfo() -> None:
    from qa_app.machine import cpu_model_name

    assert cpu_model_name("processor\t: 0\nmodel name\t: AMD EPYC 9B14\nflags\t: fpu\n") == "AMD EPYC 9B14"
    assert cpu_model_name("")  # no model name line: the platform's answer, never empty
