"""Device choice shared by the CLI, the GUI and training."""

from __future__ import annotations

import torch


def available_devices() -> list[str]:
    """'cpu' plus whichever accelerators this machine really has."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


def select_device(preference: str = "auto") -> torch.device:
    """'auto' → CUDA, else MPS, else CPU; an explicit choice must be present."""
    present = available_devices()
    if preference == "auto":
        for name in ("cuda", "mps"):
            if name in present:
                return torch.device(name)
        return torch.device("cpu")
    if preference not in present:
        raise ValueError(f"device {preference!r} is not available here (available: {', '.join(present)})")
    return torch.device(preference)


from ..settings import PRECISIONS


def native_bf16(device: torch.device) -> bool:
    """True where bfloat16 convolutions run on dedicated hardware (AVX-512-BF16/AMX, Ampere+).

    Elsewhere bf16 is emulated and slower than fp32, so 'auto' must not pick it. oneDNN's own
    test (``_is_mkldnn_bf16_supported``) also says yes on plain AVX-512, where it emulates bf16:
    on such a Xeon bf16 ran accurate at 0.23 Mpx/s against fp32's ~0.7 (BENCHMARKS.md), so the
    CPU's bf16 instructions are asked for directly."""
    if device.type == "cpu":
        cpu = getattr(torch, "cpu", None)
        try:
            return bool(cpu._is_avx512_bf16_supported() or cpu._is_amx_tile_supported())
        except (AttributeError, RuntimeError):  # an older torch: the kernel's flags, on Linux
            try:
                with open("/proc/cpuinfo", encoding="utf-8") as fh:
                    flags = fh.read()
            except OSError:
                return False
            return "avx512_bf16" in flags or "amx_bf16" in flags
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return False


def select_precision(preference: str, device: torch.device) -> str:
    """'auto' → bf16 autocast where the hardware does it natively, else fp32.

    bf16 with channels-last is 2–4× faster on this machine's CPU and moves the MoNuSeg test
    F1 by less than 0.005 (BENCHMARKS.md); fp32 stays available for exact reproduction."""
    if preference not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {preference!r}")
    if preference == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return preference


def memory_format(precision: str) -> torch.memory_format:
    """bf16 runs channels-last (oneDNN's fast convolutions need NHWC); fp32 stays NCHW."""
    return torch.channels_last if precision == "bf16" else torch.contiguous_format


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """The forward pass's autocast context: bfloat16 for 'bf16', a no-op for 'fp32'."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
