"""Which features teach a nucleus classifier from a few labelled tiles (issue 28).

CoNSeP: the true nuclei of k random train tiles (several draws) are the labels a pathologist
would give; every true nucleus of the 14 test tiles is classed. Prints accuracy, macro F1 and
the seconds training took, per method:

- ``frozen-linear``: `accurate`'s stage-1 encoder run once over each tile, its four levels read
  at the centre plus a 64 µm average of the deepest (what detection already computes), into a
  class-balanced linear model (the first try recorded in the issue: 0.71-0.74);
- ``frozen-mlp``: the same features into a small MLP with dropout;
- ``finetune``: 64-px patches around each centre through a copy of the encoder whose last
  blocks (and a head) learn from the labels, with flips, rotations and stain jitter, for a
  fixed time budget.

    python scripts/classes_experiment.py --tiles 3 --draws 3 --methods frozen-linear frozen-mlp finetune --seconds 60
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch
import torch.nn.functional as F

from wnet_gui import datasets
from wnet_gui.models.zoo import resolve_card

CLASSES = ("Epithelial", "Inflammatory", "Stromal", "Other")


def labels_of(tile) -> tuple[np.ndarray, np.ndarray]:
    keep = [i for i, t in enumerate(tile.types) if t in CLASSES]
    return tile.centres[keep], np.array([CLASSES.index(tile.types[i]) for i in keep])


def normalise(image: np.ndarray, card) -> torch.Tensor:
    x = torch.from_numpy(image).permute(2, 0, 1).float() / 255.0
    mean, std = torch.tensor(card.mean).view(3, 1, 1), torch.tensor(card.std).view(3, 1, 1)
    return (x - mean) / std


@torch.no_grad()
def frozen_features(encoder, image: torch.Tensor, xy: np.ndarray) -> torch.Tensor:
    """Each level of the encoder read at the centres (bilinear), and the deepest level averaged
    over 64 µm around them: (N, C)."""
    h, w = image.shape[-2:]
    ph, pw = (-h) % 32, (-w) % 32
    x = F.pad(image[None], (0, pw, 0, ph), mode="reflect")
    levels = encoder(x)[1:]
    grid = torch.from_numpy(xy).float()
    grid = torch.stack([(grid[:, 0] + 0.5) / x.shape[-1] * 2 - 1, (grid[:, 1] + 0.5) / x.shape[-2] * 2 - 1], 1)[None, :, None, :]
    parts = [F.grid_sample(f, grid, align_corners=False)[0, :, :, 0].T for f in levels]
    context = F.avg_pool2d(levels[-1], 15, stride=1, padding=7, count_include_pad=False)  # 15 cells of 16 px = 60 µm
    parts.append(F.grid_sample(context, grid, align_corners=False)[0, :, :, 0].T)
    return torch.cat(parts, 1)


def balanced_weights(y: np.ndarray, n: int) -> torch.Tensor:
    counts = np.bincount(y, minlength=n).astype(np.float64)
    w = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / n, 0.0)
    return torch.tensor(w, dtype=torch.float32)


def train_head(x: torch.Tensor, y: np.ndarray, hidden: int, steps: int = 400) -> torch.nn.Module:
    mean, std = x.mean(0), x.std(0) + 1e-6
    layers = [torch.nn.Linear(x.shape[1], len(CLASSES))] if not hidden else [
        torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(), torch.nn.Dropout(0.3), torch.nn.Linear(hidden, len(CLASSES))]
    head = torch.nn.Sequential(*layers)
    opt = torch.optim.AdamW(head.parameters(), lr=3e-3, weight_decay=1e-3 if hidden else 1e-2)
    yt = torch.from_numpy(y)
    weights = balanced_weights(y, len(CLASSES))
    xn = (x - mean) / std
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(head(xn), yt, weight=weights).backward()
        opt.step()
    head.eval()
    return torch.nn.Sequential(_Standardise(mean, std), head)


class _Standardise(torch.nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x):
        return (x - self.mean) / self.std


def patches(image: torch.Tensor, xy: np.ndarray, size: int) -> torch.Tensor:
    half = size // 2
    padded = F.pad(image[None], (half, half, half, half), mode="reflect")[0]
    out = torch.empty(len(xy), 3, size, size)
    for k, (x, y) in enumerate(np.round(xy).astype(int)):
        out[k] = padded[:, y : y + size, x : x + size]
    return out


class PatchClassifier(torch.nn.Module):
    """The encoder on a patch: the deepest level averaged, the middle ones read at the centre."""

    def __init__(self, encoder, n_classes: int):
        super().__init__()
        self.encoder = encoder
        with torch.no_grad():
            dims = [f.shape[1] for f in encoder(torch.zeros(1, 3, 64, 64))[1:]]
        self.head = torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(dims[-1] + dims[-2] + dims[-3], n_classes))

    def forward(self, x):
        levels = self.encoder(x)[1:]
        centre = lambda f: f[:, :, f.shape[2] // 2, f.shape[3] // 2]  # noqa: E731
        return self.head(torch.cat([levels[-1].mean((2, 3)), centre(levels[-2]), centre(levels[-3])], 1))


def augment(x: torch.Tensor) -> torch.Tensor:
    if np.random.rand() < 0.5:
        x = x.flip(3)
    x = torch.rot90(x, int(np.random.randint(4)), (2, 3))
    scale = 1 + 0.1 * torch.randn(x.shape[0], 3, 1, 1)
    shift = 0.1 * torch.randn(x.shape[0], 3, 1, 1)
    return x * scale + shift


def finetune(encoder, x: torch.Tensor, y: np.ndarray, seconds: float, train_blocks: int) -> torch.nn.Module:
    model = PatchClassifier(copy.deepcopy(encoder), len(CLASSES))
    blocks = model.encoder.model.blocks
    for p in model.encoder.parameters():
        p.requires_grad = False
    for block in list(blocks)[-train_blocks:]:
        for p in block.parameters():
            p.requires_grad = True
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-4)
    yt = torch.from_numpy(y)
    weights = balanced_weights(y, len(CLASSES))
    # balanced sampling: each batch draws classes evenly
    by_class = [np.flatnonzero(y == c) for c in range(len(CLASSES))]
    by_class = [b for b in by_class if len(b)]
    start, steps = time.perf_counter(), 0
    model.train()
    while time.perf_counter() - start < seconds:
        idx = np.concatenate([np.random.choice(b, 16) for b in by_class])
        opt.zero_grad()
        loss = F.cross_entropy(model(augment(x[idx])), yt[idx], weight=weights * 0 + 1)
        loss.backward()
        opt.step()
        steps += 1
    model.eval()
    model.steps = steps
    return model


@torch.no_grad()
def predict_patches(model, x: torch.Tensor) -> np.ndarray:
    out = []
    for k in range(0, len(x), 256):
        logits = model(x[k : k + 256]) + model(x[k : k + 256].flip(3))
        out.append(logits.argmax(1).numpy())
    return np.concatenate(out)


def scores(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    f1 = []
    for c in range(len(CLASSES)):
        tp = np.sum((p == c) & (y == c))
        fp, fn = np.sum((p == c) & (y != c)), np.sum((p != c) & (y == c))
        f1.append(2 * tp / max(2 * tp + fp + fn, 1))
    return float(np.mean(p == y)), float(np.mean(f1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiles", type=int, nargs="+", default=[3])
    ap.add_argument("--draws", type=int, default=3)
    ap.add_argument("--methods", nargs="+", default=["frozen-linear", "frozen-mlp", "finetune"])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--train-blocks", type=int, default=2)
    ap.add_argument("--patch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    card = resolve_card("accurate")
    encoder = card.load_model().stage1.encoder.eval()
    train, test = datasets.load("consep", "train"), datasets.load("consep", "test")
    t = time.perf_counter()
    feats = {tile.name: frozen_features(encoder, normalise(tile.image, card), labels_of(tile)[0]) for tile in train + test}
    print(f"frozen features of {len(feats)} tiles: {time.perf_counter() - t:.1f} s")
    test_y = np.concatenate([labels_of(tile)[1] for tile in test])
    test_x = torch.cat([feats[tile.name] for tile in test])
    test_p = torch.cat([patches(normalise(tile.image, card), labels_of(tile)[0], args.patch) for tile in test]) \
        if "finetune" in args.methods else None
    print(f"test: {len(test_y)} nuclei, majority class alone {np.bincount(test_y).max() / len(test_y):.3f}")
    rng = np.random.default_rng(0)
    for k in args.tiles:
        for draw in range(args.draws):
            chosen = [train[i] for i in rng.choice(len(train), k, replace=False)]
            y = np.concatenate([labels_of(tile)[1] for tile in chosen])
            counts = np.bincount(y, minlength=len(CLASSES)).tolist()
            for method in args.methods:
                t = time.perf_counter()
                if method.startswith("frozen"):
                    x = torch.cat([feats[tile.name] for tile in chosen])
                    head = train_head(x, y, hidden=0 if method == "frozen-linear" else 128)
                    took = time.perf_counter() - t
                    with torch.no_grad():
                        p = head(test_x).argmax(1).numpy()
                else:
                    x = torch.cat([patches(normalise(tile.image, card), labels_of(tile)[0], args.patch) for tile in chosen])
                    model = finetune(encoder, x, y, args.seconds, args.train_blocks)
                    took = time.perf_counter() - t
                    p = predict_patches(model, test_p)
                acc, f1 = scores(test_y, p)
                print(f"{k} tiles draw {draw} ({', '.join(t.name for t in chosen)}; {counts}) {method:14s} acc {acc:.3f} macro F1 {f1:.3f}  {took:5.1f} s",
                      flush=True)


if __name__ == "__main__":
    main()
