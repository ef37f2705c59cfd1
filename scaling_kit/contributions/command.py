"""Command line for one contribution run: plan it, run it here, on a dask cluster, or as shards.

::

    python -m scaling_kit.contributions --dataset fair --points 200 --plan
    python -m scaling_kit.contributions --dataset fair --points 200 --cache runs/ --shard 0/4
    python -m scaling_kit.contributions --dataset fair --points 200 --cache runs/ --merge \\
        --out fair.parquet
    python -m scaling_kit.contributions ... --scheduler tcp://10.0.0.5:8786   # a dask cluster
    python -m scaling_kit.contributions ... --scheduler local:2               # a LocalCluster

(``scaling-kit contributions ...`` once the kit's command line includes it.) Every invocation
with the same run arguments plans the same run (docs/scale-out.md): the points are
``numpy.random.default_rng(seed).choice(pool size, points, replace=False)`` sorted (or the
listed indices), the run is ``sample_contributions(learner, load_dataset(dataset,
random_state=dataset_seed), points, k=k, n_samples=n_samples, random_state=seed, ...)``, so
shards started on different machines fill one cache directory, and ``--merge`` (or a run
without ``--shard``) assembles the table once every chunk is there. The plan (rounds, fits,
chunks, estimated time from a short calibration) is printed before anything is computed.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import joblib
import numpy as np

from .._checks import check_int
from ..exceptions import CacheError
from .estimate import plan_run
from .plan import check_shard
from .run import prepare_run
from .sampler import run_contributions
from .table import summarize_contributions

__all__ = ["LEARNERS", "add_parser", "build_parser", "main", "make_learner", "parse_points",
           "run"]

#: Learners the command line can build (``--learner``).
LEARNERS = ("logistic", "mlp", "mlp-reference")
_PAPER_SIZES = "100,129,167,215,278,359,464,599,774,1000"  # 10 log-spaced sizes in [100, 1000]


def make_learner(name: str, *, C: float = 1.0, device=None):
    """The learner ``--learner name`` builds: ``logistic`` (exact L2 logistic regression,
    ``C``), ``mlp`` (the kit's MLP) or ``mlp-reference`` (the paper's public-code recipe);
    ``device`` is set on learners that have one."""
    from ..learners import ExactLogisticRegression
    from ..mlp import BatchedMLPClassifier

    if name == "logistic":
        learner = ExactLogisticRegression(C=C)
    elif name == "mlp":
        learner = BatchedMLPClassifier()
    elif name == "mlp-reference":
        if not hasattr(BatchedMLPClassifier, "reference"):
            raise ValueError("--learner mlp-reference needs BatchedMLPClassifier.reference(), "
                             "which this version of scaling_kit.mlp lacks; use --learner mlp.")
        learner = BatchedMLPClassifier.reference()
    else:
        raise ValueError(f"--learner must be one of {LEARNERS}; got {name!r}.")
    if device is not None:
        if "device" not in learner.get_params():
            raise ValueError(f"--device: {type(learner).__name__} has no device setting in this "
                             "version of the kit; leave --device out.")
        learner.set_params(device=device)
    return learner


def parse_points(text: str, n_pool: int, seed: int) -> np.ndarray:
    """``--points``: ``N`` (N pool indices drawn by ``default_rng(seed)``, sorted), a range
    ``a:b`` or a comma list ``3,17,42``."""
    text = text.strip()
    try:
        if ":" in text:
            lo, hi = (int(part) for part in text.split(":"))
            return np.arange(lo, hi)
        if "," in text:
            return np.array(sorted(int(part) for part in text.split(",")))
        n = int(text)
    except ValueError as err:
        raise ValueError(f"--points must be a count N, a range a:b or a list i,j,k; got "
                         f"{text!r}.") from err
    n = check_int(n, "--points", low=1, high=n_pool)
    return np.sort(np.random.default_rng(seed).choice(n_pool, size=n, replace=False))


def _sizes(text: str) -> list:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"--k must be a comma list of sizes; got {text!r}.") \
            from err


def _count_or_fraction(text: str):
    try:
        return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected a count or a fraction; got {text!r}.") \
            from err


def _arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    run = parser.add_argument_group("the run (identical on every shard)")
    run.add_argument("--dataset", default="fair",
                     help="a scaling_kit.datasets name (default: fair)")
    run.add_argument("--dataset-seed", type=int, default=0,
                     help="random_state of load_dataset (the pool/test split; default 0)")
    run.add_argument("--test-size", type=_count_or_fraction, default=None,
                     help="load_dataset test_size: a count (50) or a fraction (0.2)")
    run.add_argument("--max-pool", type=int, default=None, help="load_dataset max_pool")
    run.add_argument("--learner", choices=LEARNERS, default="logistic")
    run.add_argument("--C", type=float, default=1.0, help="logistic: inverse L2 strength")
    run.add_argument("--device", default=None,
                     help="learners with a device setting: auto, cpu, cuda, cuda:N")
    run.add_argument("--points", default="200",
                     help="N random pool points (default 200), a range a:b or a list i,j,k")
    run.add_argument("--k", type=_sizes, default=_sizes(_PAPER_SIZES),
                     help=f"dataset sizes, comma separated (default: {_PAPER_SIZES})")
    run.add_argument("--n-samples", type=int, default=100, help="samples per (point, k)")
    run.add_argument("--metric", nargs="+", default=["log_loss"],
                     help="metrics (first: the delta column)")
    run.add_argument("--seed", type=int, default=0, help="random_state of the run (and points)")
    run.add_argument("--chunk-size", type=int, default=2000)
    work = parser.add_argument_group("where and how")
    work.add_argument("--cache", default=None, help="shared cache directory")
    work.add_argument("--storage", choices=("npz", "parquet", "auto"), default="npz")
    work.add_argument("--shard", default=None,
                      help="i/n: compute only chunks i, i+n, ... into --cache")
    work.add_argument("--merge", action="store_true",
                      help="assemble the table from --cache; compute nothing (fails naming the "
                           "missing chunks)")
    work.add_argument("--n-jobs", type=int, default=1, help="local joblib workers")
    work.add_argument("--scheduler", default=None,
                      help="dask: a scheduler address (tcp://host:8786) or local:N (a "
                           "LocalCluster of N single-threaded worker processes)")
    work.add_argument("--plan", action="store_true", help="print the plan and exit")
    work.add_argument("--calibrate", type=int, default=100,
                      help="contributions timed per calibrated size for the estimate (0: none)")
    work.add_argument("--out", default=None,
                      help="write the table (.parquet, .csv or .pkl); without --out a summary "
                           "is printed")
    work.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def build_parser(prog: str = "python -m scaling_kit.contributions") -> argparse.ArgumentParser:
    """The argument parser of the command (module docstring)."""
    return _arguments(argparse.ArgumentParser(
        prog=prog, description="Sample marginal contributions: plan, run, shard, merge."))


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``contributions`` subcommand to the kit's command line (``scaling-kit``)."""
    parser = subparsers.add_parser(
        "contributions", help="sample marginal contributions (plan, shards, dask cluster)",
        description="Sample marginal contributions: plan, run, shard, merge.")
    return _arguments(parser)


