"""The slide engine with the bundled fast model on real tissue."""

import threading

import numpy as np
import pytest

from wnet_gui.annotations import NucleusStore, import_geojson
from wnet_gui.detection.metrics import count_matches
from wnet_gui.engine.detect import DetectOptions, MppUnknownError, detect_slide, run_detection
from wnet_gui.geometry import Rect
from wnet_gui.engine.tiling import plan_tiles
from wnet_gui.models.zoo import resolve_card
from wnet_gui.slides import open_slide

from helpers import sample_mosaic, write_pyramidal_tiff, write_tiff


@pytest.fixture(scope="module")
def card():
    return resolve_card("fast")


@pytest.fixture(scope="module")
def pyramid(tmp_path_factory):
    return write_pyramidal_tiff(tmp_path_factory.mktemp("slides") / "mosaic.tif", sample_mosaic())


def test_tile_cores_partition_the_region():
    region = Rect(10, 20, 1000, 700)
    tiles = plan_tiles(region, 2.0, 160, 32)
    area = sum(t.core.w * t.core.h for t in tiles)
    assert area == pytest.approx(1000 * 700)
    for t in tiles:
        assert t.core.x >= region.x and t.core.x1 <= region.x1 + 1e-9
        assert t.read_x <= t.core.x - 32 * 2 + 1 and t.read_size == 320


def test_whole_versus_tiled_gives_the_same_points(pyramid, card):
    slide = open_slide(pyramid)
    whole = run_detection(slide, card, options=DetectOptions(tile_size=640, skip_background=False, device="cpu"))
    tiled = run_detection(slide, card, options=DetectOptions(tile_size=224, skip_background=False, device="cpu"))
    assert whole.tiles_total == 1 and tiled.tiles_total == 16
    assert len(whole.centres) > 300
    # 3 px at 40× = 1.5 px at the model's 20×: tiles of 224 px see less context than the
    # network's receptive field, which moves some peaks by about a model pixel
    c = count_matches(tiled.centres, whole.centres, 3.0)
    # nothing doubled or lost at seams: counts agree and almost every point is the same
    assert abs(len(tiled.centres) - len(whole.centres)) <= 0.02 * len(whole.centres)
    assert c.tp >= 0.97 * len(whole.centres)
    # no point doubled at a seam (a double would sit within a pixel of its twin)
    from scipy.spatial import cKDTree

    d, _ = cKDTree(tiled.centres).query(tiled.centres, k=2)
    assert d[:, 1].min() >= 1.0


def test_deterministic(pyramid, card):
    slide = open_slide(pyramid)
    opts = DetectOptions(tile_size=256, skip_background=False, device="cpu")
    a = run_detection(slide, card, options=opts)
    b = run_detection(slide, card, options=opts)
    assert np.array_equal(a.centres, b.centres)


def test_background_tiles_are_skipped(tmp_path, card):
    mosaic = sample_mosaic()
    canvas = np.full((1024, 2048, 3), 240, np.uint8)
    canvas[:, :1024] = mosaic
    slide = open_slide(write_tiff(tmp_path / "half.tif", canvas, 0.25))
    run = run_detection(slide, card, options=DetectOptions(tile_size=256, device="cpu"))
    assert run.tiles_skipped >= 0.4 * run.tiles_total
    assert len(run.centres) > 300
    core = (256 - 2 * card.margin) * card.mpp / 0.25
    assert run.centres[:, 0].max() < 1024 + core  # only tiles touching tissue were read
    full = run_detection(slide, card, options=DetectOptions(tile_size=256, device="cpu", skip_background=False))
    assert full.tiles_skipped == 0 and full.tiles_done == full.tiles_total


def test_cancel_keeps_what_was_found(pyramid, card):
    slide = open_slide(pyramid)
    cancel = threading.Event()
    seen = []

    def on_tile(result):
        seen.append(result)
        if len(seen) == 3:
            cancel.set()

    run = run_detection(slide, card, options=DetectOptions(tile_size=160, skip_background=False, device="cpu", batch_size=1),
                        cancel=cancel, on_tile=on_tile)
    assert run.cancelled
    assert run.tiles_done == 3 < run.tiles_total
    assert len(run.centres) == sum(len(r.centres) for r in seen) > 0


