"""Synthetic artefacts painted into training crops: pigment, debris, dust, pen ink and bare
glass — things that are dark or round like a nucleus and are not one.

Our training sets hold almost none of them, so a detector trained on them alone puts points
on black pigment (CRCHisto img11) and on dust over the glass (CMU-1's background). The
targets stay right by construction: an artefact is painted only where the crop's targets
hold no nucleus (``free_space``), so "nothing here" is what the model is taught there. A
nucleus that happens to lie unlabelled under one (CRCHisto marks only some) is covered by
it, which is what a pigment clump over a nucleus does in a real slide too.
"""

from __future__ import annotations

import cv2
import numpy as np

TOUCH = 0.02  # opacity below which an artefact leaves a pixel as it was
ARTEFACT_MARGIN_UM = 2.0  # a teacher's targets are erased this far around a painted artefact too


def grown(marked: np.ndarray, radius_px: float) -> np.ndarray:
    """``marked`` (bool) dilated by a disc of ``radius_px`` (at least 1)."""
    if not marked.any():
        return marked.astype(bool)
    r = max(1, int(round(radius_px)))
    return cv2.dilate(marked.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))).astype(bool)


def free_space(density: np.ndarray, mask: np.ndarray, keep_um: float, mpp: float) -> np.ndarray:
    """Where an artefact may go: farther than ``keep_um`` from any nucleus of the targets."""
    return ~grown((density > 0) | (mask > 0), keep_um / mpp)


def _smooth_noise(shape: tuple[int, int], sigma: float, rng: np.random.Generator) -> np.ndarray:
    field = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), sigmaX=max(sigma, 0.5))
    return (field - field.mean()) / (field.std() + 1e-6)


def clump_alpha(size: int, rng: np.random.Generator) -> np.ndarray:
    """An irregular clump (pigment, debris): a thresholded smooth field under a round
    envelope that reaches zero inside the square, with a few holes and soft edges."""
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    r = np.hypot(yy - size / 2, xx - size / 2) / (size / 2)
    field = _smooth_noise((size, size), size / 8, rng) - 3.0 * r ** 4 + rng.uniform(0.6, 1.4)
    alpha = ((field > 0) & (r < 0.92)).astype(np.float32)
    holes = _smooth_noise((size, size), rng.uniform(1.0, 2.5), rng)
    alpha *= np.clip(1.3 + 0.4 * holes, 0, 1)
    return cv2.GaussianBlur(alpha, (0, 0), sigmaX=rng.uniform(0.5, 1.2))


