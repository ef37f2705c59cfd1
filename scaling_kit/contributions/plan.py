"""Planning: which datasets D are drawn, with which seeds, and how rounds form chunks.

A *round* is one drawn dataset D and the requested points computed on it. The whole plan is
fixed from the run's :class:`numpy.random.SeedSequence` before any work starts: every round
has a spawn key, and its random streams are children ``SeedSequence(entropy,
spawn_key=seq.spawn_key + key + (tag,))`` with tags 0 (the round's k), 1 (its D), 2 (the
acceptance draws of ``k_range``) and 7 (the learner's seed). So a SeedSequence child works as a
run seed, and a worker recomputing a round from its key draws exactly the planned D.

Sampling schemes (docs/math.md §3):

* shared datasets, fixed k (key ``(1, k index, r)``): round r draws D of size k from the
  whole pool; every point not in D that still needs samples is computed on it. For a point
  z these rounds are i.i.d. draws of D conditioned on z not in D, i.e. "D drawn from the pool
  without z" (class counts use the whole pool's shares in both cases).
* shared datasets, ``k_range`` (key ``(3, r)``): k uniform on the range; a point not in D is
  kept with probability ``P_min / P(z not in D | k)`` (rejection), which cancels the bias
  towards small k that conditioning on z not in D would cause.
* one D per sample (``share_datasets=False``, the paper's protocol; keys ``(0, k index, j,
  s)`` and ``(2, j, s)``): D drawn from the pool without z (or with it, ``allow_z_in_D``).

Chunks and shards: consecutive rounds form chunks of about ``chunk_size`` contributions
(:func:`chunk_rounds`), the unit of parallel work and of caching. Shard ``(i, n)`` of a run is
the chunks ``i, i + n, i + 2n, ...`` (:func:`shard_chunk_ids`): n machines computing shards
``0..n-1`` into one cache compute every chunk exactly once, and since a chunk's numbers depend
only on the chunk, the merged table is the table of an unsharded run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import check_int, check_size_range, check_sizes
from ..sampling import StratifiedSampler

__all__ = ["Round", "check_plan_sizes", "check_shard", "chunk_rounds", "chunk_rows",
           "draw_dataset", "learner_seed", "plan_rounds", "round_rng", "shard_chunk_ids"]

_K_TAG, _D_TAG, _ACCEPT_TAG, _LEARNER_TAG = 0, 1, 2, 7


@dataclass(frozen=True)
class Round:
    """One drawn dataset: its size, spawn key, excluded point (-1: none), the points computed
    on it and each point's sample index."""

    k: int
    key: tuple
    exclude: int
    points: np.ndarray
    sample_ids: np.ndarray


def _child(seq: np.random.SeedSequence, key: tuple) -> np.random.SeedSequence:
    return np.random.SeedSequence(seq.entropy, spawn_key=tuple(seq.spawn_key) + tuple(key),
                                  pool_size=seq.pool_size)


def round_rng(seq: np.random.SeedSequence, key: tuple) -> np.random.Generator:
    """The generator of stream ``key`` of the run ``seq``."""
    return np.random.default_rng(_child(seq, key))


def learner_seed(seq: np.random.SeedSequence, key: tuple) -> int:
    """The seed handed to a random learner for round ``key`` (shared by D and every D + {z}
    of the round: common random numbers)."""
    return int(_child(seq, tuple(key) + (_LEARNER_TAG,)).generate_state(1)[0])


def draw_dataset(sampler: StratifiedSampler, seq, rnd: Round) -> np.ndarray:
    """The round's dataset D, from its own stream (planning and computing draw the same D)."""
    rng = round_rng(seq, rnd.key + (_D_TAG,))
    return sampler.draw(rng, rnd.k, exclude=None if rnd.exclude < 0 else rnd.exclude)


def check_plan_sizes(sampler: StratifiedSampler, k, k_range, allow_z_in_D: bool):
    """Validate ``k`` (sizes) or ``k_range`` (exactly one); returns ``(ks, k_range)``."""
    if (k is None) == (k_range is None):
        raise ValueError("Give exactly one of k (a size or a list of sizes) or "
                         "k_range=(k_min, k_max).")
    exclude_one = not allow_z_in_D
    if k_range is not None:
        lo, hi = check_size_range(k_range, "k_range")
        for size in (lo, hi):
            sampler.check_k(size, exclude_one=exclude_one, name="k_range")
        if exclude_one and np.any(sampler.prob_excluded(hi) <= 0):
            raise ValueError(f"k_range: k_max={hi} leaves no room for z outside D; lower k_max.")
        return None, (lo, hi)
    ks = check_sizes(k, "k")
    for size in ks:
        sampler.check_k(int(size), exclude_one=exclude_one)
    return ks, None


