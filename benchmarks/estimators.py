"""Benchmark: the estimators of individualized laws on simulated laws with known parameters.

The laws (:func:`scaling_kit.laws.simulate_laws`, documented there; docs/math.md §5): each
point's exponent ``alpha`` about uniform on [0.5, 2.5], 25% harmful points (``c < 0``),
``|psi(300)|`` log-normal around 0.005, the noise sd ``sigma k^(-beta/2)`` between 0.2 and 20
times ``|psi|`` at k = 300 (log-uniform), ``beta`` uniform on [1.5, 3.5]; samples
``Delta ~ Normal(c k^-alpha, sigma^2 k^-beta)`` (the paper's model, Section 3.1, Eq. 6) at
sizes ``k`` uniform on the integers of [100, 1000].

Accuracy, per estimator and samples per point (:func:`scaling_kit.laws.compare_estimators`):
Pearson correlation of the predicted ``psi(300)`` with the truth, Spearman correlation of the
exponents, worst relative error of ``psi(300)``, points on a bound of the box, points not
converged, failures (non-finite), coverage of the 95% intervals of ``psi(300)`` and of
``alpha``, and the fit's time per point.

Speed, per core: the default (empirical Bayes) and the kit's Adam path (the paper's procedure,
Appendix B; it reproduces the reference code to three decimals and runs 80-200x faster than
it, so the ratio against the reference would be larger) fit the same samples in this process
with one BLAS and one torch thread (threadpoolctl, scaling_kit._torch), interleaved, the order
alternating between repeats. Time is CPU time (``time.process_time``: robust to other processes
sharing the machine). ``speedup empirical_bayes (n=N): Rx`` is the median ratio of Adam's CPU
time to the default's over ``--repeats`` runs, followed by the range.

Usage::

    python benchmarks/estimators.py                       # 1000 points, 10/50/100/500 samples
    python benchmarks/estimators.py --points 300 --samples 10 100 --repeats 2
    python benchmarks/estimators.py --amortized           # also the amortized network
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from scaling_kit._torch import torch_threads
from scaling_kit.exceptions import ConvergenceWarning
from scaling_kit.laws import compare_estimators, fit_likelihood, simulate_laws

COLUMNS = ["pearson_psi", "spearman_alpha", "worst_rel_error", "n_at_bound", "n_not_converged",
           "n_failed", "coverage_psi", "coverage_alpha", "seconds_per_point"]


def cpu_seconds(data, method):
    """CPU time of one fit of ``data`` by ``method``."""
    t0 = time.process_time()
    fit_likelihood(data, method=method)
    return time.process_time() - t0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--samples", type=int, nargs="+", default=[10, 50, 100, 500])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--amortized", action="store_true", help="also the amortized network")
    args = parser.parse_args()
    estimators = ("empirical_bayes", "adam", "newton") + (("amortized",) if args.amortized else ())
    print(f"{args.points} simulated laws, samples per point {args.samples}, seed {args.seed}; "
          f"cpu_count={os.cpu_count()}; one BLAS and one torch thread")
    with threadpool_limits(1), torch_threads(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # counted in n_not_converged
        comp = compare_estimators(args.points, args.samples, estimators=estimators,
                                  random_state=args.seed)
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(comp.table.set_index(["n_samples", "estimator"])[COLUMNS]
                  .sort_index().round(4).to_string())
        laws = simulate_laws(args.points, random_state=args.seed + 1)
        for n in args.samples:
            data = laws.contributions(n, random_state=args.seed + 2)
            ratios = []
            for r in range(args.repeats):
                order = ("empirical_bayes", "adam") if r % 2 == 0 else ("adam", "empirical_bayes")
                t = {m: cpu_seconds(data, m) for m in order}
                ratios.append(t["adam"] / t["empirical_bayes"])
                print(f"n={n} repeat {r}: empirical_bayes {t['empirical_bayes']:.2f} s CPU "
                      f"({1e3 * t['empirical_bayes'] / args.points:.2f} ms/point), adam "
                      f"{t['adam']:.2f} s CPU ({1e3 * t['adam'] / args.points:.2f} ms/point)")
            print(f"speedup empirical_bayes (n={n}): {np.median(ratios):.1f}x "
                  f"(range {min(ratios):.1f}-{max(ratios):.1f}x over {args.repeats} runs)")


if __name__ == "__main__":
    main()
