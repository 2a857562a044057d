"""A W&B Sweeps configuration (``wandb sweep sweep.yaml``) -> a :class:`~hwk4tune.importers.common.Draft`.

Distributions (W&B's names -> ours; exact unless marked ≈):

- ``constant``/``value`` -> the constant; ``categorical``/``values`` -> ``choice`` (``grid`` under
  ``method: grid``; ``probabilities`` ≈ dropped: choices are equally likely here);
- ``int_uniform`` -> ``randint`` (both bounds included, as in W&B); ``uniform`` -> ``uniform``;
  ``q_uniform`` -> ``quniform``;
- ``log_uniform`` (bounds in natural-log space) -> ``loguniform [e^min, e^max]``; ``log_uniform_values`` ->
  ``loguniform``; ``q_log_uniform`` / ``q_log_uniform_values`` -> ``qloguniform``;
- ``inv_log_uniform`` (log(1/X) uniform on [min, max]) -> ``loguniform [e^-max, e^-min]``;
  ``inv_log_uniform_values`` -> ``loguniform [min, max]`` (the inverse of a log-uniform variable is log-uniform);
- ``normal`` -> ``normal``; ``q_normal`` ≈ ``normal``; ``log_normal`` / ``q_log_normal`` ≈ ``loguniform`` /
  ``qloguniform`` over e^(mu ± 2 sigma) (95 % of W&B's draws).

With no ``distribution``: ``values`` -> categorical, ``value`` -> constant, integer ``min``/``max`` ->
``int_uniform``, other ``min``/``max`` -> ``uniform``, ``mu``/``sigma`` -> normal (W&B's rules).

A parameter no float can hold (bounds not finite, min >= max, e^ of a bound beyond a float's range, q or sigma
not > 0) is left out with a note naming its key; a q below the bounds' precision is dropped, with a note.
"""

from __future__ import annotations

import math
from typing import Any

from hwk4tune.importers.common import OWN_TRAINABLE, Draft, NotASweep, metric_of, number, place

TOP_KEYS = ("program", "method", "metric", "parameters", "early_terminate", "name", "description", "project",
            "entity", "command", "run_cap")
DISTRIBUTIONS = ("constant", "categorical", "int_uniform", "uniform", "q_uniform", "log_uniform",
                 "log_uniform_values", "q_log_uniform", "q_log_uniform_values", "inv_log_uniform",
                 "inv_log_uniform_values", "normal", "q_normal", "log_normal", "q_log_normal")
PARAM_KEYS = ("value", "values", "probabilities", "distribution", "min", "max", "q", "mu", "sigma", "parameters")
MAX_GRID = 1000  # a q_uniform grid of more points is drawn at random instead (its list would fill the file)
MAX_STEPS_PRECISION = 1e12  # bound / q beyond this: q is below the bounds' float precision


def translate(data: Any, draft: Draft) -> Draft:
    if not isinstance(data, dict) or not isinstance(data.get("parameters"), dict):
        raise NotASweep(f"{draft.source}: not a W&B sweep configuration (no `parameters:` mapping)")
    method = str(data.get("method", "")).lower()
    grid = method == "grid"
    if method == "bayes":
        draft.searcher = {"name": "optuna", "sampler": "tpe"}
        draft.note("method", "bayes (W&B's Gaussian-process optimization) runs as Optuna's TPE here "
                             "(searcher: {name: optuna, sampler: gp} is the closest to W&B's own)")
    elif method in ("grid", "random"):
        draft.searcher = {"name": method}
    else:
        draft.note("method", f"{data.get('method')!r} is not grid, random or bayes; using random")
    metric = data.get("metric")
    if isinstance(metric, dict):
        metric_of(draft, "metric.name", metric.get("name"), metric.get("goal"))
        for key in metric:
            if key == "target":
                draft.note("metric.target", f"no sweep here stops when a trial reaches {metric['target']}: every "
                                            "trial runs (compare files take `target:` to measure time to reach it)")
            elif key not in ("name", "goal"):
                draft.note(f"metric.{key}", "no counterpart here (trials report every epoch); ignored")
    else:
        draft.note("metric", "missing; using val_accuracy, maximized")
    for path, spec in _leaves(data["parameters"], ("parameters",), draft):
        _parameter(draft, path, spec, grid)
    _early_terminate(draft, data.get("early_terminate"))
    if "run_cap" in data:
        cap = number(data["run_cap"])
        if isinstance(cap, int) and cap > 0:
            if grid:
                draft.num_samples = 1
                draft.note("run_cap", f"a grid sweep here runs every grid point once (num_samples: 1); "
                                      f"run_cap {cap} is not a limit on it")
            else:
                draft.num_samples = cap
        else:
            draft.note("run_cap", f"{data['run_cap']!r} is not a positive integer; ignored")
    elif not grid:
        draft.note("(run_cap)", "none given (W&B runs until stopped); num_samples: 10")
    draft.name = data.get("name")
    for key in data:
        if key in ("program", "command"):
            draft.note(key, "the trial runs the trainable of space.yaml in-process, not a script; "
                            f"for your own model: {OWN_TRAINABLE}")
        elif key in ("project", "entity"):
            draft.note(key, "W&B's own bookkeeping; experiments here are folders (--storage, --name)")
        elif key == "name":
            draft.note(key, f"{data[key]!r} kept in the files' header; experiment folders are named by --name")
        elif key == "description":
            draft.note(key, "kept nowhere but this note: " + str(data[key])[:80])
        elif key not in TOP_KEYS:
            draft.note(key, "not a key of W&B sweep configurations; ignored")
    return draft


