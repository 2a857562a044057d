"""Hypervolume: the volume of objective space that a set of points dominates, up to a reference point — one
number for how good a whole Pareto front is (larger is better), so strategies on several objectives can be
compared like single-objective ones.

Exact, by slicing (Hypervolume by Slicing Objectives, While et al. 2006): sort by the last objective, and
sum each slab's thickness times the (k-1)-dimensional hypervolume of the points below it; one objective is
a length. O(n^k) for n points and k objectives: instant for the fronts of a sweep (tens of trials, 2-3
objectives). Optuna's own implementation (``optuna._hypervolume``) is private, so this is ours; the tests
check it against known answers and against Optuna's.

Every objective is turned into one to minimize (a ``max`` one is negated, its reference too); a point not
strictly better than the reference in every objective adds nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def hypervolume(points: Sequence[Sequence[float]] | np.ndarray, reference: Sequence[float],
                modes: Sequence[str] | None = None) -> float:
    """Hypervolume of ``points`` (n x k) with respect to ``reference`` (k); ``modes`` ("max"/"min" per
    objective) defaults to all "min"."""
    ref = np.asarray(reference, dtype=float)
    pts = np.asarray(points, dtype=float).reshape(-1, len(ref))
    if modes is not None:
        sign = np.array([-1.0 if m == "max" else 1.0 for m in modes])
        pts, ref = pts * sign, ref * sign
    pts = pts[np.all(np.isfinite(pts), axis=1) & np.all(pts < ref, axis=1)]
    return float(_slice(pts, ref)) if len(pts) else 0.0


def _slice(pts: np.ndarray, ref: np.ndarray) -> float:
    if pts.shape[1] == 1:
        return float(ref[0] - pts[:, 0].min())
    pts = pts[np.argsort(pts[:, -1], kind="mergesort")]
    total = 0.0
    for i in range(len(pts)):
        top = pts[i + 1, -1] if i + 1 < len(pts) else ref[-1]
        if top > pts[i, -1]:
            total += (top - pts[i, -1]) * _slice(pts[: i + 1, :-1], ref[:-1])
    return total


def derived_reference(values: np.ndarray, modes: Sequence[str]) -> list[float]:
    """The worst observed value of each objective (the minimum of a ``max`` one, the maximum of a ``min``
    one), over every finite value given: a reference every observed point reaches or passes."""
    v = np.asarray(values, dtype=float)
    out = []
    for j, mode in enumerate(modes):
        col = v[:, j][np.isfinite(v[:, j])] if len(v) else np.array([])
        out.append(float(col.min() if mode == "max" else col.max()) if len(col) else math.nan)
    return out


def hypervolume_curve(values: np.ndarray, reference: Sequence[float], modes: Sequence[str]) -> np.ndarray:
    """Hypervolume of the first i points, for i = 1..n (points in the order they finished): how the front
    grew over the budget."""
    v = np.asarray(values, dtype=float)
    return np.array([hypervolume(v[: i + 1], reference, modes) for i in range(len(v))])
