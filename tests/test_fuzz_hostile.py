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


# ---------------------------------------------------------------------------- GeoJSON nesting, classes, special files
def _geojson_error():
    from wnet_gui.annotations import GeoJSONError

    return GeoJSONError


def test_geojson_nested_to_any_depth(tmp_path_factory):
    """Brackets and objects nested 1 to 200,000 deep, at the top or inside a feature: read, or
    refused as too deep, in milliseconds and a few MB (100,000 deep once cost 6 GB)."""
    from wnet_gui.annotations import read_geojson

    stats = Stats("GeoJSON nested 1-200,000 deep")
    folder = tmp_path_factory.mktemp("deep")

    @FUZZ
    @given(st.integers(1, 200_000), st.sampled_from(["[", '{"a":']), st.sampled_from(["top", "features", "properties", "geometry"]))
    def case(depth, opener, where):
        closer = "]" if opener == "[" else "}"
        deep = opener * depth + "0" + closer * depth
        text = {"top": deep,
                "features": '{"type":"FeatureCollection","features":' + deep + "}",
                "properties": '{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},'
                              '"properties":{"parentClass":' + deep + "}}]}",
                "geometry": '{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":' + deep + "}}]}"}[where]
        path = folder / "deep.geojson"
        path.write_text(text)

        def run():
            try:
                read_geojson(path)
            except _geojson_error() as exc:
                assert "deep.geojson" in str(exc)

        stats.time(run, f"{depth} {opener} {where}")

    case()
    stats.report()


def test_geojson_class_names_of_any_length_and_count(tmp_path_factory):
    """Up to 3,000 classes with names of up to 100,000 characters, in the forms QuPath writes:
    imported with at most 1,000 classes of at most 200 characters, or refused naming the file."""
    from wnet_gui.annotations import NucleusStore, import_geojson
    from wnet_gui.annotations.qupath import MAX_CLASS_NAME, MAX_CLASSES

    stats = Stats("GeoJSON class names 0-100,000 chars, 1-3,000 classes")
    folder = tmp_path_factory.mktemp("classes")

    @FUZZ
    @given(st.integers(1, 3000), st.integers(0, 100_000), st.sampled_from(["name", "names", "string", "parentClass"]))
    def case(count, length, form):
        def cls(k: int):
            name = (f"{k}-" + "x" * length)[: max(length, len(str(k)) + 1)]
            return {"name": name, "color": [1, 2, 3]} if form == "name" else {"names": [name, "P"], "color": [1, 2, 3]} if form == "names" \
                else name if form == "string" else {"name": name, "colorRGB": -1, "parentClass": {"name": "Tumor", "colorRGB": -1}}

        features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [k % 500, k // 500]},
                     "properties": {"objectType": "detection", "classification": cls(k)}} for k in range(count)]
        path = folder / "classes.geojson"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
        store = NucleusStore()

        def run():
            try:
                import_geojson(store, path)
            except _geojson_error() as exc:
                assert "classes.geojson" in str(exc) and len(store) == 0
                return
            assert len(store) == count and len(set(store.classes.names)) <= MAX_CLASSES
            assert max(len(c) for c in store.classes.names) <= MAX_CLASS_NAME

        stats.time(run, f"{count} classes of {length} chars ({form})")

    case()
    stats.report()


def test_special_files_where_files_are_expected(tmp_path_factory, sample_tiff):
    """A FIFO, a folder, a character device, and links to them, given to every reader: a message
    at once, never a hang (a FIFO once hung the import worker and quitting aborted)."""
    from wnet_gui.annotations import read_geojson
    from wnet_gui.projects import Project, ProjectError

    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this system")
    stats = Stats("special files: FIFO, folder, device, links to them")
    folder = tmp_path_factory.mktemp("special")
    os.mkfifo(folder / "fifo")
    (folder / "dir.geojson").mkdir()
    targets = {"fifo": folder / "fifo", "folder": folder / "dir.geojson", "device": Path("/dev/zero")}
    for name, target in list(targets.items()):
        (folder / f"link-{name}").symlink_to(target)
        targets[f"link to {name}"] = folder / f"link-{name}"

    def project_reader(path):
        project_folder = folder / "project"
        project_folder.mkdir(exist_ok=True)
        link = project_folder / "wnet-project.json"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(path)
        return Project.open(project_folder)

    from wnet_gui.cli.points_io import read_centres
    from wnet_gui.engine.slide_inputs import read_manifest

    readers = {"GeoJSON": (read_geojson, (_geojson_error(),)), "slide": (open_slide, (SlideError,)),
               "autosave": (lambda p: read_snapshot(p, NucleusStore()), (SnapshotError,)),
               "model card": (ModelCard.load, (ModelError,)), "project": (project_reader, (ProjectError,)),
               "slide list (CSV)": (read_manifest, (OSError,)), "truth points (XML)": (read_centres, (OSError,))}

    @FUZZ
    @given(st.sampled_from(sorted(targets)), st.sampled_from(sorted(readers)))
    def case(target, reader):
        read, errors = readers[reader]

        def run():
            with pytest.raises(errors):
                read(targets[target])

        stats.time(run, f"{target} as {reader}")
        assert stats.worst < 10

    case()
    stats.report()


