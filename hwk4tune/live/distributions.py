"""Space parameters (:class:`hwk4tune.space.Param`) as Optuna distributions, for the mirror.

Optuna has no normal distribution: a ``normal`` parameter becomes a float range wide enough for the value
drawn (mean ± 4 sd, widened to hold it). Choices that Optuna cannot store (lists, mappings) become their
``repr``. A ``q`` step is kept where the range is aligned to it, else dropped (the value is still exact).
"""

from __future__ import annotations

import math
from typing import Any

from hwk4tune.space import Param

_PLAIN = (type(None), bool, int, float, str)


def _choices(values: tuple) -> tuple:
    return tuple(v if isinstance(v, _PLAIN) else repr(v) for v in values)


def _step(low: float, high: float, q: float) -> float | None:
    if q <= 0:
        return None
    aligned = math.isclose(round((high - low) / q) * q, high - low, rel_tol=1e-9, abs_tol=1e-12)
    return q if aligned and math.isclose(round(low / q) * q, low, rel_tol=1e-9, abs_tol=1e-12) else None


def to_optuna(param: Param, value: Any):
    """``(distribution, value)`` for one drawn value of ``param``; the value adjusted to what Optuna stores."""
    import optuna.distributions as od

    a = param.args
    if param.is_categorical:
        choices = _choices(a)
        shown = value if isinstance(value, _PLAIN) else repr(value)
        if shown not in choices:  # PBT or a user resampled outside the list: keep the value visible
            choices = choices + (shown,)
        return od.CategoricalDistribution(choices), shown
    if param.kind == "normal":
        mean, sd = float(a[0]), float(a[1])
        v = float(value)
        return od.FloatDistribution(min(mean - 4 * sd, v), max(mean + 4 * sd, v)), v
    low, high = param.bounds
    if param.kind in ("randint", "qrandint", "lograndint"):
        v = int(value)
        low_i, high_i = int(min(low, v)), int(max(high, v))
        step = int(a[2]) if param.kind == "qrandint" and (high_i - low_i) % int(a[2]) == 0 \
            and (v - low_i) % int(a[2]) == 0 else 1
        return od.IntDistribution(low_i, high_i, log=param.kind == "lograndint", step=step), v
    v = float(value)
    log = param.kind in ("loguniform", "qloguniform")
    low, high = min(low, v), max(high, v)
    step = _step(low, high, float(a[2])) if param.kind == "quniform" else None
    if step is not None and not math.isclose(round((v - low) / step) * step, v - low, abs_tol=1e-12):
        step = None
    return od.FloatDistribution(low, high, log=log, step=step), v
