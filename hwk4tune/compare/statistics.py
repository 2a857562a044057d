"""Numbers over seeds and curves: interquartile mean, step functions on a grid, NaN-aware mean and std,
and when a best-so-far curve first reached a target. Arrays of curves are ``[seeds, grid]``."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def iqm(values) -> float:
    """Interquartile mean: the mean of the middle half (25% trimmed from each end); NaNs ignored."""
    x = np.sort(np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float))
    if x.size == 0:
        return float("nan")
    cut = int(math.floor(0.25 * x.size))
    return float(x[cut:x.size - cut].mean())


def step_at(xs: np.ndarray, ys: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """A step function (value ys[i] from xs[i] on) sampled at ``grid``; NaN before the first step."""
    if xs.size == 0:
        return np.full(grid.shape, np.nan)
    idx = np.searchsorted(xs, grid, side="right") - 1
    out = np.where(idx >= 0, ys[np.clip(idx, 0, None)], np.nan)
    return out.astype(float)


def nanmean(arr: np.ndarray) -> np.ndarray:
    """Mean over axis 0 of the values that are not NaN; NaN where there are none."""
    n = np.sum(~np.isnan(arr), axis=0)
    total = np.nansum(arr, axis=0)
    return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def nanstd(arr: np.ndarray) -> np.ndarray:
    """Sample std over axis 0 (ddof=1); 0 where fewer than two values."""
    n = np.sum(~np.isnan(arr), axis=0)
    mean = nanmean(arr)
    sq = np.nansum((arr - mean) ** 2, axis=0)
    return np.where(n > 1, np.sqrt(sq / np.maximum(n - 1, 1)), 0.0)


def first_reach(curve: pd.DataFrame, target: float, mode: str) -> tuple[float, float]:
    """(cumulative epochs, seconds) when best-so-far first reached ``target``; NaN when it never did."""
    if curve.empty or not math.isfinite(target):
        return float("nan"), float("nan")
    hit = curve["best"] >= target if mode == "max" else curve["best"] <= target
    if not hit.any():
        return float("nan"), float("nan")
    row = curve[hit].iloc[0]
    return float(row["epochs"]), float(row["elapsed_s"])


# ------------------------------------------------------------------------------------------ intervals and verdicts
# Percentile bootstrap over seeds, seeded (the same inputs always give the same intervals). Two strategies'
# seeds are resampled independently: their runs are independent samples of each strategy's outcome.

BOOTSTRAP = 2000
LEVEL = 0.95
MIN_SEEDS = 5  # fewer seeds per strategy: no verdict (a bootstrap over 2-4 values says little)


def seeds_per_strategy(finals: dict[str, np.ndarray]) -> int:
    """The fewest finite final bests any strategy has: the seeds a verdict, and the winner line, rest on."""
    return min((_finite(v).size for v in finals.values()), default=0)


def seeds_text(n: int) -> str:
    return f"{n} seed" if n == 1 else f"{n} seeds"


def interval_text(lo: float, hi: float, fmt: str = "{:.2f}") -> str:
    """``lo–hi``; a single value where the interval has no width as printed (one seed, or every resample the
    same): ``0.9700–0.9700`` would read as a measured spread of zero."""
    a, b = fmt.format(lo), fmt.format(hi)
    return a if a == b else f"{a}–{b}"


def estimate_text(value: float, lo: float, hi: float, fmt: str = "{:.2f}") -> str:
    """``value (lo–hi)``; just ``value`` where the interval is that value alone."""
    v, i = fmt.format(value), interval_text(lo, hi, fmt)
    return v if i == v else f"{v} ({i})"


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _finite(values) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    return x[np.isfinite(x)]


def bootstrap_ci(values, stat=np.mean, n: int = BOOTSTRAP, level: float = LEVEL, seed: int = 0) -> tuple[float, float]:
    """(low, high) of the ``level`` percentile bootstrap interval of ``stat`` over ``values`` (NaNs dropped)."""
    x = _finite(values)
    if x.size == 0:
        return float("nan"), float("nan")
    if x.size == 1:
        return float(x[0]), float(x[0])
    idx = _rng(seed).integers(0, x.size, size=(n, x.size))  # [resamples, seeds]
    stats = np.apply_along_axis(stat, 1, x[idx]) if stat is not np.mean else x[idx].mean(axis=1)
    a = (1 - level) / 2
    return float(np.quantile(stats, a)), float(np.quantile(stats, 1 - a))


def prob_better(a, b, mode: str = "max") -> float:
    """P(a random run of A ends better than a random run of B), ties counting one half (over all pairs)."""
    a, b = _finite(a), _finite(b)
    if a.size == 0 or b.size == 0:
        return float("nan")
    diff = a[:, None] - b[None, :]
    if mode == "min":
        diff = -diff
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


def prob_better_ci(a, b, mode: str = "max", n: int = BOOTSTRAP, level: float = LEVEL,
                   seed: int = 0) -> tuple[float, float, float]:
    """(P(A beats B), low, high): :func:`prob_better` with both sides' seeds resampled."""
    a, b = _finite(a), _finite(b)
    p = prob_better(a, b, mode)
    if not math.isfinite(p):
        return p, float("nan"), float("nan")
    rng = _rng(seed)
    ra = a[rng.integers(0, a.size, size=(n, a.size))]  # [resamples, seeds of A]
    rb = b[rng.integers(0, b.size, size=(n, b.size))]
    diff = ra[:, :, None] - rb[:, None, :]
    if mode == "min":
        diff = -diff
    ps = ((diff > 0).sum(axis=(1, 2)) + 0.5 * (diff == 0).sum(axis=(1, 2))) / (a.size * b.size)
    q = (1 - level) / 2
    return p, float(np.quantile(ps, q)), float(np.quantile(ps, 1 - q))


