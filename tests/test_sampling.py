"""Proportional stratification and stratified draws."""

from __future__ import annotations

import numpy as np
import pytest

from scaling_kit.sampling import StratifiedSampler, stratified_counts


@pytest.mark.parametrize(
    ("sizes", "k", "expected"),
    [
        ([50, 50], 10, [5, 5]),
        ([70, 30], 10, [7, 3]),
        ([212, 357], 100, [37, 63]),  # breast cancer-like: 37.26 / 62.74
        ([59, 71, 48], 20, [7, 8, 5]),  # wine: 6.63 / 7.98 / 5.39 -> 7+8+5 = 20
        ([59, 71, 48], 10, [3, 4, 3]),  # 3.31 / 3.99 / 2.70 -> 3+4+3 = 10
        ([10, 30, 60], 7, [1, 2, 4]),  # 0.7 / 2.1 / 4.2 -> 1+2+4 = 7
        ([33, 33, 34], 10, [3, 3, 4]),  # 3.3 / 3.3 / 3.4 -> 3+3+3 = 9, remainder +1 to class 2
        ([40, 35, 25], 10, [4, 4, 2]),  # 4.0 / 3.5 / 2.5 -> rint 4+4+2 = 10
    ],
)
def test_stratified_counts_proportional(sizes, k, expected):
    sizes = np.asarray(sizes)
    counts = stratified_counts(sizes, k)
    assert counts.sum() == k
    assert counts.dtype.kind == "i"
    # every class but the most frequent is rounded to within 1/2 of its proportional share
    share = k * sizes / sizes.sum()
    others = np.arange(len(sizes)) != np.argmax(sizes)
    assert np.all(np.abs(counts[others] - share[others]) <= 0.5)
    if expected is not None:
        np.testing.assert_array_equal(counts, expected)


def test_remainder_goes_to_most_frequent_class():
    # 2.6 / 4.6 / 2.8 -> 3 + 5 + 3 = 11: the most frequent class (index 1) gives one back
    np.testing.assert_array_equal(stratified_counts([26, 46, 28], 10), [3, 4, 3])
    # 1.8 / 1.5 / 1.5 / 1.2 -> rint 2 + 2 + 2 + 1 = 7: class 0 (most frequent) gives one back
    np.testing.assert_array_equal(stratified_counts([30, 25, 25, 20], 6), [1, 2, 2, 1])
    # 3.3 / 3.3 / 3.4 -> 3 + 3 + 3 = 9: the missing point goes to class 2
    np.testing.assert_array_equal(stratified_counts([33, 33, 34], 10), [3, 3, 4])
    # 0.6 x 3 + 1.2 -> 1 + 1 + 1 + 1 = 4 > 3: the remainder would empty the largest class
    with pytest.raises(ValueError, match=r"classes \[3\]"):
        stratified_counts([5, 5, 5, 10], 3)


def test_every_class_needs_a_point():
    with pytest.raises(ValueError, match=r"classes \[1\]"):
        stratified_counts([95, 5], 5)  # 0.25 -> 0 points for class 1
    assert stratified_counts([95, 5], 20).tolist() == [19, 1]
    # empty classes are allowed to get nothing
    assert stratified_counts([10, 0, 10], 4).tolist() == [2, 0, 2]


def test_draw_exact_counts_without_replacement():
    y = np.repeat([0, 1, 2], [20, 12, 8])
    sampler = StratifiedSampler(y)
    rng = np.random.default_rng(0)
    counts = sampler.counts(20)
    np.testing.assert_array_equal(counts, [10, 6, 4])
    for _ in range(50):
        D = sampler.draw(rng, 20)
        assert D.size == 20 and np.unique(D).size == 20
        np.testing.assert_array_equal(np.bincount(y[D], minlength=3), counts)


def test_draw_is_uniform_within_class():
    y = np.repeat([0, 1], [10, 10])
    sampler = StratifiedSampler(y)
    rng = np.random.default_rng(1)
    hits = np.zeros(20)
    n = 2000
    for _ in range(n):
        hits[sampler.draw(rng, 10)] += 1
    # each point is in D with probability 1/2; binomial sd = sqrt(n/4) ~ 22
    assert np.all(np.abs(hits - n / 2) < 5 * np.sqrt(n / 4))


def test_exclude_is_honoured():
    y = np.repeat([0, 1], [6, 4])
    sampler = StratifiedSampler(y)
    rng = np.random.default_rng(2)
    for z in range(10):
        for _ in range(30):
            D = sampler.draw(rng, 8, exclude=z)  # counts [5, 3]: z's class loses one slot
            assert z not in D
            np.testing.assert_array_equal(np.bincount(y[D], minlength=2), [5, 3])
    # k needing every point of z's class cannot exclude z
    with pytest.raises(ValueError, match="only"):
        StratifiedSampler(np.repeat([0, 1], [5, 5])).draw(rng, 10, exclude=0)


def test_draw_is_reproducible():
    y = np.repeat([0, 1, 2], [15, 10, 5])
    sampler = StratifiedSampler(y)
    a = sampler.draw(np.random.default_rng(7), 12)
    b = sampler.draw(np.random.default_rng(7), 12)
    c = sampler.draw(np.random.default_rng(8), 12)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(np.sort(a), np.sort(c))


def test_check_k_and_prob_excluded():
    y = np.repeat([0, 1], [6, 4])
    sampler = StratifiedSampler(y)
    np.testing.assert_array_equal(sampler.check_k(8), [5, 3])
    with pytest.raises(ValueError, match="larger than the pool"):
        sampler.check_k(10)
    sampler.check_k(10, exclude_one=False)
    with pytest.raises(ValueError, match="needs"):
        sampler.check_k(9)  # counts [5, 4]: class 1 has no room for z outside D
    np.testing.assert_allclose(sampler.prob_excluded(5), [1 - 3 / 6, 1 - 2 / 4])


def test_counts_are_remembered_per_size_and_cannot_be_altered_by_a_caller():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    sampler = StratifiedSampler(y)
    first = sampler.counts(10)
    np.testing.assert_array_equal(first, stratified_counts([50, 30, 20], 10))
    first[:] = -1  # a caller writing into its copy
    np.testing.assert_array_equal(sampler.counts(10), [5, 3, 2])
    np.testing.assert_array_equal(sampler.counts(np.int64(20)), [10, 6, 4])  # numpy ints too
    with pytest.raises(ValueError, match="too small"):
        sampler.counts(1)  # validation still names the problem, every time
    with pytest.raises(ValueError, match="too small"):
        sampler.counts(1)
