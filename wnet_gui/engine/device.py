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
