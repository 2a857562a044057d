"""The metrics the built-in trainables report, each with which way is better and the range it lies in: the
one place that knows a metric's direction (the stopping rules, the tables' sort, the importers' goal ask here).

A name that is not a built-in metric gets its direction guessed from the name (:func:`metric_mode`): a loss,
an error or a time is better lower, an accuracy higher; anything else is unknown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str
    mode: str | None  # "max" / "min": which way is better; None: neither (a counter)
    low: float = 0.0  # the range it lies in: a target outside it is never reached
    high: float = math.inf
    score: bool = False  # judges the model each epoch (its last value is a column of the trials table)


# in the order the trainables report them: each epoch, then num_params (trainable parameters) and latency_ms
# (inference per batch of 256), measured once per trial
METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("train_loss", "min", score=True),
    Metric("val_loss", "min", score=True),
    Metric("val_accuracy", "max", 0.0, 1.0, score=True),
    Metric("epoch", None, 1.0),
    Metric("epoch_seconds", "min"),
    Metric("images_per_second", "max"),
    Metric("num_params", "min"),
    Metric("latency_ms", "min"),
)}
BUILTIN_METRICS = tuple(METRICS)  # what the built-in trainables report (plus train_status, device, weights)
SCORES = tuple(name for name, m in METRICS.items() if m.score)  # train_loss, val_loss, val_accuracy

_LOWER_IS_BETTER = ("loss", "error", "latency", "seconds")
_LOWER_IS_BETTER_SUFFIXES = ("_s", "_ms")


def metric_mode(name: str) -> str | None:
    """Which way ``name`` is better: a built-in metric's own mode, else a guess from the name (``..._loss``,
    ``error``, ``..._s`` -> min; ``...acc...`` -> max), else None."""
    if name in METRICS:
        return METRICS[name].mode
    lower = name.lower()
    if any(word in lower for word in _LOWER_IS_BETTER) or lower.endswith(_LOWER_IS_BETTER_SUFFIXES):
        return "min"
    return "max" if "acc" in lower else None
