"""Nucleus centres with their types, from every truth format we evaluate against, in one
scheme for colorectal H&E: Epithelial, Inflammatory, Stromal, Other (None = untyped)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

TYPES = ("Epithelial", "Inflammatory", "Stromal", "Other")
CRCHISTO_TYPES = {"epithelial": "Epithelial", "inflammatory": "Inflammatory", "fibroblast": "Stromal", "others": "Other"}
CONSEP_TYPES = {1: "Other", 2: "Inflammatory", 3: "Epithelial", 4: "Stromal"}  # HoVer-Net's merged labels
TYPE_LABELS = {
    "crchisto": CRCHISTO_TYPES,
    "consep": {"1 other": "Other", "2 inflammatory": "Inflammatory", "3 epithelial (healthy 3 + malignant 4)": "Epithelial",
               "4 spindle-shaped (fibroblast 5, muscle 6, endothelial 7)": "Stromal"},
}
SNAP_PX = 3.0  # a typed CRCHisto centre within this of a detection centre types it


def _mat_points(path: Path) -> np.ndarray:
    from scipy.io import loadmat

    return np.asarray(loadmat(str(path))["detection"], np.float64).reshape(-1, 2) - 1.0  # MATLAB is 1-based


def read_crchisto(detection_mat: str | Path) -> tuple[np.ndarray, list[str | None]]:
    """``imgN_detection.mat`` and its ``imgN_<type>.mat`` siblings: every detection centre,
    typed where a typed centre lies within ``SNAP_PX`` (nearest first, one-to-one); typed
    centres that sit on no detection centre are added as typed nuclei."""
    from scipy.spatial import cKDTree

    detection_mat = Path(detection_mat)
    xy = _mat_points(detection_mat)
    types: list[str | None] = [None] * len(xy)
    stem = detection_mat.name[: -len("_detection.mat")]
    extra_xy, extra_types = [], []
    tree = cKDTree(xy) if len(xy) else None
    for suffix, name in CRCHISTO_TYPES.items():
        path = detection_mat.with_name(f"{stem}_{suffix}.mat")
        if not path.exists():
            continue
        for p in _mat_points(path):
            if tree is not None:
                dist, idx = tree.query(p, k=min(4, len(xy)), distance_upper_bound=SNAP_PX)
                for d, i in zip(np.atleast_1d(dist), np.atleast_1d(idx)):
                    if np.isfinite(d) and types[int(i)] is None:
                        types[int(i)] = name
                        break
                else:
                    extra_xy.append(p), extra_types.append(name)
            else:
                extra_xy.append(p), extra_types.append(name)
    if extra_xy:
        xy = np.concatenate([xy, np.array(extra_xy)])
        types += extra_types
    return xy, types


def read_consep(inst_png: str | Path) -> tuple[np.ndarray, list[str | None]]:
    """``NAME_inst.png`` (+ ``NAME_type.png``): instance centroids and majority types."""
    import cv2

    inst_png = Path(inst_png)
    inst = cv2.imread(str(inst_png), cv2.IMREAD_UNCHANGED)
    if inst is None:
        raise ValueError(f"{inst_png}: not a readable instance map")
    type_path = inst_png.with_name(inst_png.name.replace("_inst.png", "_type.png"))
    tmap = cv2.imread(str(type_path), cv2.IMREAD_UNCHANGED) if type_path.exists() else None
    labels = inst.astype(np.int64).ravel()
    n = int(labels.max())
    ys, xs = np.divmod(np.arange(labels.size), inst.shape[1])
    keep = labels > 0
    count = np.bincount(labels[keep], minlength=n + 1)
    cx = np.bincount(labels[keep], weights=xs[keep], minlength=n + 1)
    cy = np.bincount(labels[keep], weights=ys[keep], minlength=n + 1)
    present = np.flatnonzero(count[1:]) + 1
    xy = np.stack([cx[present] / count[present], cy[present] / count[present]], axis=1)
    if tmap is None:
        return xy, [None] * len(present)
    votes = np.zeros((n + 1, 5), np.int64)
    np.add.at(votes, (labels[keep], np.clip(tmap.ravel()[keep], 0, 4)), 1)
    majority = votes[:, 1:].argmax(axis=1) + 1
    return xy, [CONSEP_TYPES.get(int(majority[i])) if votes[i, 1:].sum() else None for i in present]
