"""The search-space DSL: YAML one-key mappings -> typed parameters -> ``ray.tune`` domains.

A parameter is written as a one-key mapping, ``lr: {loguniform: [1.0e-4, 0.3]}``. Anything else is a
constant, and a mapping whose key is not a distribution is a nested group of parameters.

Integer ranges (``randint``, ``qrandint``, ``lograndint``) include BOTH bounds here: ``randint: [1, 3]``
draws 1, 2 or 3. Ray's ``tune.randint`` and ``tune.lograndint`` exclude the upper bound, so
:meth:`Param.to_tune` adds one. (Syne Tune documents the same trap.)

This module imports no Ray at import time: ``to_tune`` imports ``ray.tune`` when called.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any

# name -> (what the arguments are, for messages)
DISTRIBUTIONS: dict[str, str] = {
    "uniform": "[low, high]",
    "loguniform": "[low, high] with low > 0",
    "quniform": "[low, high, q]",
    "qloguniform": "[low, high, q] with low > 0",
    "randint": "[low, high] integers, both included",
    "qrandint": "[low, high, q] integers, both included",
    "lograndint": "[low, high] integers >= 1, both included",
    "normal": "[mean, sd] with sd > 0",
    "choice": "a non-empty list of values",
    "grid": "a non-empty list of values, every one tried (grid search)",
}
CATEGORICAL = {"choice", "grid"}
INTEGER = {"randint", "qrandint", "lograndint"}


class SpaceError(ValueError):
    """A bad parameter; ``key`` is the dotted path inside ``space``."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Param:
    """One tunable parameter: a distribution name and its checked arguments."""

    kind: str
    args: tuple

    @classmethod
    def parse(cls, key: str, kind: str, raw: Any) -> "Param":
        if not isinstance(raw, list):
            raise SpaceError(key, f"{kind} takes {DISTRIBUTIONS[kind]}, got {raw!r}")
        if kind in CATEGORICAL:
            if not raw:
                raise SpaceError(key, f"{kind} needs at least one value, got []")
            return cls(kind, tuple(raw))
        arity = 3 if kind.startswith("q") else 2
        if len(raw) != arity or not all(_is_number(v) for v in raw):
            raise SpaceError(key, f"{kind} takes {DISTRIBUTIONS[kind]}, got {raw!r}")
        if kind in INTEGER and not all(_is_int(v) for v in raw):
            raise SpaceError(key, f"{kind} takes integers, got {raw!r}")
        if kind == "normal":
            if raw[1] <= 0:
                raise SpaceError(key, f"normal needs sd > 0, but got (mean={raw[0]}, sd={raw[1]})")
            return cls(kind, tuple(raw))
        low, high = raw[0], raw[1]
        if not low < high:
            raise SpaceError(key, f"{kind} needs low < high, but got (low={low}, high={high})")
        if kind.endswith("loguniform") and low <= 0:
            raise SpaceError(key, f"{kind} needs low > 0, but got (low={low}, high={high})")
        if kind == "lograndint" and low < 1:
            raise SpaceError(key, f"lograndint needs low >= 1, but got (low={low}, high={high})")
        if arity == 3:
            q = raw[2]
            if q <= 0:
                raise SpaceError(key, f"{kind} needs q > 0, but got q={q}")
            if q > high - low:
                raise SpaceError(key, f"{kind} needs q <= high - low, but got q={q} for [{low}, {high}]")
        return cls(kind, tuple(raw))

    @property
    def is_categorical(self) -> bool:
        return self.kind in CATEGORICAL

    @property
    def bounds(self) -> tuple[float, float] | None:
        """(low, high) of a numeric range; None for categorical and normal parameters."""
        if self.is_categorical or self.kind == "normal":
            return None
        return float(self.args[0]), float(self.args[1])

    def to_tune(self):
        from ray import tune

        a = self.args
        match self.kind:
            case "uniform":
                return tune.uniform(a[0], a[1])
            case "loguniform":
                return tune.loguniform(a[0], a[1])
            case "quniform":
                return tune.quniform(a[0], a[1], a[2])
            case "qloguniform":
                return tune.qloguniform(a[0], a[1], a[2])
            case "randint":
                return tune.randint(a[0], a[1] + 1)  # Ray excludes the upper bound
            case "qrandint":
                return tune.qrandint(a[0], a[1], a[2])  # Ray includes it already
            case "lograndint":
                return tune.lograndint(a[0], a[1] + 1)  # Ray excludes the upper bound
            case "normal":
                return tune.randn(a[0], a[1])
            case "choice":
                return tune.choice(list(a))
            case "grid":
                return tune.grid_search(list(a))
        raise AssertionError(self.kind)

    def describe(self) -> str:
        if self.is_categorical:
            return f"{self.kind} {list(self.args)}"
        return f"{self.kind}({', '.join(repr(v) for v in self.args)})"


Space = dict[str, Any]  # name -> Param | constant | nested Space


def parse_space(raw: Any, prefix: str = "space") -> Space:
    """Turn the YAML mapping under ``space:`` into Params, constants and nested groups."""
    if not isinstance(raw, dict):
        raise SpaceError(prefix, f"must be a mapping of parameter names, got {type(raw).__name__}")
    out: Space = {}
    for name, value in raw.items():
        key = f"{prefix}.{name}"
        if not isinstance(name, str):
            raise SpaceError(key, "parameter names must be strings")
        out[name] = _parse_value(key, value)
    return out


def _parse_value(key: str, value: Any) -> Any:
    if not isinstance(value, dict):
        return value  # a constant
    if len(value) == 1:
        (kind, raw), = value.items()
        if kind in DISTRIBUTIONS:
            return Param.parse(key, kind, raw)
        close = difflib.get_close_matches(str(kind), DISTRIBUTIONS, n=1, cutoff=0.75)
        if close:
            raise SpaceError(f"{key}.{kind}", f"unknown distribution {kind!r}; did you mean {close[0]!r}?")
    return parse_space(value, key)


def iter_params(space: Space, prefix: str = "") -> list[tuple[str, Any]]:
    """Flatten to (dotted name, Param | constant) pairs, in file order."""
    items: list[tuple[str, Any]] = []
    for name, value in space.items():
        dotted = f"{prefix}{name}"
        if isinstance(value, dict):
            items.extend(iter_params(value, dotted + "/"))
        else:
            items.append((dotted, value))
    return items


def to_tune(space: Space) -> dict:
    """The ``param_space`` for ``ray.tune.Tuner``: Params become domains, constants stay."""
    return {
        name: to_tune(value) if isinstance(value, dict) else value.to_tune() if isinstance(value, Param) else value
        for name, value in space.items()
    }


def params(space: Space) -> dict[str, Param]:
    """Only the tunable parameters, by dotted name (``/`` between nesting levels, as Ray flattens)."""
    return {name: value for name, value in iter_params(space) if isinstance(value, Param)}


def constants(space: Space) -> dict[str, Any]:
    """Only the fixed values, nested as written."""
    out: dict[str, Any] = {}
    for name, value in space.items():
        if isinstance(value, dict):
            inner = constants(value)
            if inner:
                out[name] = inner
        elif not isinstance(value, Param):
            out[name] = value
    return out


def describe(space: Space) -> list[tuple[str, str]]:
    """(dotted name, human text) for summaries and reports."""
    return [
        (name, value.describe() if isinstance(value, Param) else f"= {value!r}")
        for name, value in iter_params(space)
    ]