def test_mpp_resampling_halved_tile_gives_halved_centres(tmp_path, card):
    mosaic = sample_mosaic()[:512, :512]
    import cv2

    half = cv2.resize(mosaic, (256, 256), interpolation=cv2.INTER_AREA)
    at40 = run_detection(open_slide(write_tiff(tmp_path / "a.tif", mosaic, 0.25)), card, options=DetectOptions(skip_background=False, device="cpu"))
    at20 = run_detection(open_slide(write_tiff(tmp_path / "b.tif", half, 0.5)), card, options=DetectOptions(skip_background=False, device="cpu"))
    assert len(at40.centres) > 50
    c = count_matches(at20.centres, at40.centres / 2, 1.0)
    assert c.f1 > 0.9


def test_unknown_mpp_is_a_clear_error(tmp_path, card):
    import cv2

    path = tmp_path / "no_mpp.png"
    cv2.imwrite(str(path), sample_mosaic()[:256, :256])
    with pytest.raises(MppUnknownError, match="no_mpp.png"):
        run_detection(open_slide(path), card)
    assert len(run_detection(open_slide(path, mpp=0.25), card, options=DetectOptions(device="cpu")).centres) > 0


def test_detect_slide_writes_geojson_the_store_imports(pyramid, card, tmp_path):
    out = tmp_path / "out.geojson"
    run = detect_slide(pyramid, "fast", out, region=Rect(0, 0, 512, 512), options=DetectOptions(device="cpu"))
    store = NucleusStore()
    ids = import_geojson(store, out)
    assert len(ids) == len(run.centres) > 50
    assert store.count_by_source() == {"fast": len(ids)}
    assert np.allclose(store.coordinates(), run.centres, atol=0.006)
    assert store.coordinates().max() <= 512


def test_precision_choice():
    import torch

    from wnet_gui.engine.device import native_bf16, select_precision

    cpu = torch.device("cpu")
    assert select_precision("auto", cpu) == ("bf16" if native_bf16(cpu) else "fp32")
    assert select_precision("fp32", cpu) == "fp32" and select_precision("bf16", cpu) == "bf16"
    with pytest.raises(ValueError, match="precision"):
        select_precision("fp8", cpu)


def test_bf16_finds_the_same_nuclei_as_fp32(pyramid, card):
    """bf16 autocast is only worth having if the points stay put."""
    slide = open_slide(pyramid)
    region = Rect(0, 0, 1024, 1024)
    runs = {p: run_detection(slide, card, region, DetectOptions(skip_background=False, device="cpu", precision=p))
            for p in ("fp32", "bf16")}
    fp32, bf16 = runs["fp32"].centres, runs["bf16"].centres
    assert len(fp32) > 200
    counts = count_matches(bf16, fp32, 2.0)  # within 0.5 µm at this 40× mosaic
    assert counts.f1 > 0.97, counts


def test_batch_halves_when_the_accelerator_runs_out_of_memory(pyramid, card):
    """On a GPU a batch that does not fit is split, not fatal; the smaller size sticks."""
    import torch

    from wnet_gui.engine.predict import DensityPredictor

    class SmallGPU(DensityPredictor):
        calls: list[int] = []

        def predict_batch(self, tiles):
            self.calls.append(len(tiles))
            if len(tiles) > 2:
                raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
            return super().predict_batch(tiles)

    slide = open_slide(pyramid)
    predictor = SmallGPU.from_card(card, "cpu")
    region = Rect(0, 0, 1024, 1024)
    opts = DetectOptions(skip_background=False, device="cpu", batch_size=8, tile_size=256)
    run = run_detection(slide, card, region, opts, predictor=predictor)
    reference = run_detection(slide, card, region, DetectOptions(skip_background=False, device="cpu", tile_size=256, precision="fp32"))
    assert predictor.calls[:2] == [8, 4] and max(predictor.calls[2:]) <= 2  # 8, 4 fail; 2 fits and sticks
    assert np.array_equal(run.centres, reference.centres)


