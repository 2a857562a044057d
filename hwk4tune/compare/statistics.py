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
