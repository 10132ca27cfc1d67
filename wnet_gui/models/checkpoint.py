"""Loading training checkpoints without running code from them.

A ``.pt`` file is a pickle, and unpickling can call any function: a checkpoint someone
sends you could run a program when ``wnet train`` resumes from it. Every checkpoint this
project writes holds only tensors, dicts, lists, numbers and strings (model, optimizer,
scheduler and RNG states), so all of them are read with PyTorch's restricted unpickler
(``weights_only=True``), which refuses anything else.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from .card import ModelError


class UnsafeCheckpointError(ModelError):
    """A checkpoint holds objects other than tensors and plain values, so it is not loaded."""


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """The contents of a checkpoint, read with the restricted unpickler.

    Raises ``UnsafeCheckpointError`` for a pickle that would build arbitrary objects (or
    call functions), ``ModelError`` for a missing or unreadable file."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "weights only load failed" in reason.lower():  # torch's first line is generic; the cause follows
            detail = [line for line in str(exc).splitlines() if "Unsupported" in line or "global" in line.lower()]
            reason = detail[0].strip() if detail else reason
        raise UnsafeCheckpointError(
            f"checkpoint {path} holds objects other than tensors and plain values and was not loaded "
            f"(loading it could run code): {reason[:200]}"
        ) from exc
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise ModelError(f"checkpoint {path} cannot be read: {str(exc)[:200]}") from exc
