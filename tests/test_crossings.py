"""Tests of crossing laws (scaling_kit.laws.crossings)."""

import numpy as np
import pandas as pd
import pytest

from scaling_kit.laws.crossings import check_crossings, law_crossing
from scaling_kit.results import Summary
from scaling_kit.sign_changes import familywise_z

KS = np.array([20, 32, 50, 80, 126, 200])


def table(c, alpha, sigma, n, seed, sample_offset=0, sample_step=1, relative=False):
    """Sampled contributions N(c k^-alpha, sigma^2) with sample ids offset + step * i
    (``relative``: standard deviation ``sigma * c k^-alpha``)."""
    rng = np.random.default_rng(seed)
    rows = []
    for p, (ci, ai) in enumerate(zip(c, alpha, strict=True)):
        for k in KS:
            mean = ci * k ** -ai
            d = mean + sigma * (abs(mean) if relative else 1.0) * rng.standard_normal(n)
            rows.append(pd.DataFrame({"point": p, "k": k,
                                      "sample": sample_offset + sample_step * np.arange(n),
                                      "delta": d}))
    return pd.concat(rows, ignore_index=True)


def test_law_crossing_closed_form():
    x = law_crossing(1.0, 1.5, 0.1, 1.0)
    assert x.k_cross == pytest.approx(100.0, rel=1e-12)  # (1 / 0.1)^(1 / 0.5)
    v = x.values([x.k_cross, 50.0, 200.0])
    assert v[0, 0] == pytest.approx(v[1, 0], rel=1e-12)
    # the steeper law starts higher and ends lower
    assert (x.larger_below, x.larger_above) == (1, 2)
    assert v[0, 1] > v[1, 1] and v[0, 2] < v[1, 2]
    # harmful points (c < 0): same k_x, the order of the values flips
    h = law_crossing(-1.0, 1.5, -0.1, 1.0)
    assert h.k_cross == pytest.approx(100.0) and (h.larger_below, h.larger_above) == (2, 1)
    assert h.values([50.0])[1, 0] > h.values([50.0])[0, 0]
    # opposite signs or equal exponents: no crossing; the larger law is larger everywhere
    assert np.isnan(law_crossing(1.0, 1.0, -1.0, 2.0).k_cross)
    par = law_crossing(0.5, 1.2, 2.0, 1.2)
    assert np.isnan(par.k_cross) and par.larger_below == par.larger_above == 2
    with pytest.raises(ValueError, match="nonzero"):
        law_crossing(0.0, 1.0, 1.0, 2.0)
    with pytest.raises(TypeError, match="alpha2"):
        law_crossing(1.0, 1.0, 1.0, "2")
    with pytest.raises(ValueError, match="positive"):
        x.values([0.0])


def test_check_crossings_confirms_a_true_crossing_and_no_false_one():
    # points 0 and 1 cross at k = 100; point 2 is parallel to 1 and meets 0 far outside
    c, alpha = [1.0, 0.1, 0.01], [1.5, 1.0, 1.0]
    samples = table(c, alpha, 2e-4, 200, seed=0)
    check = check_crossings(samples, level=0.01)
    assert check.n_predicted == 1 and check.n_confirmed == 1 and check.n_contradicted == 0
    row = check.pairs.iloc[0]
    assert (row.point_i, row.point_j) == (0, 1)
    # the crossing k of laws fitted on 100 samples per k, sem 2e-5: within a few %
    assert row.k_cross == pytest.approx(100.0, rel=0.05)
    assert check.z == pytest.approx(familywise_z(2, 0.01))
    assert (check.k_min, check.k_max) == (20, 200)
    assert isinstance(check.summary(), Summary)
    # the pair's laws (first half) and its held-out means (second half), ready to draw
    crossing = check.crossing(0, 1)
    assert crossing.k_cross == pytest.approx(row.k_cross, rel=1e-12)
    means = check.pair_means(0, 1)
    odd = samples[samples["sample"] % 2 == 1]
    assert means.loc[200, "mean_2"] == pytest.approx(
        odd.loc[(odd.point == 1) & (odd.k == 200), "delta"].mean(), rel=1e-12)
    assert list(means.columns) == ["mean_1", "sem_1", "mean_2", "sem_2"]
    with pytest.raises(ValueError, match="not in the samples"):
        check.pair_means(0, 7)


def test_check_crossings_detects_a_contradiction_in_the_held_out_half():
    # even samples: the crossing laws; odd samples: point 1 ten times smaller, so that point 0
    # stays above it at every k in the held-out half
    even = table([1.0, 0.1], [1.5, 1.0], 2e-5, 50, seed=1, sample_step=2)
    odd = table([1.0, 0.01], [1.5, 1.0], 2e-5, 50, seed=2, sample_offset=1, sample_step=2)
    check = check_crossings(pd.concat([even, odd], ignore_index=True))
    assert check.n_predicted == 1 and check.n_contradicted == 1 and check.n_confirmed == 0
    assert check.pairs.loc[0, "observed_max"] > 0 > check.pairs.loc[0, "predicted_max"]


def test_noise_leaves_a_crossing_unresolved():
    # sem / mean = 1 / sqrt(10) per half: every mean keeps its sign, but the differences at
    # both ends are below 2 standard errors
    samples = table([1.0, 0.1], [1.5, 1.0], 1.0, 20, seed=3, relative=True)
    check = check_crossings(samples)
    assert check.n_predicted == 1
    assert check.n_confirmed == 0 and check.n_contradicted == 0


def test_check_crossings_bad_input():
    samples = table([1.0, 0.1], [1.5, 1.0], 1e-4, 4, seed=0)
    with pytest.raises(ValueError, match="sample"):
        check_crossings(samples.drop(columns="sample"))
    with pytest.raises(ValueError, match="level"):
        check_crossings(samples, level=0.0)

