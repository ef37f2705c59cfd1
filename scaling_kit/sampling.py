"""Class-balanced draws of datasets D of size k (docs/math.md §3, "class-balanced sampling").

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

from ._checks import check_int, check_labels

__all__ = ["stratified_counts", "StratifiedSampler"]


def stratified_counts(class_sizes, k: int) -> np.ndarray:
    """Per-class counts of a stratified dataset of size ``k``.

    ``class_sizes``: number of pool points of each class (index = class label); counts are
    ``rint(k * size_c / sum(sizes))`` with the remainder on the most frequent class.
    """
    sizes = np.asarray(class_sizes)
    if sizes.ndim != 1 or sizes.size == 0:
        raise ValueError(f"class_sizes must be a non-empty 1-D array of counts; got {class_sizes!r}.")
    if sizes.dtype.kind == "b" or sizes.dtype.kind not in "iuf" or \
            (sizes.dtype.kind == "f" and not np.all(np.isfinite(sizes) & (sizes == np.round(sizes)))):
        raise ValueError(f"class_sizes must hold whole non-negative counts; got {class_sizes!r}.")
    sizes = sizes.astype(np.int64)
    if np.any(sizes < 0) or sizes.sum() == 0:
        raise ValueError(f"class_sizes must be non-negative counts, not all zero; got "
                         f"{sizes.tolist()}.")
    k = check_int(k, "k", low=1)
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
    """Draws stratified index sets from a pool with labels ``y`` (integers ``0..K-1``).

    ``n_classes`` (default ``max(y) + 1``) may exceed the labels present (empty classes get
    no points).
    """

    def __init__(self, y, n_classes: int | None = None):
        y = check_labels(y, "y")
        if y.size == 0:
            raise ValueError("y is empty; the pool needs at least one labelled point.")
        if n_classes is None:
            n_classes = int(y.max() + 1)
        n_classes = check_int(n_classes, "n_classes", low=int(y.max() + 1))
        self.y = y
        self.n_classes = n_classes
        self.class_sizes = np.bincount(y, minlength=self.n_classes)
        self.by_class = [np.flatnonzero(y == c) for c in range(self.n_classes)]
        self._counts = {}  # k -> counts: a run draws thousands of datasets of a few sizes

    def counts(self, k: int) -> np.ndarray:
        """Per-class counts of a dataset of size ``k`` (:func:`stratified_counts`)."""
        key = k if type(k) is int else None  # only plain ints are remembered (validated once)
        if key is not None and key in self._counts:
            return self._counts[key].copy()
        counts = stratified_counts(self.class_sizes, k)
        if key is not None:
            self._counts[key] = counts
        return counts.copy()

    def check_k(self, k: int, exclude_one: bool = True, name: str = "k") -> np.ndarray:
        """Validate that D of size k can be drawn (without one point z, if ``exclude_one``);
        errors name the argument ``name`` (e.g. ``k_range``)."""
        k = check_int(k, name, low=1)
        n = self.y.size
        where = "" if name == "k" else f"{name}: "
        if k > n - int(exclude_one):
            raise ValueError(
                f"{where}k={k} is larger than the pool allows ({n} points"
                + (", minus the point z itself" if exclude_one else "") + "). Use a smaller k."
            )
        try:
            counts = self.counts(k)
        except ValueError as err:
            raise ValueError(f"{where}{err}") from None
        room = self.class_sizes - int(exclude_one)
        bad = np.flatnonzero(counts > room)
        if bad.size:
            raise ValueError(
                f"{where}k={k}: class {bad.tolist()} needs {counts[bad].tolist()} points but the pool "
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
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy Generator (np.random.default_rng(seed)); got "
                            f"{type(rng).__name__}.")
        counts = self.counts(k)
        if exclude is not None:
            exclude = check_int(exclude, "exclude", low=0, high=self.y.size - 1)
        parts = []
        for c, n_c in enumerate(counts):
            idx = self.by_class[c]
            if exclude is not None and self.y[exclude] == c:
                idx = idx[idx != exclude]
            if n_c > idx.size:
                raise ValueError(f"k={k}: class {c} has only {idx.size} points available, "
                                 f"{n_c} needed. Use a smaller k.")
            parts.append(rng.choice(idx, size=int(n_c), replace=False))
        return np.concatenate(parts)
