"""Augmentations that keep image and targets aligned: crops, scale, flips, 90° turns, H&E jitter,
and the "new lab" appearance changes (defocus, stain strength, hue, JPEG) that only touch the image."""

from __future__ import annotations

import cv2
import numpy as np
from skimage.color import hed2rgb, rgb2hed


def random_crop(arrays: list[np.ndarray], size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """The same random ``size``×``size`` window of every (H, W, ...) array (padded if smaller)."""
    h, w = arrays[0].shape[:2]
    if h < size or w < size:
        pad_h, pad_w = max(0, size - h), max(0, size - w)
        arrays = [np.pad(a, [(0, pad_h), (0, pad_w)] + [(0, 0)] * (a.ndim - 2), mode="reflect") for a in arrays]
        h, w = arrays[0].shape[:2]
    y = int(rng.integers(0, h - size + 1))
    x = int(rng.integers(0, w - size + 1))
    return [a[y : y + size, x : x + size] for a in arrays]


def random_scaled_crop(arrays: list[np.ndarray], size: int, rng: np.random.Generator, jitter: float) -> list[np.ndarray]:
    """A random window of every array, resampled to ``size``×``size`` by a factor within ±``jitter``.

    "20×" means 0.46–0.55 µm/px depending on the scanner, and a slide's stated scale can be
    rounded (CRCHisto's 0.55 is often given as 0.5): training over a band of scales keeps the
    detector's recall when its input is 10 % off. Targets are resampled like the image, so
    they stay aligned with it and a density peak's radius scales with its nucleus."""
    factor = float(np.exp(rng.uniform(np.log(1 - jitter), np.log(1 + jitter))))
    window = max(8, int(round(size / factor)))
    arrays = random_crop(arrays, window, rng)
    if window == size:
        return arrays
    interpolation = cv2.INTER_AREA if window > size else cv2.INTER_LINEAR
    return [cv2.resize(np.ascontiguousarray(a), (size, size), interpolation=interpolation) for a in arrays]


def random_dihedral(arrays: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """One of the 8 flips/quarter turns, applied to every array alike (exact on the grid)."""
    k = int(rng.integers(0, 4))
    flip = bool(rng.integers(0, 2))
    out = []
    for a in arrays:
        a = np.rot90(a, k, axes=(0, 1))
        if flip:
            a = a[:, ::-1]
        out.append(np.ascontiguousarray(a))
    return out


def hed_jitter(image: np.ndarray, rng: np.random.Generator, sigma: float = 0.05, bias: float = 0.02) -> np.ndarray:
    """Stain augmentation in the haematoxylin-eosin-DAB space (Tellez et al. 2018)."""
    hed = rgb2hed(image)
    alpha = rng.uniform(1 - sigma, 1 + sigma, size=3)
    beta = rng.uniform(-bias, bias, size=3)
    rgb = hed2rgb(hed * alpha + beta)
    return np.clip(rgb * 255.0, 0, 255).astype(np.uint8)


def brightness_contrast(image: np.ndarray, rng: np.random.Generator, amount: float = 0.1) -> np.ndarray:
    gain = rng.uniform(1 - amount, 1 + amount)
    shift = rng.uniform(-amount, amount) * 255
    mean = image.mean()
    return np.clip((image - mean) * gain + mean + shift, 0, 255).astype(np.uint8)


# Appearance levels: "light" is what the bundled models were trained with; "lab" adds what a
# new lab changes (CoNSeP's missed nuclei sit in defocused, pale, JPEG-compressed areas —
# BENCHMARKS.md, issue 17 part 3). HoVer-Net trains with blur and colour jitter for the same reason.
APPEARANCE_LEVELS = ("light", "lab")


def gaussian_defocus(image: np.ndarray, rng: np.random.Generator, max_sigma: float = 1.5) -> np.ndarray:
    """Out-of-focus areas: a Gaussian blur of 0.3–``max_sigma`` px (whole-slide scanners focus per strip)."""
    sigma = float(rng.uniform(0.3, max_sigma))
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma)


def hue_saturation(image: np.ndarray, rng: np.random.Generator, hue: float = 8.0, saturation: float = 0.25) -> np.ndarray:
    """Shift hue by up to ±``hue`` degrees and scale saturation by ±``saturation`` (stain batches, scanners)."""
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-hue, hue) / 2.0) % 180.0  # OpenCV hue is degrees / 2
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(1 - saturation, 1 + saturation), 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)


def jpeg_roundtrip(image: np.ndarray, rng: np.random.Generator, quality: tuple[int, int] = (35, 90)) -> np.ndarray:
    """Re-encode as JPEG at a random quality: the blocking and chroma loss of compressed slides."""
    q = int(rng.integers(quality[0], quality[1] + 1))
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, q])
    if not ok:
        return image
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])


def appearance(image: np.ndarray, rng: np.random.Generator, level: str = "light") -> np.ndarray:
    """The image-only augmentations of a level (targets are unchanged by any of them)."""
    if level == "light":
        return brightness_contrast(hed_jitter(image, rng), rng)
    if level != "lab":
        raise ValueError(f"appearance level must be one of {APPEARANCE_LEVELS}, not {level!r}")
    image = hed_jitter(image, rng, sigma=0.15, bias=0.025)
    if rng.random() < 0.5:
        image = hue_saturation(image, rng)
    image = brightness_contrast(image, rng, amount=0.15)
    if rng.random() < 0.35:
        image = gaussian_defocus(image, rng)
    if rng.random() < 0.35:
        image = jpeg_roundtrip(image, rng)
    return image