def ratio_ci(a, b, n: int = BOOTSTRAP, level: float = LEVEL, seed: int = 0) -> tuple[float, float, float]:
    """(mean(a) / mean(b), low, high) with both resampled independently."""
    a, b = _finite(a), _finite(b)
    if a.size == 0 or b.size == 0 or b.mean() == 0:
        return float("nan"), float("nan"), float("nan")
    rng = _rng(seed)
    ma = a[rng.integers(0, a.size, size=(n, a.size))].mean(axis=1)
    mb = b[rng.integers(0, b.size, size=(n, b.size))].mean(axis=1)
    ok = mb > 0
    r = ma[ok] / mb[ok]
    q = (1 - level) / 2
    return float(a.mean() / b.mean()), float(np.quantile(r, q)), float(np.quantile(r, 1 - q))


def mean_band(arr: np.ndarray, n: int = BOOTSTRAP, level: float = LEVEL,
              seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per grid point of ``arr`` ``[seeds, grid]``: mean over seeds and its bootstrap interval; NaN wherever a
    seed has no value yet (a mean over a changing set of seeds would not be monotone)."""
    complete = ~np.isnan(arr).any(axis=0)  # [grid]
    mean = np.where(complete, nanmean(arr), np.nan)
    if arr.shape[0] < 2:
        return mean, mean.copy(), mean.copy()
    idx = _rng(seed).integers(0, arr.shape[0], size=(min(n, 1000), arr.shape[0]))
    means = np.nan_to_num(arr)[idx].mean(axis=1)  # [resamples, grid]
    q = (1 - level) / 2
    lo = np.where(complete, np.quantile(means, q, axis=0), np.nan)
    hi = np.where(complete, np.quantile(means, 1 - q, axis=0), np.nan)
    return mean, lo, hi


def censored(reached: np.ndarray, consumed: np.ndarray) -> np.ndarray:
    """Cost to reach a target per run: where a run never reached it, the cost it consumed (a lower bound)."""
    reached = np.asarray(reached, dtype=float)
    return np.where(np.isfinite(reached), reached, np.asarray(consumed, dtype=float))


def verdicts(finals: dict[str, np.ndarray], costs: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]],
             reference: str, mode: str, target: float, unit: dict[str, str] | None = None) -> list[str]:
    """One line per strategy against ``reference``, stated only where a 95 % interval supports it.

    ``finals``: final best per seed. ``costs[strategy][kind]`` = (cost to reach ``target`` per seed, NaN
    where not reached; cost consumed per seed), kind e.g. ``epochs`` or ``simulated seconds``. A ratio of
    mean costs is claimed below 1 only when the strategy reached the target in at least the reference's
    share of seeds (runs that never reached it count at what they consumed: a lower bound)."""
    unit = unit or {}
    lines = []
    ref = finals[reference]
    n_seeds = seeds_per_strategy(finals)
    if n_seeds < MIN_SEEDS:
        return [f"no verdicts: {seeds_text(n_seeds)} per strategy; verdicts need at least {MIN_SEEDS}"]
    for s, fin in finals.items():
        if s == reference:
            continue
        said = []
        p, lo, hi = prob_better_ci(fin, ref, mode)
        if lo > 0.5:
            said.append(f"{s} ends better than {reference} with probability {p:.2f} (95 % CI {interval_text(lo, hi)})")
        elif hi < 0.5:
            said.append(f"{reference} ends better than {s} with probability {1 - p:.2f} "
                        f"(95 % CI {interval_text(1 - hi, 1 - lo)})")
        for kind, (reach, consumed) in costs.get(s, {}).items():
            ref_reach, ref_consumed = costs[reference][kind]
            share = float(np.isfinite(reach).mean()) if len(reach) else 0.0
            ref_share = float(np.isfinite(ref_reach).mean()) if len(ref_reach) else 0.0
            r, rlo, rhi = ratio_ci(censored(reach, consumed), censored(ref_reach, ref_consumed))
            what = unit.get(kind, kind)
            if rhi < 1 and share >= ref_share and share > 0:
                said.append(f"{s} reaches {reference}'s median final best ({target:.4g}) with {r:.2f}× its {what} "
                            f"(95 % CI {interval_text(rlo, rhi)}; reached in {int(np.isfinite(reach).sum())}/{len(reach)} "
                            "seeds)")
            elif rlo > 1:
                said.append(f"{s} needs {r:.2f}× {reference}'s {what} to reach its median final best "
                            f"({target:.4g}) (95 % CI {interval_text(rlo, rhi)}; reached in "
                            f"{int(np.isfinite(reach).sum())}/{len(reach)} seeds)")
        lines += said or [f"{s} vs {reference}: no significant difference at {seeds_text(n_seeds)}"]
    return lines
