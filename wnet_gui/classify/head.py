"""A small classifier on nucleus features: standardise, one hidden layer with dropout, softmax.
Learned with class-balanced cross-entropy (a rare class counts as much as a common one) in a
second or two on a CPU; applied with numpy alone (no torch needed to class a slide)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HIDDEN = 128
STEPS = 400


@dataclass
class Head:
    """The learned arrays: standardisation, then ``relu(x @ w1 + b1) @ w2 + b2``."""

    mean: np.ndarray
    std: np.ndarray
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    ARRAYS = ("mean", "std", "w1", "b1", "w2", "b2")

    @property
    def n_features(self) -> int:
        return len(self.mean)

    @property
    def n_classes(self) -> int:
        return len(self.b2)

    def probabilities(self, features: np.ndarray, chunk: int = 65536) -> np.ndarray:
        """(N, classes) softmax probabilities, in chunks so a slide's million nuclei stay small."""
        out = np.empty((len(features), self.n_classes), np.float32)
        for k in range(0, len(features), chunk):
            x = (features[k : k + chunk] - self.mean) / self.std
            z = np.maximum(x @ self.w1 + self.b1, 0) @ self.w2 + self.b2
            z = np.exp(z - z.max(axis=1, keepdims=True))
            out[k : k + chunk] = z / z.sum(axis=1, keepdims=True)
        return out

    def check(self) -> None:
        """Shapes that fit together and finite numbers (a card's arrays are data from a file)."""
        d, h, c = len(self.mean), len(self.b1), len(self.b2)
        shapes = {"mean": (d,), "std": (d,), "w1": (d, h), "b1": (h,), "w2": (h, c), "b2": (c,)}
        for name, shape in shapes.items():
            value = getattr(self, name)
            if value.shape != shape or value.dtype != np.float32 or not np.isfinite(value).all():
                raise ValueError(f"array {name} is {value.dtype} {value.shape}, not float32 {shape} of finite numbers")
        if not (self.std > 0).all():
            raise ValueError("array std has a value that is not positive")


def train(features: np.ndarray, labels: np.ndarray, n_classes: int, hidden: int = HIDDEN, steps: int = STEPS, seed: int = 0) -> Head:
    """Fit a head to labelled nuclei (labels 0..n_classes-1), every class weighted by the
    inverse of its count."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    x = torch.from_numpy(np.asarray(features, np.float32))
    y = torch.from_numpy(np.asarray(labels, np.int64))
    mean, std = x.mean(0), x.std(0, unbiased=False).clamp_min(1e-4)
    xn = (x - mean) / std
    counts = torch.bincount(y, minlength=n_classes).float()
    weight = torch.where(counts > 0, counts.sum() / counts.clamp_min(1) / max(int((counts > 0).sum()), 1), torch.zeros_like(counts))
    first, last = torch.nn.Linear(x.shape[1], hidden), torch.nn.Linear(hidden, n_classes)
    drop = torch.nn.Dropout(0.3)
    params = list(first.parameters()) + list(last.parameters())
    opt = torch.optim.AdamW(params, lr=3e-3, weight_decay=1e-3)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(last(drop(torch.relu(first(xn)))), y, weight=weight).backward()
        opt.step()
    as_np = lambda t: t.detach().numpy().astype(np.float32)  # noqa: E731
    return Head(as_np(mean), as_np(std), as_np(first.weight.T), as_np(first.bias), as_np(last.weight.T), as_np(last.bias))


def cross_validated_accuracy(features: np.ndarray, labels: np.ndarray, n_classes: int, folds: int = 5, seed: int = 0) -> float:
    """Accuracy on labelled nuclei each fold left out of training (what the user is told before
    anything is applied); NaN with fewer than two labelled nuclei per fold."""
    labels = np.asarray(labels)
    if len(labels) < 2 * folds:
        return float("nan")
    order = np.random.default_rng(seed).permutation(len(labels))
    right = 0
    for k in range(folds):
        test = order[k::folds]
        train_idx = np.setdiff1d(order, test)
        head = train(features[train_idx], labels[train_idx], n_classes, seed=seed)
        right += int((head.probabilities(features[test]).argmax(axis=1) == labels[test]).sum())
    return right / len(labels)