def _per_point_rounds(points, ks, k_range, n_samples, allow_z_in_D, seq):
    rounds = []
    one = np.ones(1, dtype=np.int64)
    if k_range is not None:
        for j, z in enumerate(points):
            for s in range(n_samples):
                key = (2, j, s)
                k = int(round_rng(seq, key + (_K_TAG,)).integers(k_range[0], k_range[1] + 1))
                rounds.append(Round(k, key, -1 if allow_z_in_D else int(z), z * one, s * one))
        return rounds
    for ki, k in enumerate(ks):
        for j, z in enumerate(points):
            for s in range(n_samples):
                rounds.append(Round(int(k), (0, ki, j, s), -1 if allow_z_in_D else int(z),
                                    z * one, s * one))
    return rounds


def plan_rounds(sampler: StratifiedSampler, points, ks, k_range, n_samples: int, share: bool,
                allow_z_in_D: bool, seq: np.random.SeedSequence) -> list:
    """Every round of the run, in a fixed order (see the module docstring)."""
    if not share:
        return _per_point_rounds(points, ks, k_range, n_samples, allow_z_in_D, seq)
    rounds = []
    n_points = points.size
    points = points.astype(np.int32)  # a round keeps its points and samples: 8 bytes a row
    n_samples = np.int32(n_samples)
    if k_range is None:
        for ki, k in enumerate(ks):
            need = np.full(n_points, n_samples, dtype=np.int32)
            r = 0
            while need.max() > 0:
                key = (1, ki, r)
                rnd = Round(int(k), key, -1, points, need)
                take = need > 0
                if not allow_z_in_D:
                    take &= ~np.isin(points, draw_dataset(sampler, seq, rnd))
                if take.any():
                    rounds.append(Round(int(k), key, -1, points[take], n_samples - need[take]))
                    need[take] -= 1
                r += 1
        return rounds
    k_lo, k_hi = k_range
    point_class = sampler.y[points]
    p_excl = np.array([sampler.prob_excluded(k) for k in range(k_lo, k_hi + 1)])  # (nk, K)
    p_min = p_excl.min(axis=0)
    need = np.full(n_points, n_samples, dtype=np.int32)
    r = 0
    while need.max() > 0:
        key = (3, r)
        k = int(round_rng(seq, key + (_K_TAG,)).integers(k_lo, k_hi + 1))
        D = draw_dataset(sampler, seq, Round(k, key, -1, points, need))
        u = round_rng(seq, key + (_ACCEPT_TAG,)).random(n_points)
        take = need > 0
        if not allow_z_in_D:
            accept = p_min[point_class] / p_excl[k - k_lo, point_class]
            take &= ~np.isin(points, D) & (u < accept)
        if take.any():
            rounds.append(Round(k, key, -1, points[take], n_samples - need[take]))
            need[take] -= 1
        r += 1
    return rounds


def chunk_rounds(rounds: list, budget: int) -> list:
    """Split rounds into consecutive chunks of about ``budget`` contributions each."""
    chunks, current, size = [], [], 0
    for rnd in rounds:
        current.append(rnd)
        size += rnd.points.size
        if size >= budget:
            chunks.append(current)
            current, size = [], 0
    if current:
        chunks.append(current)
    return chunks


def chunk_rows(chunk: list) -> dict:
    """The rows a chunk produces, in order: ``point``, ``k``, ``sample`` (int64 arrays)."""
    return {
        "point": np.concatenate([rnd.points for rnd in chunk]).astype(np.int64),
        "k": np.concatenate([np.full(rnd.points.size, rnd.k, dtype=np.int64) for rnd in chunk]),
        "sample": np.concatenate([rnd.sample_ids for rnd in chunk]).astype(np.int64),
    }


def check_shard(shard, name: str = "shard"):
    """``None`` or a shard ``(i, n)`` (a pair of ints or the string ``"i/n"``) with
    ``0 <= i < n``, returned as a tuple of two ints."""
    if shard is None:
        return None
    if isinstance(shard, str):
        parts = shard.split("/")
        if len(parts) != 2 or not all(part.strip().isdigit() for part in parts):
            raise ValueError(f"{name} must be 'i/n' (e.g. '0/4': the first of 4 shards); got "
                             f"{shard!r}.")
        shard = tuple(int(part) for part in parts)
    if not isinstance(shard, (tuple, list)) or len(shard) != 2:
        raise TypeError(f"{name} must be None, a pair (i, n) or a string 'i/n' with "
                        f"0 <= i < n; got {shard!r} ({type(shard).__name__}).")
    n = check_int(shard[1], f"{name}[1] (the number of shards)", low=1)
    i = check_int(shard[0], f"{name}[0] (this shard's index)", low=0)
    if i >= n:
        raise ValueError(f"{name} = ({i}, {n}): the index must be in 0..{n - 1} (shards are "
                         f"numbered from 0).")
    return i, n


def shard_chunk_ids(n_chunks: int, shard) -> list:
    """The chunk ids of ``shard = (i, n)`` (every chunk for ``None``): ``i, i + n, ...``.

    Round-robin rather than contiguous blocks, so that every shard gets chunks of every k (the
    plan orders chunks by k, and a fit's cost grows with k): shards take similar times.
    """
    if shard is None:
        return list(range(n_chunks))
    i, n = shard
    return list(range(i, n_chunks, n))