def _leaves(params: dict, prefix: tuple, draft: Draft):
    """(dotted key path, parameter mapping) of every parameter, nested groups flattened."""
    for name, spec in params.items():
        path = prefix + (str(name),)
        if isinstance(spec, dict) and isinstance(spec.get("parameters"), dict):
            draft.note(".".join(path), "a nested group: its parameters are flat hyperparameters here")
            yield from _leaves(spec["parameters"], path + ("parameters",), draft)
        else:
            yield path, spec


def _names(path: tuple) -> tuple[str, ...]:
    """The names to map: the parameter's, then (for `optimizer.parameters.name`-style groups) its group's."""
    names = [path[-1]]
    if len(path) >= 3 and path[-1] in ("name", "type", "kind", "value"):
        names.append(path[-3])
    return tuple(names) if len(names) == 1 else (names[1], names[0])


def _parameter(draft: Draft, path: tuple, spec: Any, grid: bool) -> None:
    key = ".".join(path)
    if not isinstance(spec, dict):
        draft.note(key, "a parameter must be a mapping (value, values, or a distribution); read as a constant")
        spec = {"value": spec}
    for k in spec:
        if k not in PARAM_KEYS:
            draft.note(f"{key}.{k}", "not a key of W&B parameters; ignored")
    dsl = _distribution(draft, key, spec, grid)
    if dsl is not None:
        place(draft, key, _names(path), dsl, original=path[-1])


def _distribution(draft: Draft, key: str, spec: dict, grid: bool) -> Any:
    """The space DSL entry of one W&B parameter, or None (with a note saying why) when none can hold it."""
    dist = spec.get("distribution")
    if dist is None:
        dist = _default_distribution(spec)
        if dist is None:
            draft.note(key, "no value, values, min/max or distribution; left out")
            return None
    if dist not in DISTRIBUTIONS:
        draft.note(f"{key}.distribution", f"unknown distribution {dist!r}; left out")
        return None
    if dist == "constant":
        values = _float_range(draft, key, [spec.get("value")])
        return values[0] if values else None
    if dist == "categorical":
        return _categorical(draft, key, spec, grid)
    if dist in ("normal", "q_normal", "log_normal", "q_log_normal"):
        return _normal(draft, key, dist, spec)
    return _bounded(draft, key, dist, spec, grid)


def _default_distribution(spec: dict) -> str | None:
    """W&B's rules for a parameter without ``distribution``: which one its other keys imply."""
    lo, hi = number(spec.get("min")), number(spec.get("max"))
    if "values" in spec:
        return "categorical"
    if "value" in spec:
        return "constant"
    if isinstance(lo, int) and isinstance(hi, int):
        return "int_uniform"
    if isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
        return "uniform"
    if "mu" in spec or "sigma" in spec:
        return "normal"
    return None


def _categorical(draft: Draft, key: str, spec: dict, grid: bool) -> Any:
    """``values`` -> ``choice`` (``grid`` in a grid sweep); W&B's ``probabilities`` cannot be kept."""
    values = spec.get("values")
    if not isinstance(values, list) or not values:
        draft.note(key, "values must be a non-empty list; left out")
        return None
    if "probabilities" in spec:
        draft.note(f"{key}.probabilities", "choices are drawn with equal probability here "
                                           "(no weighted choice in the space DSL)")
    values = _float_range(draft, key, [number(v) for v in values])
    return {"grid" if grid else "choice": values} if values else None


