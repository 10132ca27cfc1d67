"""Slides that would exhaust the machine: huge headers in tiny files are opened or refused
within bounded memory and time."""

import subprocess
import sys
import time

import numpy as np
import pytest

from wnet_gui.slides import SlideError, open_slide
from wnet_gui.slides import base
from wnet_gui.slides.tissue import TissueMask

from helpers import header_only_tiff, png_header_only


def test_single_level_65536_squared_tiff_thumbnail_stays_under_1_gb(tmp_path):
    """The issue's file: 36 kB, 65,536² px, one level. Thumbnail and tissue mask used to read
    all of level 0 (16 GiB); now within 1 GB, in a fresh process to measure its peak."""
    path = header_only_tiff(tmp_path / "huge.tif", 65536, 65536)
    assert path.stat().st_size < 40_000
    code = (
        "import sys, time\n"
        "def hwm():\n"  # VmHWM: this process's own peak (ru_maxrss is inherited across exec from a large pytest)
        "    return int(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))\n"
        "from wnet_gui.slides import open_slide\n"
        "from wnet_gui.slides.tissue import TissueMask\n"
        f"s = open_slide({str(path)!r}, mpp=0.25)\n"
        "before = hwm()\n"
        "t = time.monotonic(); thumb = s.get_thumbnail(2048); mask = TissueMask(s).mask\n"
        "peak = hwm()\n"
        "print(thumb.shape[0], thumb.shape[1], int(s.thumbnail_sampled), float(mask.mean()), before, peak, time.monotonic() - t)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    h, w, sampled, tissue, before, peak, seconds = out.stdout.split()
    assert (int(h), int(w), int(sampled)) == (2048, 2048, 1)
    assert float(tissue) == 1.0  # not seen = not skipped
    assert int(peak) < 1024 * 1024, f"peak RSS {int(peak) / 1024:.0f} MB"  # kB
    print(f"huge TIFF thumbnail: {float(seconds):.1f} s, peak RSS {int(peak) / 1024:.0f} MB (before {int(before) / 1024:.0f} MB)")


def test_chunked_thumbnail_matches_a_whole_read(tmp_path, monkeypatch):
    """A slide just over one chunk is read chunk by chunk; the picture is the same as
    reading it whole (up to where chunk borders fall)."""
    from helpers import sample_mosaic, write_pyramidal_tiff

    image = np.tile(sample_mosaic(), (3, 3, 1))  # 3072² single level
    path = write_pyramidal_tiff(tmp_path / "flat.tif", image, levels=1)
    slide = open_slide(path, mpp=0.25)
    monkeypatch.setattr(base, "THUMBNAIL_CHUNK", 1024)
    thumb = slide.get_thumbnail(512)
    whole = slide.read_scaled(0, 0, 3072, 3072, 6.0)
    assert thumb.shape == whole.shape and not slide.thumbnail_sampled
    # chunks land on whole thumbnail pixels, so up to a third of a pixel off: alike once blurred by a pixel
    import cv2

    blur = lambda a: cv2.GaussianBlur(a.astype(np.float32), (0, 0), 1.0)  # noqa: E731
    assert np.abs(blur(thumb) - blur(whole)).mean() < 3


def test_sampling_budget_bounds_the_work(tmp_path, monkeypatch):
    monkeypatch.setattr(base, "THUMBNAIL_BUDGET_PX", 16 * 2**20)
    slide = open_slide(header_only_tiff(tmp_path / "big.tif", 32768, 16384, value=128), mpp=0.25)
    reads = []
    original = type(slide).read_region
    monkeypatch.setattr(type(slide), "read_region", lambda self, *a, **k: reads.append(a) or original(self, *a, **k))
    start = time.monotonic()
    thumb = slide.get_thumbnail(1024)
    assert thumb.shape == (512, 1024, 3) and slide.thumbnail_sampled
    assert sum(a[2] * a[3] for a in reads) <= 4 * 16 * 2**20  # decoded pixels stay near the budget
    assert (thumb == 128).all(axis=2).mean() > 0.01 and (thumb == 200).all(axis=2).mean() > 0.5  # read: grey 128; not read: 200
    assert TissueMask(slide).mask.all()
    assert time.monotonic() - start < 30


def test_huge_plain_image_is_refused_from_its_header(tmp_path):
    path = png_header_only(tmp_path / "huge.png", 100_000, 100_000)
    with pytest.raises(SlideError, match="too large for a plain"):
        open_slide(path, mpp=0.25)


def test_one_pixel_high_strip_opens_and_has_a_thumbnail(tmp_path):
    import cv2

    path = tmp_path / "strip.png"
    cv2.imwrite(str(path), np.full((1, 5000, 3), 100, np.uint8))
    slide = open_slide(path, mpp=0.25)
    assert slide.get_thumbnail(256).shape == (1, 256, 3)


def test_a_uniform_field_is_background_whatever_its_thumbnail_says(tmp_path):
    """Issue 31 item 7: a uniform 65,536² TIFF planned 5,476 tiles of model time (about 1.5 h):
    a uniform grey is 'dark' to the tissue mask, and a thumbnail too big to decode whole is
    sampled, so nothing was skipped. A tile read and found uniform is background: no model
    time, no centres, no tissue area."""
    from wnet_gui.engine.detect import DetectOptions, run_detection
    from wnet_gui.models.zoo import resolve_card

    import wnet_gui.engine.detect as detect

    slide = open_slide(header_only_tiff(tmp_path / "grey.tif", 16384, 16384, value=128), mpp=0.25)
    run = run_detection(slide, resolve_card("fast"), options=DetectOptions(device="cpu"))
    assert len(run.centres) == 0 and run.area_px == 0 and run.tiles_done == run.tiles_skipped  # the thumbnail saw it all: no tile planned
    # a thumbnail too big to decode is sampled and skips nothing: each tile read is checked instead
    small = open_slide(header_only_tiff(tmp_path / "grey-small.tif", 4096, 3000, value=128), mpp=0.25)

    class Everything:
        def __init__(self, *a, **k):
            pass

        def has_tissue(self, *a):
            return True

    import pytest as _pytest

    with _pytest.MonkeyPatch.context() as mp:
        mp.setattr(detect, "TissueMask", Everything)
        run = run_detection(small, resolve_card("fast"), options=DetectOptions(device="cpu"))
    assert run.tiles_total > 4 and run.tiles_skipped == run.tiles_total  # edge tiles too: their padding does not count
    assert len(run.centres) == 0 and run.area_px == 0
