"""Builders shared by tests: pyramidal TIFFs from the bundled sample, the sample as a training
tile, tiny models (plain and typed) exported as cards. Test modules import these from here,
never from each other."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from wnet_gui.slides.image_slide import load_rgb
from wnet_gui.slides.writer import write_pyramidal_tiff  # noqa: F401  (re-exported for the tests)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_TIFF = ROOT / "resources" / "samples" / "monuseg_TCGA-2Z-A9J9_crop.tif"
SAMPLE_TIFF_2 = ROOT / "resources" / "samples" / "monuseg_TCGA-AC-A2FO_crop.tif"


def sample_mosaic() -> np.ndarray:
    """1024×1024 40× tissue: the two samples and their mirror images."""
    a, b = load_rgb(SAMPLE_TIFF)[0], load_rgb(SAMPLE_TIFF_2)[0]
    return np.concatenate([np.concatenate([a, b], axis=1), np.concatenate([b[::-1], a[:, ::-1]], axis=1)], axis=0)


def write_tiff(path: Path, image: np.ndarray, mpp: float) -> Path:
    ppcm = 1e4 / mpp
    tifffile.imwrite(path, image, photometric="rgb", resolution=(ppcm, ppcm), resolutionunit="CENTIMETER")
    return path


def header_only_tiff(path: Path, width: int, height: int, tile: int = 1024, value: int = 255) -> Path:
    """A tiled RGB TIFF of any size in a few kB: every tile points at one shared deflated
    tile (a 65,536² slide is a 36 kB file). OpenSlide opens it as 'generic-tiff'."""
    import struct
    import zlib

    data = zlib.compress(np.full((tile, tile, 3), value, np.uint8).tobytes(), 9)
    n = -(-width // tile) * -(-height // tile)
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 3, None), (259, 3, 1, 8), (262, 3, 1, 2), (277, 3, 1, 3),
               (284, 3, 1, 1), (296, 3, 1, 1), (317, 3, 1, 1), (322, 3, 1, tile), (323, 3, 1, tile), (324, 4, n, None),
               (325, 4, n, None), (339, 3, 1, 1)]
    bps_at = 8 + 2 + 12 * len(entries) + 4
    offsets_at = bps_at + 6
    counts_at = offsets_at + 4 * n
    data_at = counts_at + 4 * n
    late = {258: bps_at, 324: offsets_at, 325: counts_at}
    ifd = b"".join(struct.pack("<HHII", tag, kind, count, late.get(tag, value)) for tag, kind, count, value in entries)
    out = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", len(entries)) + ifd + struct.pack("<I", 0)
    out += struct.pack("<HHH", 8, 8, 8) + struct.pack(f"<{n}I", *[data_at] * n) + struct.pack(f"<{n}I", *[len(data)] * n) + data
    path.write_bytes(out)
    return path


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width``×``height`` (the pixel data is a stub)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))
    return path


def darkness(path: Path, xy: np.ndarray) -> np.ndarray:
    """Mean darkness within 4 px of each centre: a property a pathologist could class nuclei by
    (dense vs pale chromatin), and one a taught classifier must see in its features to learn."""
    image = load_rgb(path)[0].astype(np.float32).mean(axis=2)
    h, w = image.shape
    out = []
    for x, y in np.round(xy).astype(int):
        patch = image[max(0, y - 4) : min(h, y + 5), max(0, x - 4) : min(w, x + 5)]
        out.append(255 - patch.mean())
    return np.asarray(out)


# a W-Net small enough to train in seconds on a CPU
TINY = {
    "kind": "wnet",
    "stage1": {"encoder": "basic", "decoder_channels": [8, 16, 32], "encoder_depth": 3},
    "stage2": {"encoder": "basic", "decoder_channels": [4, 8], "encoder_depth": 2},
}
TYPES = ["Epithelial", "Inflammatory", "Stromal", "Other"]


def tiny_card(tmp_path):
    """TINY with seeded random weights, exported as a card in ``tmp_path``."""
    import torch

    from wnet_gui.models.card import ModelCard
    from wnet_gui.models.spec import ArchitectureSpec

    card = ModelCard(name="tiny", architecture=ArchitectureSpec.from_dict(TINY), mpp=0.5)
    torch.manual_seed(0)
    return card.export(card.build(), tmp_path)


def typed_card(tmp_path, forced_type: int | None = 2):
    """A tiny typed W-Net whose type head always says ``forced_type`` (bias), exported as a card."""
    import torch

    from wnet_gui.models.architectures import build_model
    from wnet_gui.models.card import ModelCard, PeakSettings
    from wnet_gui.models.spec import ArchitectureSpec

    spec = ArchitectureSpec.from_dict({**TINY, "types": TYPES})
    torch.manual_seed(0)
    model = build_model(spec)
    head = model.type_branch.head
    assert head.out_channels == len(TYPES) and model.stage1.head.out_channels == 1
    with torch.no_grad():
        head.weight.zero_()
        head.bias[:] = -10.0
        head.bias[forced_type] = 10.0
    card = ModelCard(name="typed-tiny", architecture=spec, mpp=0.5, margin=0, peaks=PeakSettings(threshold=0.0, min_distance_um=4.0))
    return card.export(model, tmp_path, half=False)


def sample_tile(sample_tiff, sample_truth):
    """The bundled sample as a training tile: pixels, centres, instances and outlines."""
    from wnet_gui.annotations import read_geojson
    from wnet_gui.datasets.monuseg import rasterise_instances
    from wnet_gui.datasets.tiles import NucleiTile

    image = load_rgb(sample_tiff)[0]
    parsed = read_geojson(sample_truth)
    polygons = [p for p in parsed.polygons]
    centres = np.stack([parsed.xs, parsed.ys], axis=1)
    return NucleiTile("sample", image, centres, 0.25, rasterise_instances(polygons, image.shape[:2]), polygons)
