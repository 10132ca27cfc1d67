"""Hypothesis fuzzing of what users open and add: slides with absurd headers, model cards,
autosave snapshots. Each either works or fails with its documented error, quickly, in
bounded memory. ``WNET_FUZZ_EXAMPLES`` raises the case count and ``WNET_FUZZ_REPORT`` names
a file to which each test appends its count, worst time and peak memory
(``scripts/fuzz_report.sh`` runs both; BENCHMARKS.md has its numbers)."""

import json
import os
import resource
import shutil
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wnet_gui.annotations import NucleusStore
from wnet_gui.annotations.snapshot_io import SnapshotError, read_snapshot
from wnet_gui.models.card import ModelCard, ModelError
from wnet_gui.models.zoo import zoo_dir
from wnet_gui.slides import SlideError, base, open_slide

from helpers import header_only_tiff

EXAMPLES = int(os.environ.get("WNET_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


class Stats:
    """Count, worst seconds and peak RSS of one fuzz test, appended to the report file."""

    def __init__(self, name: str):
        self.name, self.count, self.worst, self.worst_case = name, 0, 0.0, ""

    def time(self, fn, case=""):
        start = time.perf_counter()
        try:
            return fn()
        finally:
            self.count += 1
            if time.perf_counter() - start > self.worst:
                self.worst, self.worst_case = time.perf_counter() - start, case

    def report(self) -> None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        line = f"{self.name}\t{self.count}\t{self.worst:.3f}\t{peak:.0f}\t{self.worst_case}"
        if os.environ.get("WNET_FUZZ_REPORT"):
            with open(os.environ["WNET_FUZZ_REPORT"], "a") as fh:
                fh.write(line + "\n")
        print(line)


# ---------------------------------------------------------------------------- slides
@pytest.fixture(scope="module")
def small_budget():
    """Thumbnails of giant single-level slides read a few chunks, not 8 s worth."""
    old = base.THUMBNAIL_BUDGET_PX
    base.THUMBNAIL_BUDGET_PX = 8 * 2**20
    yield
    base.THUMBNAIL_BUDGET_PX = old


def test_header_only_tiffs_of_any_size(tmp_path_factory, small_budget):
    stats = Stats("slides: header-only TIFFs (sizes up to 2^31)")

    @FUZZ
    @given(st.integers(1, 2**31 - 1), st.integers(1, 2**31 - 1), st.sampled_from([16, 64, 256, 1024, 4096]))
    def case(width, height, tile):
        tiles = -(-width // tile) * -(-height // tile)
        path = tmp_path_factory.mktemp("tiff") / "h.tif"
        if tiles > 200_000:  # the offset tables alone would be megabytes: make it lie about its size instead
            header_only_tiff(path, min(width, 4096), min(height, 4096), tile)
            data = bytearray(path.read_bytes())
            # patch ImageWidth / ImageLength in the first IFD to the huge values
            for i in range(struct.unpack_from("<H", data, 8)[0]):
                tag = struct.unpack_from("<H", data, 10 + 12 * i)[0]
                if tag in (256, 257):
                    struct.pack_into("<I", data, 10 + 12 * i + 8, width if tag == 256 else height)
            path.write_bytes(bytes(data))
        else:
            header_only_tiff(path, width, height, tile)

        def run():
            try:
                slide = open_slide(path, mpp=0.5)
                thumb = slide.get_thumbnail(256)
                assert thumb.ndim == 3 and max(thumb.shape[:2]) <= 256
                slide.read_region(0, 0, 64, 64)
            except SlideError as exc:
                assert "h.tif" in str(exc)

        stats.time(run, f"{width}x{height} tile {tile}")

    case()
    stats.report()


def test_mutated_tiff_headers(tmp_path_factory, small_budget):
    stats = Stats("slides: TIFF headers with random bytes changed")
    clean = header_only_tiff(tmp_path_factory.mktemp("clean") / "c.tif", 3000, 2000, 256)
    original = clean.read_bytes()
    header = 8 + 2 + 12 * 14 + 4 + 6

    @FUZZ
    @given(st.lists(st.tuples(st.integers(0, header - 1), st.integers(0, 255)), min_size=1, max_size=6))
    def case(edits):
        data = bytearray(original)
        for at, value in edits:
            data[at] = value
        path = tmp_path_factory.mktemp("mut") / "m.tif"
        path.write_bytes(bytes(data))

        def run():
            try:
                slide = open_slide(path, mpp=0.5)
                slide.get_thumbnail(128)
                slide.read_region(0, 0, 32, 32)
            except SlideError as exc:
                assert "m.tif" in str(exc)

        stats.time(run)

    case()
    stats.report()


# ---------------------------------------------------------------------------- model cards
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True), st.text(max_size=12),
                      st.sampled_from(["/dev/zero", "../../etc/passwd", "tu-hf-hub:x/y", "fast.pt", "basic", "wnet", "unet"]))
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
CARD_PATHS = ["name", "mpp", "weights", "sha256", "tile_size", "margin", "mean", "std", "peaks", "peaks.threshold",
              "architecture", "architecture.kind", "architecture.stage1", "architecture.stage1.encoder",
              "architecture.stage1.decoder_channels", "architecture.stage2.encoder_depth", "density_alpha", "training"]


def test_mutated_model_cards(tmp_path_factory):
    stats = Stats("model cards: fields replaced by any JSON")
    folder = tmp_path_factory.mktemp("cards")
    shutil.copy(zoo_dir() / "fast.pt", folder / "fast.pt")
    original = json.loads((zoo_dir() / "fast.json").read_text())

    @FUZZ
    @given(st.lists(st.tuples(st.sampled_from(CARD_PATHS), json_value), min_size=1, max_size=4))
    def case(changes):
        card = json.loads(json.dumps(original))
        for where, value in changes:
            *parents, key = where.split(".")
            node = card
            for p in parents:
                node = node.get(p) if isinstance(node, dict) else None
            if isinstance(node, dict):
                node[key] = value
        path = folder / "card.json"
        path.write_text(json.dumps(card))

        def run():
            try:
                ModelCard.load(path).load_model()
            except ModelError as exc:
                assert "card.json" in str(exc) or "fast.pt" in str(exc)

        stats.time(run)

    case()
    stats.report()


# ---------------------------------------------------------------------------- snapshots
def arrays(n_max=6):
    ints = st.integers(-5, 10)
    floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
    return st.fixed_dictionaries({
        "ids": st.lists(ints, max_size=n_max), "x": st.lists(floats, max_size=n_max), "y": st.lists(floats, max_size=n_max),
        "score": st.lists(floats, max_size=n_max), "source": st.lists(ints, max_size=n_max), "cls": st.lists(ints, max_size=n_max),
        "poly_ids": st.lists(ints, max_size=3), "poly_offsets": st.lists(ints, max_size=4),
        "poly_xy": st.lists(st.tuples(floats, floats), max_size=6),
    })


def test_arbitrary_snapshot_contents(tmp_path_factory):
    stats = Stats("autosave snapshots: arbitrary columns and metadata")
    folder = tmp_path_factory.mktemp("snap")

    @FUZZ
    @given(arrays(), st.one_of(json_value, st.fixed_dictionaries({"format": st.just(1), "sources": json_value, "classes": json_value,
                                                                   "class_colors": json_value})))
    def case(cols, meta):
        path = folder / "s.npz"
        packed = {k: np.array(v, dtype=np.float64 if k in ("x", "y", "score", "poly_xy") else np.int64) for k, v in cols.items()}
        if packed["poly_xy"].size == 0:
            packed["poly_xy"] = np.zeros((0, 2))
        with open(path, "wb") as fh:
            np.savez(fh, meta=np.array(json.dumps(meta)), **packed)
        store = NucleusStore()
        store.add(1.0, 1.0)

        def run():
            try:
                read_snapshot(path, store)
            except SnapshotError:
                assert len(store) == 1
                return
            xy = store.coordinates()
            assert np.isfinite(xy).all()
            assert list(store.ids()) == sorted(store.ids())

        stats.time(run)

    case()
    stats.report()