def test_tiles_shrink_to_fit_small_regions():
    from wnet_gui.engine.tiling import fitted_tile_size

    # 1,024 model px in 448-px cores: 3 tiles either way, but 416-px tiles waste 3 %, not 31 %
    assert fitted_tile_size(Rect(0, 0, 2048, 2048), 2.0, 512, 32) == 416
    assert fitted_tile_size(Rect(0, 0, 4480, 4480), 1.0, 512, 32) == 512  # exact fit stays
    assert fitted_tile_size(Rect(0, 0, 100, 60), 1.0, 512, 32) == 192  # a small view: one small tile
    for size in (300, 1000, 2500):
        t = fitted_tile_size(Rect(0, 0, size, size), 1.0, 512, 32)
        assert t % 32 == 0 and len(plan_tiles(Rect(0, 0, size, size), 1.0, t, 32)) == len(plan_tiles(Rect(0, 0, size, size), 1.0, 512, 32))


def test_an_outlined_region_reads_only_tiles_it_touches_and_keeps_points_inside(pyramid, card):
    """A triangle drawn over the lower-left half: tiles wholly above it are never read and
    every centre lies inside it; inside, the points are those of the whole-slide run."""
    from wnet_gui.geometry import PolygonRegion

    slide = open_slide(pyramid)
    w, h = slide.dimensions
    triangle = PolygonRegion.from_array([(0, 0), (0, h), (w, h)])
    opts = DetectOptions(tile_size=224, skip_background=False, device="cpu")
    whole = run_detection(slide, card, options=opts)
    inside = run_detection(slide, card, triangle, options=opts)
    assert inside.tiles_total == whole.tiles_total == 16
    assert 0 < inside.tiles_total - inside.tiles_skipped < 16  # the upper-right corner tile(s) skipped
    assert triangle.contains(inside.centres[:, 0], inside.centres[:, 1]).all()
    expected = whole.centres[triangle.contains(whole.centres[:, 0], whole.centres[:, 1])]
    assert len(inside.centres) == pytest.approx(len(expected), abs=3)  # same tiles, same peaks; edge ties only
    assert count_matches(inside.centres, expected, 1.0).tp >= len(expected) - 3
    with pytest.raises(ValueError, match="three vertices"):
        PolygonRegion.from_array([(0, 0), (10, 10)])


def test_tissue_mask_resolution_follows_the_tile_grid():
    """Fine enough for 16 mask pixels across every tile, never finer than needed (a 2048-px
    mask of a 36 Mpx slide read a 3000² level: a sixth of a `fast` run)."""
    from wnet_gui.engine.detect import tissue_thumbnail_size
    from wnet_gui.geometry import Rect
    from wnet_gui.engine.tiling import plan_tiles

    small = plan_tiles(Rect(0, 0, 6000, 6000), 2.0, 512, 32)
    assert tissue_thumbnail_size((6000, 6000), small) == 512
    big = plan_tiles(Rect(0, 0, 4000, 4000), 2.0, 512, 32)  # a region's tiles; the slide is 100,000 px wide
    core = big[0].core.w
    assert tissue_thumbnail_size((100_000, 60_000), big) == int(16 * 100_000 / core)
    assert tissue_thumbnail_size((400_000, 60_000), big) == 2048


def test_auto_precision_picks_bf16_only_where_the_cpu_has_bf16_instructions():
    """oneDNN calls bf16 supported on plain AVX-512, where it emulates it at a fifth of fp32's speed."""
    import sys

    import pytest
    import torch

    from wnet_gui.engine.device import native_bf16

    if not sys.platform.startswith("linux"):
        pytest.skip("reads the CPU's flags from /proc/cpuinfo")
    flags = open("/proc/cpuinfo", encoding="utf-8").read()
    assert native_bf16(torch.device("cpu")) == ("avx512_bf16" in flags or "amx_bf16" in flags)