def _bounded(draft: Draft, key: str, dist: str, spec: dict, grid: bool) -> Any:
    """The distributions over [min, max] (uniform and log-uniform ones, plain or quantized): their bounds and
    q checked once here, then each translated."""
    lo, hi = number(spec.get("min")), number(spec.get("max"))
    if not (_finite(lo) and _finite(hi)) or not lo < hi:
        draft.note(key, f"{dist} needs finite numbers min < max, got min={spec.get('min')!r}, "
                        f"max={spec.get('max')!r}; left out")
        return None
    q = number(spec.get("q", 1))
    if dist.startswith("q_") and not (_finite(q) and q > 0):
        draft.note(key, f"{dist} needs a finite q > 0, got q={spec.get('q')!r}; left out")
        return None
    if dist == "int_uniform":
        return _int_uniform(draft, key, lo, hi, grid)
    if dist == "q_uniform" and _too_fine(draft, key, q, lo, hi):
        dist = "uniform"
    if dist == "uniform":
        _note_drawn_at_random(draft, key, grid)
        return {"uniform": [float(lo), float(hi)]}
    if dist == "q_uniform":
        return _q_uniform(draft, key, lo, hi, q, grid)
    return _log_uniform(draft, key, dist, lo, hi, q, grid)


def _int_uniform(draft: Draft, key: str, lo: float, hi: float, grid: bool) -> Any:
    """The integers in [lo, hi]: every one in a grid sweep (up to 101 of them), else drawn at random."""
    first, last = int(math.ceil(lo)), int(math.floor(hi))
    if first > last:
        draft.note(key, f"int_uniform [{lo:g}, {hi:g}] holds no integer; left out")
        return None
    if grid and last - first <= 100:
        return {"grid": list(range(first, last + 1))}
    return {"randint": [first, last]}


def _q_uniform(draft: Draft, key: str, lo: float, hi: float, q: float, grid: bool) -> Any:
    """The multiples of q in [lo, hi]: listed in a grid sweep unless there are too many, else drawn."""
    if grid and hi / q - lo / q <= MAX_GRID:  # (hi - lo) of two large ints can be beyond a float
        return {"grid": _steps(lo, hi, q)}
    if grid:
        draft.note(key, f"more than {MAX_GRID} multiples of q={q} in [{lo:g}, {hi:g}]: too many grid points; "
                        "drawn at random here")
    return {"quniform": [lo, hi, q]}


def _log_uniform(draft: Draft, key: str, dist: str, lo: float, hi: float, q: float, grid: bool) -> Any:
    """The log-uniform family: W&B's bounds (natural-log, inverse or plain values) as a ``[low, high]`` of
    positive floats, which must stay a range once rounded."""
    # computed for this distribution only: e^max of another one's bounds can be beyond the float range
    natural = dist in ("log_uniform", "q_log_uniform", "inv_log_uniform")
    low, high = {"inv_log_uniform": (-hi, -lo)}.get(dist, (lo, hi))
    if natural:
        low, high = _exp(low), _exp(high)
    if low is None or high is None or high == math.inf:
        draft.note(key, f"{dist}: e^{max(abs(lo), abs(hi)):g} is beyond a float's range; left out")
        return None
    low, high = _round(low), _round(high)
    if low <= 0:
        draft.note(key, f"{dist} needs min > 0 here (got {lo}{', whose e^ is 0 as a float' if natural else ''}); "
                        "left out")
        return None
    if not low < high:
        draft.note(key, f"{dist}: bounds [{low:g}, {high:g}] are one number at 6 digits; left out")
        return None
    quantized = dist.startswith("q_") and not _too_fine(draft, key, q, low, high)
    _note_drawn_at_random(draft, key, grid)
    return {"qloguniform": [low, high, q]} if quantized else {"loguniform": [low, high]}


def _note_drawn_at_random(draft: Draft, key: str, grid: bool) -> None:
    """A grid sweep over a continuous range: say that its values are drawn instead."""
    if grid:
        draft.note(key, "a grid sweep cannot enumerate a continuous range; it is drawn at random here")