def test_autosaves_that_inflate(tmp_path_factory):
    """Compressed snapshots of every size and ratio: refused unread beyond 4× their size on disk
    (our snapshots are stored, not compressed), read when they are honest."""
    stats = Stats("autosave snapshots: 1 kB-8 MB columns, stored or compressed")
    folder = tmp_path_factory.mktemp("inflate")

    @FUZZ
    @given(st.integers(10, 23), st.booleans())
    def case(log_bytes, compressed):
        n = (1 << log_bytes) // 8
        path = folder / "s.npz"
        meta = json.dumps({"format": 1, "sources": ["manual"], "classes": ["Nucleus"]})
        cols = {"ids": np.arange(1, n + 1), "x": np.zeros(n), "y": np.zeros(n), "score": np.zeros(n, np.float32),
                "source": np.zeros(n, np.int32), "cls": np.zeros(n, np.int32), "poly_ids": np.zeros(0, np.int64),
                "poly_offsets": np.zeros(1, np.int64), "poly_xy": np.zeros((0, 2))}
        with open(path, "wb") as fh:
            (np.savez_compressed if compressed else np.savez)(fh, meta=np.array(meta), **cols)
        store = NucleusStore()

        def run():
            try:
                read_snapshot(path, store)
            except SnapshotError as exc:
                assert compressed and "would unpack to" in str(exc) and "s.npz" in str(exc)
                return
            assert len(store) == n and (not compressed or 36 * n < (16 << 20) + 4 * path.stat().st_size)

        stats.time(run, f"{n:,} rows, {'compressed' if compressed else 'stored'}")

    case()
    stats.report()


def test_card_sizes_whose_product_is_too_big(tmp_path_factory):
    """Decoder widths, levels and tiles each in range: the card is refused when together they
    would hold more than 4 GiB of activations per tile, before any weights are read."""
    from wnet_gui.models.card_schema import MAX_DECODER_BYTES, decoder_bytes

    stats = Stats("model cards: size products")
    folder = tmp_path_factory.mktemp("products")
    shutil.copy(zoo_dir() / "fast.pt", folder / "fast.pt")
    original = json.loads((zoo_dir() / "fast.json").read_text())

    @FUZZ
    @given(st.lists(st.sampled_from([16, 64, 256, 1024]), min_size=1, max_size=5), st.sampled_from([128, 512, 1024, 2048, 4096]),
           st.sampled_from([0, 64, 1024]))
    def case(widths, tile, margin):
        card = json.loads(json.dumps(original))
        card["architecture"]["stage1"]["decoder_channels"] = widths
        card["architecture"]["stage1"]["encoder_depth"] = len(widths)
        card["tile_size"], card["margin"] = tile, margin
        path = folder / "card.json"
        path.write_text(json.dumps(card))
        cost = decoder_bytes(card["architecture"], tile)  # the model's input is tile_size px, margins inside it (tiling.plan_tiles)

        def run():
            try:
                ModelCard.load(path)
            except ModelError as exc:
                assert "card.json" in str(exc)
                return
            assert cost <= MAX_DECODER_BYTES

        stats.time(run, f"{widths} at {tile}+2×{margin}")

    case()
    stats.report()


def test_project_files_from_strangers(tmp_path_factory, sample_tiff):
    """Project files with any entries, fields and nesting: opened with every entry inside the
    folder and every field in range, or refused with ProjectError; nothing outside is touched."""
    from wnet_gui.projects import PROJECT_FILE, Project, ProjectError

    stats = Stats("project files: any entries and fields")
    root = tmp_path_factory.mktemp("projects")
    study = root / "study"
    study.mkdir()
    shutil.copy(sample_tiff, study / "a.tif")
    paths = st.sampled_from(["a.tif", "./a.tif", "../outside.tif", "/etc/passwd", str(study / "a.tif"), "sub/../a.tif", "", "a.tif\x00x",
                             "../" * 50 + "x.tif", "x" * 5000])
    entry = st.fixed_dictionaries({"path": st.one_of(paths, json_value)}, optional={
        "mpp": st.one_of(st.floats(allow_nan=True, allow_infinity=True), json_value), "state": json_value, "width": json_value,
        "height": json_value, "classes": json_value, "view": json_value, "nuclei": json_value})

    @FUZZ
    @given(st.lists(entry, max_size=6), st.one_of(st.just(2), json_value), st.one_of(st.none(), json_value))
    def case(entries, version, folder_key):
        doc = {"format": "wnet-project", "version": version, "slides": entries}
        if folder_key is not None:
            doc["folder"] = folder_key
        (study / PROJECT_FILE).write_text(json.dumps(doc))

        def run():
            try:
                project = Project.open(study)
            except ProjectError:
                return
            assert project.folder == study.resolve()
            for e in project.slides:
                assert study.resolve() in project.absolute(e).resolve().parents
                assert e.mpp is None or 0.05 <= e.mpp <= 10
            assert len({e.path for e in project.slides}) == len(project.slides)

        stats.time(run)
        assert sorted(p.name for p in root.iterdir()) == ["study"]

    case()
    stats.report()
