"""How long *Train classifier* takes on a slide the first time and again after a few more labels,
through the same functions the app's run calls (features at every nucleus, kept in a
``FeatureCache``; the head and its 5-fold cross-validation; the other nuclei classed).

Labels stand in for a pathologist's: n random detected nuclei in two random classes (what they
say does not matter here, only how many there are).

    python scripts/bench_retrain.py ../shared/fixtures/wsi/CMU-1-Small-Region.svs --model fast --labels 200 2000
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from wnet_gui.classify.feature_cache import FeatureCache
from wnet_gui.classify.features import at_points
from wnet_gui.classify.teach import feature_source, from_features, read_missing
from wnet_gui.engine.detect import DetectOptions, detect_slide
from wnet_gui.models.zoo import resolve_card
from wnet_gui.slides import open_slide


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("slide", type=Path)
    ap.add_argument("--model", default="fast")
    ap.add_argument("--labels", type=int, nargs="+", default=[200, 2000])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:  # the engine writes nothing beside the original
        path = Path(shutil.copy(args.slide, Path(tmp) / args.slide.name))
        detector = resolve_card(args.model)
        options = DetectOptions(device="cpu")
        run = detect_slide(path, detector, Path(tmp) / "points.geojson", options=options)
        slide = open_slide(path)
        xy = run.centres
        print(f"{path.name}: {len(xy):,} nuclei detected by {detector.name}")
        rng = np.random.default_rng(0)
        for n in args.labels:
            n = min(n, len(xy) - 10)
            order = rng.permutation(len(xy))
            labelled = np.zeros(len(xy), bool)
            labelled[order[:n]] = True
            kind = rng.random(len(xy)) > 0.5
            cache = FeatureCache()
            source = feature_source(path, slide.mpp, detector)
            for attempt in ("first training", "retrain (3 more labels)"):
                names = ["dense" if k else "pale" for k in kind[labelled]]
                t = time.perf_counter()
                features = read_missing(cache, source, xy, lambda pts: at_points(slide, detector, pts, options))
                read = time.perf_counter() - t
                t = time.perf_counter()
                card = from_features(features[labelled], names, {}, detector, "bench", [path.name])
                taught = time.perf_counter() - t
                t = time.perf_counter()
                card.classify(features[~labelled])
                classed = time.perf_counter() - t
                print(f"{n:>5} labelled, {attempt}: features {read:.1f} s, head + 5-fold CV {taught:.1f} s, "
                      f"classing {int((~labelled).sum()):,} others {classed:.2f} s; total {read + taught + classed:.1f} s", flush=True)
                cache.store(source, xy, features)
                labelled[order[n : n + 3]] = True
        slide.close()


if __name__ == "__main__":
    main()