@contextlib.contextmanager
def _scheduler(address):
    """A dask client and joblib's dask backend for the block (nothing for ``None``)."""
    if address is None:
        yield None
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:  # pragma: no cover - the cluster extra is installed in CI
        raise ValueError("--scheduler needs dask.distributed: pip install "
                         "'scaling-kit[cluster]'.") from err
    with contextlib.ExitStack() as stack:
        if address == "local" or address.startswith("local:"):
            n = check_int(int(address.partition(":")[2] or 2), "--scheduler local:N", low=1)
            cluster = stack.enter_context(LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None))
            client = stack.enter_context(Client(cluster))
        else:
            client = stack.enter_context(Client(address))
        stack.enter_context(joblib.parallel_config(backend="dask"))
        yield client


def _write(table, out: str):
    path = Path(out)
    if path.suffix == ".parquet":
        table.to_parquet(path)
    elif path.suffix == ".csv":
        table.to_csv(path, index=False)
    elif path.suffix in (".pkl", ".pickle"):
        table.to_pickle(path)
    else:
        raise ValueError(f"--out must end in .parquet, .csv or .pkl; got {out!r}.")


def run(args, out=None) -> int:
    """Execute parsed arguments (from :func:`build_parser` or :func:`add_parser`), printing to
    ``out`` (default: standard output). Returns the exit status: 0 done, 1 missing or damaged
    cache entries (``--merge``), 2 bad arguments (the message on standard error)."""
    out = sys.stdout if out is None else out
    try:
        return _run(args, out)
    except (ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _run(args, out) -> int:
    from ..datasets import load_dataset

    shard = check_shard(args.shard, "--shard")
    if (shard is not None or args.merge) and args.cache is None:
        raise ValueError("--shard and --merge need --cache DIR (the directory every shard "
                         "shares).")
    if shard is not None and args.merge:
        raise ValueError("--merge assembles every shard; leave out --shard.")
    data = load_dataset(args.dataset, random_state=args.dataset_seed, test_size=args.test_size,
                        max_pool=args.max_pool)
    points = parse_points(args.points, data.X_pool.shape[0], args.seed)
    learner = make_learner(args.learner, C=args.C, device=args.device)
    run_ = prepare_run(learner, data, points, k=args.k, n_samples=args.n_samples,
                       metric=args.metric, random_state=args.seed, chunk_size=args.chunk_size)
    calibrate = 0 if args.merge else args.calibrate
    plan = plan_run(run_, shard=shard, cache=args.cache, calibrate=calibrate)
    print(f"{data.name}: pool {data.X_pool.shape[0]}, test {data.X_test.shape[0]}", file=out)
    print(plan, file=out, flush=True)
    if args.plan:
        return 0
    n_jobs = -1 if args.scheduler is not None else args.n_jobs
    try:
        with _scheduler(args.scheduler):
            table = run_contributions(run_, n_jobs=n_jobs, cache=args.cache, strict=args.merge,
                                      shard=shard, storage=args.storage,
                                      progress=not args.quiet)
    except CacheError as err:
        print(f"error: {err}", file=out)
        return 1
    if shard is not None:
        left = plan_run(run_, cache=args.cache, calibrate=0).missing
        print(f"shard {shard[0]}/{shard[1]}: {len(table):,} contributions in "
              f"{len(plan.shard_chunks)} chunks; {len(left)} chunks of the run still missing"
              + ("" if left else " (complete: merge with --merge)"), file=out)
    if args.out is not None:
        _write(table, args.out)
        print(f"wrote {len(table):,} rows to {args.out}", file=out)
    elif shard is None:
        print(summarize_contributions(table).describe().to_string(), file=out)
    return 0


def main(argv=None) -> int:
    """``python -m scaling_kit.contributions [options]`` (see :func:`build_parser`)."""
    return run(build_parser().parse_args(argv))
