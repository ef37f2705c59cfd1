"""Benchmark: vectorized maximum-likelihood fit of individualized scaling laws.

Target: 10,000 points x 500 samples in under 10 s on 2 cores (docs/math.md §5).
Run:  python benchmarks/likelihood.py [--points 10000] [--samples 500] [--adam]
Prints wall-clock times of the exact Newton fit (grid start and (1, 2)) and, with --adam, of the
paper's Adam procedure, and their agreement.
"""

import argparse
import os
import time

import numpy as np

from scaling_kit.laws.likelihood import fit_likelihood, simulate_contributions


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--adam", action="store_true", help="also time the paper's Adam fit")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    P = args.points
    c = rng.choice([-1.0, 1.0], P, p=[0.3, 0.7]) * np.exp(rng.normal(-1, 0.5, P))
    alpha = rng.uniform(0.7, 1.8, P)
    beta = rng.uniform(2.0, 3.5, P)
    sigma = np.abs(c) * 100.0 ** (beta / 2 - alpha)
    data = simulate_contributions(c, alpha, sigma, beta, k_range=(100, 1000),
                                  n_samples=args.samples, random_state=1)
    print(f"{P} points x {args.samples} samples = {len(data):,} rows; cpu_count={os.cpu_count()}")
    for init in ("grid", (1.0, 2.0)):
        t0 = time.perf_counter()
        res = fit_likelihood(data, method="newton", init=init)
        dt = time.perf_counter() - t0
        p = res.params
        cover = np.mean(np.abs(p["alpha"] - alpha) < 2 * p["alpha_se"])
        print(f"newton init={init}: {dt:.2f} s, converged {p['converged'].mean():.3f}, "
              f"max iterations {p['n_iter'].max()}, alpha within 2 se {cover:.3f}")
    if args.adam:
        t0 = time.perf_counter()
        adam = fit_likelihood(data, method="adam")
        dt = time.perf_counter() - t0
        diff = np.abs(adam.params["alpha"] - res.params["alpha"])
        print(f"adam (paper, lr 0.05, <= 1000 steps): {dt:.2f} s, converged "
              f"{adam.params['converged'].mean():.3f}, median |alpha - newton| {diff.median():.2e}")


if __name__ == "__main__":
    main()