def granular(colour: np.ndarray, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """``colour`` with the darker and lighter grains of pigment (H, W, 3)."""
    shade = 1.0 + 0.35 * _smooth_noise(shape, rng.uniform(0.7, 1.8), rng)
    return np.clip(colour[None, None, :] * shade[..., None], 0, 255)


def speck_alpha(size: int, rng: np.random.Generator) -> np.ndarray:
    """Dust or a small dark speck: a dot, sharp or out of the focal plane."""
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    radius = size / 2 * rng.uniform(0.35, 0.7)
    stretch = rng.uniform(0.6, 1.0)
    r = np.hypot((yy - size / 2) / stretch, xx - size / 2)
    alpha = (r <= radius).astype(np.float32)
    return cv2.GaussianBlur(alpha, (0, 0), sigmaX=rng.uniform(0.4, max(0.5, radius / 2)))


def pen_alpha(shape: tuple[int, int], width: float, rng: np.random.Generator) -> np.ndarray:
    """A marker stroke across the crop: a wide, smooth curve of even ink."""
    h, w = shape
    points = np.cumsum(rng.normal(0, max(h, w) / 6, size=(5, 2)), axis=0) + rng.uniform(0, [w, h])
    alpha = np.zeros(shape, np.uint8)
    cv2.polylines(alpha, [points.astype(np.int32).reshape(-1, 1, 2)], False, 255, thickness=max(2, int(width)), lineType=cv2.LINE_AA)
    return cv2.GaussianBlur(alpha.astype(np.float32) / 255, (0, 0), sigmaX=1.0)


def _pigment_colour(rng: np.random.Generator) -> np.ndarray:
    """Black to dark brown or purple-black (carbon, haemosiderin, formalin pigment, ink)."""
    base = rng.uniform(12, 60)
    return np.array([base + rng.uniform(0, 30), base * rng.uniform(0.6, 0.9), base * rng.uniform(0.7, 1.1) + rng.uniform(0, 12)],
                    np.float32).clip(0, 255)


def _paste(image: np.ndarray, alpha: np.ndarray, colour: np.ndarray, y: int, x: int) -> None:
    """Blend ``colour`` into ``image`` (float32, in place) under ``alpha`` at (y, x), clipped to the image."""
    h, w = image.shape[:2]
    ah, aw = alpha.shape
    y0, x0, y1, x1 = max(0, y), max(0, x), min(h, y + ah), min(w, x + aw)
    if y1 <= y0 or x1 <= x0:
        return
    a = alpha[y0 - y : y1 - y, x0 - x : x1 - x, None]
    a = np.where(a > TOUCH, a, 0.0)  # the faint tail beyond what _place checked stays unpainted
    if colour.ndim == 3:  # a textured colour, shaped like alpha
        colour = colour[y0 - y : y1 - y, x0 - x : x1 - x]
    image[y0:y1, x0:x1] = image[y0:y1, x0:x1] * (1 - a) + colour * a


def _place(alpha: np.ndarray, free: np.ndarray, rng: np.random.Generator, tries: int = 12) -> tuple[int, int] | None:
    """A position where every pixel the artefact touches is free, or None."""
    h, w = free.shape
    ah, aw = alpha.shape
    touched = alpha > TOUCH
    for _ in range(tries):
        y, x = int(rng.integers(-ah // 3, h - 2 * ah // 3)), int(rng.integers(-aw // 3, w - 2 * aw // 3))
        y0, x0, y1, x1 = max(0, y), max(0, x), min(h, y + ah), min(w, x + aw)
        if y1 <= y0 or x1 <= x0:
            continue
        if free[y0:y1, x0:x1][touched[y0 - y : y1 - y, x0 - x : x1 - x]].all():
            return y, x
    return None


def paint_artefacts(image: np.ndarray, free: np.ndarray, mpp: float, rng: np.random.Generator,
                    count: tuple[int, int] = (1, 6)) -> tuple[np.ndarray, np.ndarray]:
    """``image`` (uint8 RGB) with a few artefacts painted where ``free`` allows, never where a
    target nucleus is, and where they lie (bool); sizes are in µm, so they mean the same at
    every model scale."""
    out = image.astype(np.float32)
    h, w = free.shape
    if rng.random() < 0.3:  # bare glass: a smooth region of near-white with dust on it
        field = _smooth_noise((h, w), max(h, w) / 5, rng) + rng.uniform(-0.8, 0.8)
        region = (field > 0) & free
        region = cv2.erode(region.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        if region.mean() > 0.05:
            glass = np.array(rng.uniform([225, 222, 225], [250, 248, 252]), np.float32)
            soft = cv2.GaussianBlur(region.astype(np.float32), (0, 0), sigmaX=2.0)[..., None] * region[..., None]
            out = out * (1 - soft) + (glass + rng.normal(0, 2.5, (h, w, 3)).astype(np.float32)) * soft
            for _ in range(int(rng.integers(2, 9))):  # dust settles on the glass
                size = max(3, int(rng.uniform(1.0, 8.0) / mpp))
                alpha = speck_alpha(size, rng) * rng.uniform(0.5, 1.0)
                spot = _place(alpha, region, rng)
                if spot is not None:
                    _paste(out, alpha, _pigment_colour(rng) + rng.uniform(0, 80), *spot)
    for _ in range(int(rng.integers(*count))):
        kind = rng.choice(["pigment", "speck", "pen"], p=[0.6, 0.3, 0.1])
        if kind == "pen":
            alpha = pen_alpha((h, w), rng.uniform(8, 30) / mpp, rng) * rng.uniform(0.25, 0.6)
            if free[alpha > TOUCH].all():
                ink = np.array([(30, 120, 60), (30, 60, 140), (40, 40, 40), (150, 40, 60)][int(rng.integers(0, 4))], np.float32)
                _paste(out, alpha, ink, 0, 0)
            continue
        size_um = float(np.exp(rng.uniform(np.log(4), np.log(50)))) if kind == "pigment" else rng.uniform(1.5, 6)
        size = max(5, int(size_um / mpp))
        alpha = clump_alpha(size, rng) if kind == "pigment" else speck_alpha(size, rng)
        alpha *= rng.uniform(0.75, 1.0)
        spot = _place(alpha, free, rng)
        if spot is not None:
            colour = _pigment_colour(rng)
            _paste(out, alpha, granular(colour, alpha.shape, rng) if kind == "pigment" else colour, *spot)
    painted = np.clip(out, 0, 255).astype(np.uint8)
    return painted, np.abs(painted.astype(np.int16) - image).max(axis=2) > 24
