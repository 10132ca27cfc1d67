
import cv2
import numpy as np
import pytest
import tifffile

from wnet_gui.slides import ImageSlide, OpenSlideSlide, SlideError, open_slide
from wnet_gui.slides.image_slide import load_rgb
from wnet_gui.slides.tissue import tissue_mask_from_rgb

from helpers import write_pyramidal_tiff


@pytest.fixture(scope="module")
def mosaic(sample_tiff) -> np.ndarray:
    tile = load_rgb(sample_tiff)[0]
    return np.concatenate(
        [np.concatenate([tile, tile[:, ::-1]], axis=1), np.concatenate([tile[::-1], tile[::-1, ::-1]], axis=1)], axis=0)


def test_pyramidal_tiff_opens_in_openslide_pixel_exact(tmp_path, mosaic):
    path = tmp_path / "pyramid.tif"
    write_pyramidal_tiff(path, mosaic)
    slide = open_slide(path)
    assert isinstance(slide, OpenSlideSlide)
    assert slide.dimensions == (1024, 1024)
    assert slide.level_count == 3
    assert slide.level_downsamples == pytest.approx((1, 2, 4))
    assert np.array_equal(slide.read_region(0, 0, 1024, 1024, 0), mosaic)
    assert np.array_equal(slide.read_region(300, 200, 100, 50, 0), mosaic[200:250, 300:400])
    assert slide.read_region(0, 0, 256, 256, 2).shape == (256, 256, 3)
    slide.close()


def test_openslide_mpp_and_override(tmp_path, mosaic):
    path = tmp_path / "pyramid.tif"
    write_pyramidal_tiff(path, mosaic, mpp=0.5)
    slide = open_slide(path)
    assert slide.mpp == pytest.approx(0.5, rel=1e-3)
    slide.mpp = 0.25
    assert slide.mpp == 0.25
    assert open_slide(path, mpp=0.3).mpp == 0.3


def test_read_outside_is_white(sample_tiff):
    slide = open_slide(sample_tiff)
    region = slide.read_region(-10, -10, 20, 20)
    assert np.all(region[:10, :10] == 255)
    assert not np.all(region[10:, 10:] == 255)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".bmp"])
def test_plain_formats(tmp_path, sample_tiff, suffix):
    rgb = load_rgb(sample_tiff)[0][:200, :300]
    path = tmp_path / f"tile{suffix}"
    if suffix == ".tif":
        tifffile.imwrite(path, rgb, compression="lzw", photometric="rgb")
    else:
        cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    slide = open_slide(path)
    assert isinstance(slide, ImageSlide)
    assert slide.dimensions == (300, 200)
    pixels = slide.read_region(0, 0, 300, 200)
    if suffix == ".jpg":
        assert np.abs(pixels.astype(int) - rgb).mean() < 6
    else:
        assert np.array_equal(pixels, rgb)


def test_sample_tiff_states_its_mpp(sample_tiff):
    assert open_slide(sample_tiff).mpp == pytest.approx(0.25)


def test_read_scaled_halves(sample_tiff):
    slide = open_slide(sample_tiff)
    half = slide.read_scaled(0, 0, 512, 512, 2.0)
    assert half.shape == (256, 256, 3)
    thumb = slide.get_thumbnail(128)
    assert max(thumb.shape[:2]) == 128


def test_truncated_tiff_raises_slide_error(tmp_path, sample_tiff):
    data = sample_tiff.read_bytes()
    bad = tmp_path / "truncated.tif"
    bad.write_bytes(data[: len(data) // 3])
    with pytest.raises(SlideError) as info:
        open_slide(bad).read_region(0, 0, 512, 512)
    assert "truncated.tif" in str(info.value)


def test_text_renamed_svs_raises_slide_error(tmp_path):
    bad = tmp_path / "notes.svs"
    bad.write_text("this is not a slide\n" * 20)
    with pytest.raises(SlideError) as info:
        open_slide(bad)
    assert "notes.svs" in str(info.value) and "not a format" in info.value.reason


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(SlideError, match="does not exist"):
        open_slide(tmp_path / "nope.svs")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(SlideError, match="empty"):
        open_slide(empty)


def test_tissue_mask_separates_tissue_from_glass(sample_tiff):
    tile = load_rgb(sample_tiff)[0]
    canvas = np.full((512, 1024, 3), 242, np.uint8)
    canvas[:, :512] = tile
    mask = tissue_mask_from_rgb(canvas)
    assert mask[:, :500].mean() > 0.9
    assert mask[:, 520:].mean() < 0.01


def test_an_exact_thumbnail_does_not_depend_on_what_was_read_before(tmp_path, mosaic):
    """The app's viewer reads a large thumbnail first, and a later smaller one is shrunk from it;
    the tissue mask asks for ``exact`` pixels, so the app and `wnet detect` (a fresh slide) make
    the same mask and keep the same points."""
    from wnet_gui.slides.tissue import TissueMask

    path = tmp_path / "pyramid.tif"
    write_pyramidal_tiff(path, mosaic)
    fresh = open_slide(path).get_thumbnail(300)
    viewed = open_slide(path)
    big = viewed.get_thumbnail(1024)  # what the viewer reads first
    assert not np.array_equal(viewed.get_thumbnail(300), fresh)  # shrunk from the viewer's: other pixels
    assert np.array_equal(viewed.get_thumbnail(300, exact=True), fresh)
    assert np.array_equal(viewed.get_thumbnail(1024), big)  # the viewer's stays cached
    assert np.array_equal(TissueMask(viewed, max_size=300).mask, TissueMask(open_slide(path), max_size=300).mask)
