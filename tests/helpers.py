"""Builders shared by tests: pyramidal TIFFs from the bundled sample, tiny models."""

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
