"""Cut the small bundled sample tiles (with their nucleus outlines) from MoNuSeg test tiles.

Run once by a maintainer: python scripts/make_samples.py. The samples carry MoNuSeg's
licence (CC BY-NC-SA 4.0); see resources/samples/README.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from wnet_gui.annotations import NucleusStore, write_geojson
from wnet_gui.datasets import monuseg

OUT = Path(__file__).resolve().parents[1] / "resources" / "samples"
CROPS = [  # (tile, x, y, size)
    ("TCGA-2Z-A9J9-01A-01-TS1", 250, 250, 512),
    ("TCGA-AC-A2FO-01A-01-TS1", 400, 300, 512),
]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, x0, y0, size in CROPS:
        tile = monuseg.load_tile(monuseg.monuseg_dir() / "test" / f"{name}.tif")
        crop = tile.image[y0 : y0 + size, x0 : x0 + size]
        stem = f"monuseg_{name[:12]}_crop"
        pixels_per_cm = 1e4 / monuseg.MONUSEG_MPP
        tifffile.imwrite(OUT / f"{stem}.tif", crop, compression="lzw", photometric="rgb",
                         resolution=(pixels_per_cm, pixels_per_cm), resolutionunit="CENTIMETER")
        store = NucleusStore()
        keep = [p - [x0, y0] for p in tile.polygons
                if p[:, 0].min() >= x0 and p[:, 1].min() >= y0 and p[:, 0].max() < x0 + size and p[:, 1].max() < y0 + size]
        cents = np.array([monuseg.polygon_centroid(p) for p in keep])
        store.add_many(cents[:, 0], cents[:, 1], source="MoNuSeg", polygons=keep)
        write_geojson(store, OUT / f"{stem}_truth.geojson", object_type="annotation")
        print(stem, len(keep), "nuclei")


if __name__ == "__main__":
    main()
