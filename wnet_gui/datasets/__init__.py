"""Loaders for the annotated datasets used to train and evaluate (MoNuSeg, CRCHisto)."""

from __future__ import annotations

import os
from pathlib import Path


def shared_data_dir() -> Path:
    """Where the annotated data sets live: $WNET_DATA, else ../shared/data beside the repo."""
    env = os.environ.get("WNET_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "data"
