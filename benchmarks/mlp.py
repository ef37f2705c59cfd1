"""Benchmark: batched MLP training vs one network at a time (scaling_kit.mlp).

Trains the same B networks (the paper's MLP: width 32, full-batch Adam, fixed budget) on B
random subsets of size n of a bundled dataset, once with ``fit_predict_proba_batch`` and once
with a loop over ``fit_predict_proba`` (``torch.nn`` + ``torch.optim.Adam``, the general path),
both on one thread (``threadpoolctl`` and ``torch.set_num_threads(1)``). Prints both times, the
speedup ratio, and the largest difference between the two paths' predicted probabilities.

    python benchmarks/mlp.py [--dataset breast_cancer] [--n-networks 64] [--n 200] [--epochs 200]
"""

import argparse
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from scaling_kit.datasets import load_dataset
from scaling_kit.mlp import BatchedMLPClassifier


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="breast_cancer")
    parser.add_argument("--n-networks", type=int, default=64)
    parser.add_argument("--n", type=int, default=200, help="training set size of each network")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    args = parser.parse_args()

    ds = load_dataset(args.dataset, random_state=0)
    rng = np.random.default_rng(0)
    idx = np.stack([rng.choice(len(ds.y_pool), args.n, replace=False) for _ in range(args.n_networks)])
    Xs, ys = ds.X_pool[idx], ds.y_pool[idx]
    seeds = np.arange(args.n_networks)
    mlp = BatchedMLPClassifier(n_epochs=args.epochs, dtype=args.dtype)

    with threadpool_limits(1):
        torch.set_num_threads(1)
        mlp.fit_predict_proba_batch(Xs[:2], ys[:2], ds.X_test, ds.n_classes, random_state=seeds[:2])
        t0 = time.perf_counter()
        P_batch = mlp.fit_predict_proba_batch(Xs, ys, ds.X_test, ds.n_classes, random_state=seeds)
        t_batch = time.perf_counter() - t0
        t0 = time.perf_counter()
        P_single = np.stack(
            [mlp.fit_predict_proba(Xs[b], ys[b], ds.X_test, ds.n_classes, random_state=int(seeds[b]))
             for b in range(args.n_networks)]
        )
        t_single = time.perf_counter() - t0

    print(f"{args.n_networks} MLPs (width 32, {args.epochs} full-batch Adam steps, {args.dtype}) "
          f"on {args.n} points of {args.dataset} ({ds.X_pool.shape[1]} features, "
          f"{ds.n_classes} classes), 1 thread")
    print(f"  one at a time: {t_single:8.3f} s  ({1e3 * t_single / args.n_networks:.1f} ms / network)")
    print(f"  batched:       {t_batch:8.3f} s  ({1e3 * t_batch / args.n_networks:.1f} ms / network)")
    print(f"  speedup:       {t_single / t_batch:8.1f} x")
    print(f"  max |P_batched - P_single| = {np.abs(P_batch - P_single).max():.2e}")


if __name__ == "__main__":
    main()