def _normal(draft: Draft, key: str, dist: str, spec: dict) -> Any:
    mu, sigma = number(spec.get("mu", 0)), number(spec.get("sigma", 1))
    if not (_finite(mu) and _finite(sigma)) or sigma <= 0:
        draft.note(key, f"{dist} needs finite numbers mu and sigma > 0; left out")
        return None
    if dist == "normal":
        return {"normal": [mu, sigma]}
    if dist == "q_normal":
        draft.note(key, f"q_normal: no quantized normal in the space DSL; normal({mu}, {sigma}) without the "
                        f"q={spec.get('q', 1)} rounding")
        return {"normal": [mu, sigma]}
    low, high = _exp(mu - 2 * sigma), _exp(mu + 2 * sigma)
    if low is None or high is None or high == math.inf or not 0 < _round(low) < _round(high):
        draft.note(key, f"{dist}: e^(mu ± 2 sigma) = e^{mu - 2 * sigma:g}..e^{mu + 2 * sigma:g} is not a range of "
                        "positive floats; left out")
        return None
    low, high = _round(low), _round(high)
    q = number(spec.get("q", 1))
    quantized = dist == "q_log_normal" and _finite(q) and 0 < q <= high - low and not _too_fine(draft, key, q, low, high)
    out = {"qloguniform": [low, high, q]} if quantized else {"loguniform": [low, high]}
    draft.note(key, f"{dist}: no log-normal in the space DSL; {next(iter(out))} over e^(mu ± 2 sigma) = "
                    f"[{low:g}, {high:g}], where 95 % of W&B's draws fall")
    return out


def _finite(x: Any) -> bool:
    try:
        return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
    except OverflowError:  # an int beyond a float's range
        return False


def _float_range(draft: Draft, key: str, values: list) -> list:
    """The values without the integers beyond a float's range (a float hyperparameter could not take them)."""
    huge = [v for v in values if isinstance(v, int) and not isinstance(v, bool) and not _finite(v)]
    if huge:
        draft.note(key, f"{len(huge)} integer(s) beyond a float's range (about 1.8e308); left out")
    return [v for v in values if not any(v is h for h in huge)]


def _too_fine(draft: Draft, key: str, q: float, low: float, high: float) -> bool:
    """The multiples of so small a q are beyond the bounds' float precision (and Ray's quantized ranges divide
    the bounds by q): the range is drawn without q."""
    if max(abs(low), abs(high)) / q <= MAX_STEPS_PRECISION:
        return False
    draft.note(key, f"q={q} is below the precision of the bounds [{low:g}, {high:g}]; drawn without q")
    return True


def _exp(x: float) -> float | None:
    """e^x, or None where it is beyond a float's range (Python raises OverflowError there, from e^709.8 on)."""
    try:
        return math.exp(x)
    except OverflowError:
        return None


def _steps(lo: float, hi: float, q: float) -> list:
    n = int(math.floor((hi - lo) / q + 1e-9))
    values = [_round(lo + i * q) for i in range(n + 1)]
    return [int(v) if float(v).is_integer() and isinstance(q, int) else v for v in values]


def _round(x: float) -> float:
    return float(f"{x:.6g}")


def _early_terminate(draft: Draft, spec: Any) -> None:
    if spec is None:
        return
    if not isinstance(spec, dict) or str(spec.get("type", "")).lower() != "hyperband":
        draft.note("early_terminate", f"only type hyperband exists in W&B; {spec!r} ignored")
        return
    eta = number(spec.get("eta", 3))
    min_iter, max_iter, s = number(spec.get("min_iter")), number(spec.get("max_iter")), number(spec.get("s"))
    if isinstance(min_iter, int) and min_iter > 0:
        grace = min_iter
    elif isinstance(max_iter, int) and isinstance(s, int) and max_iter > 0 and s >= 0:
        grace = max(1, int(round(max_iter / eta ** s)))
        draft.max_epochs = max(draft.max_epochs or 0, max_iter)
    else:
        draft.note("early_terminate", "hyperband needs min_iter, or max_iter and s; ignored")
        return
    draft.scheduler = {"name": "asha", "grace_period": grace, "reduction_factor": eta}
    draft.note("early_terminate", f"W&B's hyperband stops runs asynchronously at brackets grace_period·eta^k: "
                                  f"that is ASHA here (grace_period {grace}, reduction_factor {eta}); "
                                  "its iterations are read as epochs")
    if "strict" in spec:
        draft.note("early_terminate.strict", "ASHA here always stops by the same quantile rule; strict has "
                                             "no counterpart")
    for key in spec:
        if key not in ("type", "min_iter", "max_iter", "s", "eta", "strict"):
            draft.note(f"early_terminate.{key}", "not a key of W&B's hyperband; ignored")