def test_points_out_on_the_glass_are_not_nuclei():
    """Specks of nucleus-dark pixels (2.5 µm) on bare glass, far from the tissue: the detector
    marks them, and the engine drops every one (they lie more than OFF_TISSUE_UM from the
    tissue mask) while the tissue's own points stay exactly the same; without the tissue check
    (``skip_background=False``, as benchmarks on all-tissue tiles run) they are kept."""
    from helpers import SAMPLE_TIFF

    from wnet_gui.models.zoo import resolve_card
    from wnet_gui.slides import ArraySlide
    from wnet_gui.slides.image_slide import load_rgb

    card = resolve_card("fast")
    tile = load_rgb(SAMPLE_TIFF)[0]
    alone = run_detection(ArraySlide("tissue", tile, 0.25), card, options=DetectOptions(device="cpu", skip_background=False))
    image = np.full((1536, 1536, 3), (236, 236, 240), np.uint8)  # glass
    image[:512, :512] = tile
    spots = []
    for k, (x, y) in enumerate(np.round(alone.centres[np.argsort(-alone.scores)]).astype(int)):
        if len(spots) == 12:
            break
        if 5 <= x < 507 and 5 <= y < 507:
            gx, gy = 800 + (len(spots) % 4) * 180, 700 + (len(spots) // 4) * 180
            image[gy - 5 : gy + 5, gx - 5 : gx + 5] = tile[y - 5 : y + 5, x - 5 : x + 5]
            spots.append((gx, gy))
    spots = np.array(spots, float)
    runs = {skip: run_detection(ArraySlide("glass", image, 0.25), card, options=DetectOptions(device="cpu", skip_background=skip))
            for skip in (False, True)}

    def on_specks(run) -> int:
        return int((np.sqrt(((run.centres[:, None] - spots[None]) ** 2).sum(-1)).min(1) < 12).sum())

    assert on_specks(runs[False]) >= 8  # the detector does take them for nuclei
    assert on_specks(runs[True]) == 0
    tissue = {skip: run.centres[(run.centres < 512).all(axis=1)] for skip, run in runs.items()}
    assert len(tissue[True]) > 150 and np.array_equal(tissue[True], tissue[False])


def test_tissue_mask_says_how_near_a_point_is_to_tissue():
    from wnet_gui.slides import ArraySlide
    from wnet_gui.slides.tissue import TissueMask

    image = np.full((400, 400, 3), 240, np.uint8)
    image[100:300, 100:200] = (120, 60, 140)  # a block of stained tissue
    mask = TissueMask(ArraySlide("block", image, 0.5), max_size=400)
    near = mask.near(np.array([[150.0, 200.0], [215.0, 200.0], [260.0, 200.0], [390.0, 10.0]]), within=16.0)
    assert near.tolist() == [True, True, False, False]  # inside; 15 px off (mask's own 1-px growth included); 60 px; far


def test_debris_on_the_glass_is_not_tissue_for_points_but_dark_nuclei_in_tissue_are():
    """Grey-black debris lying on the glass is dark, so the tissue mask keeps its tiles; but it is
    not stained, so a point on it far from stained tissue is dropped. A cluster of near-black
    haematoxylin nuclei inside pink tissue stays near stained tissue."""
    from wnet_gui.slides import ArraySlide
    from wnet_gui.slides.tissue import TissueMask

    image = np.full((600, 600, 3), 238, np.uint8)  # glass
    image[50:350, 50:350] = (225, 150, 200)  # pink (eosin) tissue
    image[150:190, 150:190] = (55, 35, 85)  # near-black purple nuclei, packed, inside it
    image[450:520, 420:500] = (42, 38, 36)  # a grey-black debris clump, 70 px from the tissue
    mask = TissueMask(ArraySlide("debris", image, 0.5), max_size=600)
    assert mask.mask[480, 460]  # dark: the tissue mask counts it (its tile is read)
    near = mask.near(np.array([[170.0, 170.0], [460.0, 485.0], [200.0, 200.0]]), within=16.0)
    assert near.tolist() == [True, False, True]


def test_a_stain_that_leaves_most_tissue_grey_is_not_judged_by_colour():
    from wnet_gui.slides import ArraySlide
    from wnet_gui.slides.tissue import TissueMask

    image = np.full((400, 400, 3), 238, np.uint8)
    image[50:350, 50:350] = (90, 88, 86)  # tissue scanned nearly grey (a faded or odd stain)
    mask = TissueMask(ArraySlide("grey", image, 0.5), max_size=400)
    assert np.array_equal(mask.stained, mask.mask)
    assert mask.near(np.array([[200.0, 200.0]]), within=16.0).tolist() == [True]
