"""Class-balanced draws of datasets D of size k (MATH.md §2, "class balance").

Proportional stratification, as the paper's reference code does it: class counts are
``round(k * share_c)`` with ``share_c`` the class shares of the *whole pool*; the rounding
remainder (positive or negative) goes to the most frequent class; every class must get at
least one point; within each class points are drawn uniformly without replacement.

Using the whole pool's shares for every point makes "draw D from the pool without z" and "draw
D from the pool and keep it for every z not in D" the same distribution for each z, which is
what lets the contribution engine share one D across many points.
"""

from __future__ import annotations

import numpy as np

__all__ = ["stratified_counts", "StratifiedSampler"]


def stratified_counts(class_sizes, k: int) -> np.ndarray:
    """Per-class counts of a stratified dataset of size ``k``.

    ``class_sizes``: number of pool points of each class (index = class label).
    """
    sizes = np.asarray(class_sizes, dtype=np.int64)
    if sizes.ndim != 1 or np.any(sizes < 0) or sizes.sum() == 0:
        raise ValueError(f"class_sizes must be non-negative counts; got {class_sizes}.")
    k = int(k)
    if k < 1:
        raise ValueError(f"Dataset size k must be a positive integer; got {k}.")
    total = sizes.sum()
    counts = np.rint(k * sizes / total).astype(np.int64)
    counts[np.argmax(sizes)] += k - counts.sum()
    present = sizes > 0
    if np.any(counts[present] < 1):
        missing = np.flatnonzero(present & (counts < 1)).tolist()
        raise ValueError(
            f"k={k} is too small for class balance: classes {missing} would get no point "
            f"(class sizes {sizes.tolist()}). Use a larger k."
        )
    return counts


class StratifiedSampler:
    """Draws stratified index sets from a pool with labels ``y`` (integers ``0..K-1``)."""

    def __init__(self, y, n_classes: int | None = None):
        y = np.asarray(y)
        if y.ndim != 1 or y.size == 0:
            raise ValueError("y must be a non-empty 1-D array of integer labels.")
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
            raise ValueError("Labels must be integers 0..K-1 (use np.unique(y, return_inverse=True)).")
        self.y = y
        self.n_classes = int(n_classes if n_classes is not None else y.max() + 1)
        self.class_sizes = np.bincount(y, minlength=self.n_classes)
        self.by_class = [np.flatnonzero(y == c) for c in range(self.n_classes)]

    def counts(self, k: int) -> np.ndarray:
        return stratified_counts(self.class_sizes, k)

    def check_k(self, k: int, exclude_one: bool = True) -> np.ndarray:
        """Validate that D of size k can be drawn (without one point z, if ``exclude_one``)."""
        n = self.y.size
        if k > n - int(exclude_one):
            raise ValueError(
                f"k={k} is larger than the pool allows ({n} points"
                + (", minus the point z itself" if exclude_one else "") + "). Use a smaller k."
            )
        counts = self.counts(k)
        room = self.class_sizes - int(exclude_one)
        bad = np.flatnonzero(counts > room)
        if bad.size:
            raise ValueError(
                f"k={k}: class {bad.tolist()} needs {counts[bad].tolist()} points but the pool "
                f"has only {self.class_sizes[bad].tolist()}"
                + (" (one of them may be z)" if exclude_one else "") + ". Use a smaller k."
            )
        return counts

    def prob_excluded(self, k: int) -> np.ndarray:
        """P(z not in D) for a point z of each class, when D is drawn from the whole pool."""
        counts = self.counts(k)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.class_sizes > 0, 1.0 - counts / np.maximum(self.class_sizes, 1), 1.0)

    def draw(self, rng: np.random.Generator, k: int, exclude: int | None = None) -> np.ndarray:
        """Indices of a stratified D of size k; ``exclude`` removes one point from the pool."""
        counts = self.counts(k)
        parts = []
        for c, n_c in enumerate(counts):
            idx = self.by_class[c]
            if exclude is not None and self.y[exclude] == c:
                idx = idx[idx != exclude]
            if n_c > idx.size:
                raise ValueError(f"Class {c} has only {idx.size} points available, {n_c} needed.")
            parts.append(rng.choice(idx, size=int(n_c), replace=False))
        return np.concatenate(parts)
