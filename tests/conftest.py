"""Shared fixtures: bundled sample tiles, the shared data sets (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "resources" / "samples"
SAMPLE_TIFF = SAMPLES / "monuseg_TCGA-2Z-A9J9_crop.tif"
SAMPLE_TRUTH = SAMPLES / "monuseg_TCGA-2Z-A9J9_crop_truth.geojson"


def _shared() -> Path:
    from wnet_gui.datasets import shared_data_dir

    return shared_data_dir()


@pytest.fixture(scope="session")
def monuseg_root() -> Path:
    root = _shared() / "monuseg"
    if not (root / "train").is_dir():
        pytest.skip(f"MoNuSeg not found at {root} (../shared/data is absent on this clone)")
    return root


@pytest.fixture(scope="session")
def crchisto_root() -> Path:
    root = _shared() / "crchisto"
    if not (root / "test").is_dir():
        pytest.skip(f"CRCHisto not found at {root} (../shared/data is absent on this clone)")
    return root


@pytest.fixture(scope="session")
def sample_tiff() -> Path:
    return SAMPLE_TIFF


@pytest.fixture(scope="session")
def sample_truth() -> Path:
    return SAMPLE_TRUTH
