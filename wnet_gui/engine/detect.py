"""Nucleus detection over a slide region: tiles read ahead in a thread, batched through the
model, peaks kept by the tile whose core holds them, results streamed tile by tile.

``iter_detections`` is the engine the GUI worker and the CLI share; ``detect_slide`` is
the plain function (paths and options in, results file out, no global state) that a
cohort run can ship to Dask or Ray workers.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from ..models.card import ModelCard
from ..models.card_schema import SENSITIVITY_RANGE
from ..settings import PRECISIONS
from ..slides import Slide, SlideError, open_slide
from ..slides.scale import MppUnknownError, out_of_range, valid_mpp
from ..slides.tissue import UNIFORM_RANGE, TissueMask
from .device import select_device
from .predict import DensityPredictor
from ..geometry import PolygonRegion, Rect
from .tiling import Tile, fitted_tile_size, plan_tiles


MAX_UPSAMPLING = 8.0  # a model may see a slide at most 8× finer than it was scanned


class OptionError(ValueError):
    """An option out of its range; the message names it and the range."""


@dataclass
class DetectOptions:
    """How to run detection; checked when made, so a bad value fails at once with its name
    (in the CLI, the GUI and on a cluster worker alike) instead of deep inside a run."""

    device: str = "auto"
    batch_size: int | None = None  # None: 4 on CPU, more on a GPU
    skip_background: bool = True  # skip tiles without tissue, and drop points more than OFF_TISSUE_UM off it
    threshold: float | None = None  # None: the card's validated threshold
    sensitivity: float | None = None  # stage-1 logit offset (W-Net); None: the card's (0 unless calibrated)
    mpp: float | None = None  # overrides the slide's microns per pixel
    tile_size: int | None = None  # model pixels; None: the card's
    threads: int | None = None  # torch intra-op threads; None: all cores
    prefetch: int = 8  # tiles read ahead of the model
    precision: str = "auto"  # 'auto': bf16 autocast where the hardware has it natively, else fp32
    tta: bool = False  # average the model's maps over the four flips of each tile (4× the work)

    def __post_init__(self) -> None:
        check_mpp(self.mpp)
        if self.threshold is not None and not (_finite(self.threshold) and 0.0 <= self.threshold <= 1.0):
            raise OptionError(f"threshold must be a number from 0 to 1, not {self.threshold}")
        if self.sensitivity is not None and not (_finite(self.sensitivity) and abs(self.sensitivity) <= SENSITIVITY_RANGE):
            raise OptionError(f"sensitivity must be a number from {-SENSITIVITY_RANGE:g} to {SENSITIVITY_RANGE:g}, not {self.sensitivity}")
        for name, value, low, high in (("threads", self.threads, 1, 1024), ("batch size", self.batch_size, 1, 1024),
                                       ("tile size", self.tile_size, 64, 4096), ("prefetch", self.prefetch, 1, 256)):
            if value is not None and not (isinstance(value, int) and low <= value <= high):
                raise OptionError(f"{name} must be a whole number from {low} to {high}, not {value}")
        if self.precision not in PRECISIONS:
            raise OptionError(f"precision must be {', '.join(PRECISIONS)}, not {self.precision!r}")
        if not isinstance(self.tta, bool):
            raise OptionError(f"tta must be true or false, not {self.tta!r}")

    def affecting_results(self) -> dict:
        """The options that change which points a run finds (not the device, threads, batch or
        read-ahead): what a result's id namespace and a cohort's manifest record."""
        chosen = {"threshold": self.threshold, "sensitivity": self.sensitivity, "mpp": self.mpp, "tile_size": self.tile_size,
                  "skip_background": self.skip_background, "precision": self.precision}
        if self.tta:  # only when on, so that the records of runs without it stay as they were
            chosen["tta"] = True
        return chosen


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)


def check_mpp(mpp: float | None) -> None:
    """Microns per pixel within ``MPP_RANGE`` (None: the slide's own)."""
    if mpp is not None and valid_mpp(mpp) is None:
        raise OptionError(out_of_range(mpp))


@dataclass
class TileResult:
    """Centres (level-0 x, y) and scores one tile contributed."""

    tile: Tile
    centres: np.ndarray
    scores: np.ndarray
    done: int  # tiles finished so far, skipped ones included
    total: int
    skipped: int  # tiles not run through the model: background, outside a region outline, or a uniform field
    elapsed: float
    types: list[str] | None = None  # a type per centre, for a typing model
    background: bool = False  # this tile was read and found uniform (no tissue): no centres, no tissue area
    # stage 1's encoder levels over the tile ((C, h, w) each, finest first), when asked for:
    # a taught classifier reads them at any point of the tile's core (classify.features)
    levels: list[np.ndarray] | None = None

    @property
    def eta(self) -> float:
        """Seconds left, from the pace over the tiles really processed: skipped background
        tiles count as done at once, so counting them would promise far too early an end."""
        processed = self.done - self.skipped
        return self.elapsed / processed * (self.total - self.done) if processed > 0 else float("nan")


@dataclass
class DetectionRun:
    """Everything a run found, and how it ended."""

    centres: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    tiles_total: int = 0
    tiles_done: int = 0
    tiles_skipped: int = 0
    types: list[str] | None = None  # a type per centre, for a typing model or a taught classifier
    confidences: np.ndarray | None = None  # a taught classifier's confidence in each centre's class
    cancelled: bool = False
    seconds: float = 0.0
    area_px: float = 0.0  # level-0 pixels of tissue processed
    mpp: float | None = None  # the slide's µm per level-0 pixel the run used (area in mm²: area_px × mpp²)


def slide_mpp(slide: Slide, options: DetectOptions) -> float:
    mpp = options.mpp if options.mpp is not None else slide.mpp
    if mpp is None:
        raise MppUnknownError(slide.path)
    return float(mpp)


OFF_TISSUE_UM = 8.0  # a point farther than a nucleus' width from the tissue mask is on glass (dust, a speck): dropped
TISSUE_PX_PER_TILE = 16  # tissue-mask pixels across a tile's core: enough to tell a tile's share of tissue


def tissue_thumbnail_size(dimensions: tuple[int, int], tiles: list[Tile]) -> int:
    """Longer side of the thumbnail the tissue mask is made from: fine enough for
    ``TISSUE_PX_PER_TILE`` pixels per tile across the slide, 512 to 2048. A finer mask only
    costs: on a 36 Mpx slide a 2048-px mask read a 3000² level in 0.9 s, a sixth of the run."""
    if not tiles:
        return 512
    core = max(tiles[0].core.w, tiles[0].core.h)
    return int(min(2048, max(512, TISSUE_PX_PER_TILE * max(dimensions) / max(core, 1))))


def planned_tiles(region: Rect, downsample: float, card: ModelCard, options: DetectOptions) -> list[Tile]:
    """The tiles a run of ``card`` over ``region`` reads, at ``downsample`` level-0 px per model px."""
    tile_size = options.tile_size or fitted_tile_size(region, downsample, card.tile_size, card.margin)
    return plan_tiles(region, downsample, tile_size, card.margin)


def engine_tissue_mask(slide: Slide, tiles: list[Tile]) -> TissueMask:
    """The tissue mask a run skips background and drops off-tissue points by (fine enough for its tiles)."""
    return TissueMask(slide, max_size=tissue_thumbnail_size(slide.dimensions, tiles))


def _batch_size(device: torch.device, options: DetectOptions) -> int:
    if options.batch_size:
        return options.batch_size
    return 4 if device.type == "cpu" else 16



def _uniform(slide: Slide, tile: Tile, pixels: np.ndarray) -> bool:
    """Whether the part of the tile inside the slide is one flat colour (its padding beyond the
    slide's edge does not count)."""
    w, h = slide.dimensions
    scale = tile.size / tile.read_size
    u0, v0 = int(max(0, -tile.read_x) * scale), int(max(0, -tile.read_y) * scale)
    u1, v1 = int(np.ceil(min(tile.read_size, w - tile.read_x) * scale)), int(np.ceil(min(tile.read_size, h - tile.read_y) * scale))
    inside = pixels[max(v0, 0):max(v1, v0 + 1), max(u0, 0):max(u1, u0 + 1)]
    return inside.size == 0 or int(inside.max()) - int(inside.min()) <= UNIFORM_RANGE


def _read_tiles(slide: Slide, tiles: list[Tile], out: "queue.Queue", stop: threading.Event, skip_uniform: bool = True) -> None:
    """Producer: read each tile at model scale, in plan order; None marks the end."""
    try:
        for tile in tiles:
            if stop.is_set():
                break
            ds = tile.read_size / tile.size
            pixels = slide.read_scaled(tile.read_x, tile.read_y, tile.read_size, tile.read_size, ds, (tile.size, tile.size))
            if skip_uniform and _uniform(slide, tile, pixels):
                pixels = None  # a uniform field holds no nucleus: no model time spent on it
            while not stop.is_set():
                try:
                    out.put((tile, pixels), timeout=0.1)
                    break
                except queue.Full:
                    continue
    except BaseException as exc:  # hand the failure to the consumer, which re-raises it
        out.put(exc)
        return
    out.put(None)


def iter_detections(
    slide: Slide,
    card: ModelCard,
    region: Rect | PolygonRegion | None = None,
    options: DetectOptions | None = None,
    cancel: threading.Event | None = None,
    predictor: DensityPredictor | None = None,
    levels: bool = False,
) -> Iterator[TileResult]:
    """Detect nuclei in ``region`` (a rectangle or an outline; default: whole slide),
    yielding each tile's centres (and, with ``levels``, stage 1's encoder levels over it).

    Stops early, cleanly, when ``cancel`` is set: what was yielded stays valid."""
    options = options or DetectOptions()
    cancel = cancel or threading.Event()
    w, h = slide.dimensions
    outline = region if isinstance(region, PolygonRegion) else None
    if outline is not None:
        region = outline.bounds
    asked = region
    region = (region or Rect(0, 0, w, h)).intersect(Rect(0, 0, w, h))
    if region is None:
        raise OptionError(f"the region {asked} lies outside {slide.path.name} ({w}×{h} px)")
    downsample = card.mpp / slide_mpp(slide, options)
    if downsample < 1 / MAX_UPSAMPLING:
        raise OptionError(f"{slide.path.name} at {slide_mpp(slide, options):g} µm/px is more than {MAX_UPSAMPLING:g}× coarser than "
                          f"the model's {card.mpp:g} µm/px; check the scale (--mpp) or use a model for this magnification")
    if options.threads:
        torch.set_num_threads(options.threads)
    if options.sensitivity and not card.architecture.two_stage:
        raise OptionError(f"sensitivity needs a two-stage W-Net model; {card.title} has one stage")
    if predictor is None:
        predictor = DensityPredictor.from_card(card, select_device(options.device), options.precision)
    predictor = predictor.with_sensitivity(options.sensitivity)
    if options.tta:  # on when asked; a predictor that already averages flips keeps doing so
        predictor = predictor.with_tta(True)
    tiles = planned_tiles(region, downsample, card, options)
    total = len(tiles)
    todo = tiles if outline is None else [t for t in tiles if outline.overlaps(t.core)]
    tissue = None
    if options.skip_background:
        tissue = engine_tissue_mask(slide, tiles)
        todo = [t for t in todo if tissue.has_tissue(t.core.x, t.core.y, t.core.w, t.core.h)]
        off_tissue_px = OFF_TISSUE_UM / slide_mpp(slide, options)
    skipped = total - len(todo)
    start = time.monotonic()
    stop = threading.Event()
    inbox: queue.Queue = queue.Queue(maxsize=max(2, options.prefetch))
    reader = threading.Thread(target=_read_tiles, args=(slide, todo, inbox, stop, options.skip_background), daemon=True, name="tile-reader")
    reader.start()
    batch_size = _batch_size(predictor.device, options)
    done = skipped
    try:
        finished = False
        failure: BaseException | None = None
        while not finished and not cancel.is_set():
            batch: list[tuple[Tile, np.ndarray]] = []
            while len(batch) < batch_size:
                item = inbox.get()
                if item is None or isinstance(item, BaseException):
                    failure = item
                    finished = True  # tiles read before a failure are still processed
                    break
                if item[1] is None:  # read and found uniform: background after all
                    done += 1
                    skipped += 1
                    yield TileResult(item[0], np.zeros((0, 2)), np.zeros(0, np.float32), done, total, skipped, time.monotonic() - start,
                                     [] if predictor.types else None, background=True)
                    continue
                batch.append(item)
            if not batch or cancel.is_set():
                continue
            (densities, type_maps, tile_levels), batch_size = _predict_adapting(predictor, np.stack([p for _, p in batch]), batch_size, levels)
            for k, ((tile, _), density) in enumerate(zip(batch, densities)):
                centres, scores, types = _tile_centres(predictor, tile, density, options.threshold, None if type_maps is None else type_maps[k])
                if outline is not None and len(centres):  # pixel centres; outlines are drawn on pixel edges
                    centres, scores, types = _kept(outline.contains(centres[:, 0] + 0.5, centres[:, 1] + 0.5), centres, scores, types)
                if tissue is not None and len(centres):
                    centres, scores, types = _kept(tissue.near(centres, off_tissue_px), centres, scores, types)
                done += 1
                yield TileResult(tile, centres, scores, done, total, skipped, time.monotonic() - start, types,
                                 levels=None if tile_levels is None else [f[k] for f in tile_levels])
                if cancel.is_set():
                    break
        if failure is not None and not cancel.is_set():
            raise failure
    finally:
        stop.set()
        while reader.is_alive():  # unblock a reader waiting on a full queue
            try:
                inbox.get_nowait()
            except queue.Empty:
                reader.join(timeout=0.05)


def _kept(keep: np.ndarray, centres: np.ndarray, scores: np.ndarray, types: list | None) -> tuple[np.ndarray, np.ndarray, list | None]:
    """The centres (and their scores and types) where ``keep`` is true."""
    if keep.all():
        return centres, scores, types
    return centres[keep], scores[keep], None if types is None else [t for t, k in zip(types, keep) if k]


def _predict_adapting(predictor: DensityPredictor, tiles: np.ndarray, batch_size: int, levels: bool = False
                      ) -> tuple[tuple[np.ndarray, np.ndarray | None, list[np.ndarray] | None], int]:
    """Predict, halving the batch whenever the accelerator runs out of memory (a laptop GPU
    shared with the display, a large tile size); returns the densities (type maps, encoder
    levels when asked) and the batch size that fits, which the run keeps using."""
    while True:
        try:
            if levels:
                parts = [predictor.predict_batch_levels(tiles[i : i + batch_size]) for i in range(0, len(tiles), batch_size)]
                types = None if parts[0][1] is None else np.concatenate([t for _, t, _ in parts])
                return (np.concatenate([d for d, _, _ in parts]), types,
                        [np.concatenate([p[2][j] for p in parts]) for j in range(len(parts[0][2]))]), batch_size
            if not predictor.types:  # the common case: density only
                return (np.concatenate([predictor.predict_batch(tiles[i : i + batch_size]) for i in range(0, len(tiles), batch_size)]), None, None), batch_size
            parts = [predictor.predict_batch_typed(tiles[i : i + batch_size]) for i in range(0, len(tiles), batch_size)]
            return (np.concatenate([d for d, _ in parts]), np.concatenate([t for _, t in parts]), None), batch_size
        except torch.OutOfMemoryError:
            if batch_size == 1:
                raise
            batch_size = max(1, batch_size // 2)
            if predictor.device.type == "cuda":
                torch.cuda.empty_cache()


def _tile_centres(predictor: DensityPredictor, tile: Tile, density: np.ndarray, threshold: float | None,
                  type_map: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    uv, scores = predictor.centres(density, threshold)
    if len(uv) == 0:
        return np.zeros((0, 2)), scores, ([] if type_map is not None else None)
    types = predictor.types_at(type_map, uv)
    x, y = tile.to_level0(uv[:, 0], uv[:, 1])
    core = tile.core
    keep = (x >= core.x) & (x < core.x1) & (y >= core.y) & (y < core.y1)
    return np.stack([x[keep], y[keep]], axis=1), scores[keep], (None if types is None else [t for t, k in zip(types, keep) if k])


def run_detection(
    slide: Slide,
    card: ModelCard,
    region: Rect | PolygonRegion | None = None,
    options: DetectOptions | None = None,
    cancel: threading.Event | None = None,
    on_tile: Callable[[TileResult], None] | None = None,
    predictor: DensityPredictor | None = None,
    classifier=None,
) -> DetectionRun:
    """Collect ``iter_detections`` into one result, calling ``on_tile`` as tiles finish.

    With a taught ``classifier`` (``classify.card.ClassifierCard``) each tile's nuclei are
    classed from the encoder levels of the same pass; its classes replace a typing model's."""
    run = DetectionRun()
    parts, part_scores, part_types, part_conf = [], [], [], []
    start = time.monotonic()
    for result in iter_detections(slide, card, region, options, cancel, predictor, levels=classifier is not None):
        if classifier is not None and result.levels is not None:
            result.types, confidence = classifier.classify_tile(result, card.mpp)
            part_conf.append(confidence)
            result.levels = None  # read: the arrays go with the tile
        elif classifier is not None:
            result.types = []
        parts.append(result.centres)
        part_scores.append(result.scores)
        if result.types is not None:
            part_types += result.types
        run.tiles_total, run.tiles_done, run.tiles_skipped = result.total, result.done, result.skipped
        if not result.background:
            run.area_px += result.tile.core.w * result.tile.core.h
        if on_tile:
            on_tile(result)
    run.cancelled = bool(cancel and cancel.is_set())
    run.seconds = time.monotonic() - start
    run.mpp = slide_mpp(slide, options or DetectOptions())
    if parts:
        run.centres = np.concatenate(parts)
        run.scores = np.concatenate(part_scores)
    if classifier is not None or (predictor.types if predictor is not None else card.architecture.types):
        run.types = part_types
    if classifier is not None:
        run.confidences = np.concatenate(part_conf) if part_conf else np.zeros(0, np.float32)
    return run




def run_key(card: ModelCard, region: Rect | PolygonRegion | None, options: DetectOptions) -> tuple[str, ...]:
    """What a run's results depend on: the model (name and weights), the region and the options
    that change points (not the device or thread count)."""
    import hashlib

    where = "whole slide" if region is None else hashlib.sha256(repr(region).encode()).hexdigest()[:16]
    chosen = options.affecting_results()
    how = (f"threshold={chosen.pop('threshold')} sensitivity={chosen.pop('sensitivity')} mpp={chosen.pop('mpp')} tile={chosen.pop('tile_size')} "
           f"background={chosen.pop('skip_background')} precision={chosen.pop('precision')}") + "".join(f" {k}={v}" for k, v in chosen.items())
    return f"{card.name}:{card.sha256}", where, how


def detect_slide(
    slide_path: str | os.PathLike,
    card: ModelCard | str | os.PathLike,
    out_path: str | os.PathLike,
    region: Rect | PolygonRegion | None = None,
    options: DetectOptions | None = None,
    out_format: str = "geojson",
    cancel: threading.Event | None = None,
    on_tile: Callable[[TileResult], None] | None = None,
    points_as: str = "detections",
    predictor: DensityPredictor | None = None,
    classifier=None,
) -> DetectionRun:
    """One slide → one results file: GeoJSON (points as detections, or as QuPath Points
    annotations per class), CSV (x, y, score) or QuPath's Counting TSV.

    A plain function of its arguments: no GUI, no global state, safe to run in a worker
    process. The file is written atomically, and only when the run was not cancelled."""
    from ..annotations import NucleusStore, write_geojson
    from ..annotations.csv_io import write_csv
    from ..models.zoo import resolve_card

    if not isinstance(card, ModelCard):
        card = resolve_card(card)
    options = options or DetectOptions()
    slide = open_slide(slide_path, mpp=options.mpp)
    try:
        run = run_detection(slide, card, region, options, cancel, on_tile, predictor, classifier)
    finally:
        slide.close()
    if run.cancelled:
        return run
    from ..annotations.qupath import run_namespace, write_counting_tsv
    from ..annotations.run_merge import merge_run

    store = NucleusStore()
    key = run_key(card, region, options) + ((f"classifier:{classifier.head_sha256()}",) if classifier is not None else ())
    store.namespace = run_namespace(slide_path, *key)  # the same run, the same ids; another, others
    store.class_colors.update({t: tuple(c) for t, c in card.type_colors.items()})
    if classifier is not None:
        store.class_colors.update(dict(zip(classifier.classes, classifier.colors)))
    merge_run(store, card.name, run.centres, run.scores, run.types, confidences=run.confidences)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if out_format == "csv":
        write_csv(store, out_path)
    elif out_format == "tsv":
        write_counting_tsv(store, out_path)
    elif out_format == "geojson":
        write_geojson(store, out_path, points_as=points_as)
    else:
        raise ValueError(f"unknown output format {out_format!r} (geojson, csv or tsv)")
    return run


__all__ = [
    "DetectOptions",
    "DetectionRun",
    "MppUnknownError",
    "OptionError",
    "PolygonRegion",
    "Rect",
    "SlideError",
    "TileResult",
    "detect_slide",
    "iter_detections",
    "run_detection",
]
