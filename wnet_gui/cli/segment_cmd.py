"""``wnet segment``: NuClick masks for every point of a GeoJSON file."""

from __future__ import annotations

import argparse

from tqdm import tqdm

from ..annotations import NucleusStore, import_geojson, write_geojson
from ..nuclick.card import resolve_nuclick_card
from ..nuclick.engine import NuClickSegmenter
from ..slides import open_slide
from ..slides.scale import MppUnknownError


def run(args: argparse.Namespace) -> int:
    from ..annotations.qupath import run_namespace, slide_identity

    store = NucleusStore()
    import_geojson(store, args.points)  # refuses a pipe or a device before anything reads it
    # points without ids of their own get ids fixed by the slide and the points file
    store.namespace = run_namespace(args.slide, "segment", slide_identity(args.points))
    slide = open_slide(args.slide, mpp=args.mpp)
    if slide.mpp is None:  # before any progress bar: the error is the whole output
        raise MppUnknownError(slide.path)
    segmenter = NuClickSegmenter(resolve_nuclick_card(args.model), args.device)
    ids = store.ids()
    with tqdm(total=len(ids), desc="NuClick", unit="nucleus") as bar:
        found = 0
        for batch in segmenter.segment(slide, ids, store.coordinates(ids), batch_size=args.batch_size):
            store.set_polygons({int(i): p for i, p in zip(batch.ids, batch.polygons)})
            found += sum(p is not None for p in batch.polygons)
            bar.update(len(batch.ids))
    write_geojson(store, args.output, points_as=args.points_as, masks_as=args.masks_as)
    print(f"{found} of {len(ids)} points got a mask → {args.output}")
    return 0
