"""The search-space DSL: YAML one-key mappings -> distribution value objects -> ``ray.tune`` domains.

A parameter is written as a one-key mapping, ``lr: {loguniform: [1.0e-4, 0.3]}``. Anything else is a
constant, and a mapping whose key is not a distribution is a nested group of parameters.

Each distribution is a frozen value object (:class:`FloatRange`, :class:`IntRange`, :class:`Normal`,
:class:`Categorical`, all :class:`Param`) that parses and checks its arguments, turns into a Ray Tune domain,
back into YAML, and says whether a value lies in it. :class:`Space` holds the nested tree of parameters and
constants; :func:`flatten` and :func:`nest` are the one place that joins nested keys with ``/`` (as Ray
flattens configs) and splits them again.

Integer ranges (``randint``, ``qrandint``, ``lograndint``) include BOTH bounds here: ``randint: [1, 3]``
draws 1, 2 or 3. Ray's ``tune.randint`` and ``tune.lograndint`` exclude the upper bound, so
:meth:`IntRange.to_tune` adds one. (Syne Tune documents the same trap.)

No Ray at import time: ``to_tune`` imports ``ray.tune`` when called.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any, ClassVar, Iterator

SEP = "/"  # how nested keys are joined in flat configs (Ray's own separator)

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


# ------------------------------------------------------------------------------------------ distributions


@dataclass(frozen=True)
class Param:
    """One tunable parameter. ``kind`` is its YAML name; ``args`` its arguments as written."""

    kind: str
    is_categorical: ClassVar[bool] = False

    @property
    def args(self) -> tuple:
        raise NotImplementedError

    @property
    def bounds(self) -> tuple[float, float] | None:
        """(low, high) of a numeric range; None for categorical and normal parameters."""
        return None

    def to_tune(self):
        raise NotImplementedError

    def contains(self, value: Any) -> bool:
        raise NotImplementedError

    def to_yaml(self) -> dict:
        return {self.kind: list(self.args)}

    def describe(self) -> str:
        return f"{self.kind}({', '.join(repr(v) for v in self.args)})"

    @staticmethod
    def parse(key: str, kind: str, raw: Any) -> "Param":
        """Check ``raw`` (the YAML list after ``kind:``) and build the value object, or raise SpaceError."""
        if not isinstance(raw, list):
            raise SpaceError(key, f"{kind} takes {DISTRIBUTIONS[kind]}, got {raw!r}")
        if kind in ("choice", "grid"):
            if not raw:
                raise SpaceError(key, f"{kind} needs at least one value, got []")
            return Categorical(kind, tuple(raw))
        arity = 3 if kind.startswith("q") else 2
        if len(raw) != arity or not all(_is_number(v) for v in raw):
            hint = ""
            if any(isinstance(v, str) for v in raw):
                hint = " (a value was read as text: write numbers like 1.0e-4, with a dot and a signed exponent)"
            raise SpaceError(key, f"{kind} takes {DISTRIBUTIONS[kind]}, got {raw!r}{hint}")
        if kind == "normal":
            if raw[1] <= 0:
                raise SpaceError(key, f"normal needs sd > 0, but got (mean={raw[0]}, sd={raw[1]})")
            return Normal(kind, raw[0], raw[1])
        integer = kind in ("randint", "qrandint", "lograndint")
        if integer and not all(_is_int(v) for v in raw):
            raise SpaceError(key, f"{kind} takes integers, got {raw!r}")
        low, high = raw[0], raw[1]
        if not low < high:
            raise SpaceError(key, f"{kind} needs low < high, but got (low={low}, high={high})")
        log = "log" in kind
        if log and kind != "lograndint" and low <= 0:
            raise SpaceError(key, f"{kind} needs low > 0, but got (low={low}, high={high})")
        if kind == "lograndint" and low < 1:
            raise SpaceError(key, f"lograndint needs low >= 1, but got (low={low}, high={high})")
        q = raw[2] if arity == 3 else None
        if q is not None:
            if q <= 0:
                raise SpaceError(key, f"{kind} needs q > 0, but got q={q}")
            if q > high - low:
                raise SpaceError(key, f"{kind} needs q <= high - low, but got q={q} for [{low}, {high}]")
        return (IntRange if integer else FloatRange)(kind, low, high, log, q)


@dataclass(frozen=True)
class FloatRange(Param):
    """uniform, loguniform, quniform, qloguniform."""

    low: float
    high: float
    log: bool = False
    q: float | None = None

    @property
    def args(self) -> tuple:
        return (self.low, self.high) if self.q is None else (self.low, self.high, self.q)

    @property
    def bounds(self) -> tuple[float, float]:
        return float(self.low), float(self.high)

    def contains(self, value: Any) -> bool:
        return _is_number(value) and self.low <= value <= self.high

    def to_tune(self):
        from ray import tune

        if self.q is None:
            return (tune.loguniform if self.log else tune.uniform)(self.low, self.high)
        return (tune.qloguniform if self.log else tune.quniform)(self.low, self.high, self.q)


@dataclass(frozen=True)
class IntRange(Param):
    """randint, qrandint, lograndint: both bounds included."""

    low: int
    high: int
    log: bool = False
    q: int | None = None

    @property
    def args(self) -> tuple:
        return (self.low, self.high) if self.q is None else (self.low, self.high, self.q)

    @property
    def bounds(self) -> tuple[float, float]:
        return float(self.low), float(self.high)

    def contains(self, value: Any) -> bool:
        return _is_int(value) and self.low <= value <= self.high

    def to_tune(self):
        from ray import tune

        if self.q is not None:
            return tune.qrandint(self.low, self.high, self.q)  # Ray includes the upper bound already
        return (tune.lograndint if self.log else tune.randint)(self.low, self.high + 1)  # Ray excludes it


@dataclass(frozen=True)
class Normal(Param):
    mean: float
    sd: float

    @property
    def args(self) -> tuple:
        return (self.mean, self.sd)

    def contains(self, value: Any) -> bool:
        return _is_number(value)

    def to_tune(self):
        from ray import tune

        return tune.randn(self.mean, self.sd)


@dataclass(frozen=True)
class Categorical(Param):
    """choice (one value drawn) or grid (every value tried)."""

    values: tuple
    is_categorical: ClassVar[bool] = True

    @property
    def args(self) -> tuple:
        return self.values

    @property
    def grid(self) -> bool:
        return self.kind == "grid"

    def contains(self, value: Any) -> bool:
        return any(value == v and type(value) is type(v) for v in self.values) or value in self.values

    def to_tune(self):
        from ray import tune

        return tune.grid_search(list(self.values)) if self.grid else tune.choice(list(self.values))

    def describe(self) -> str:
        return f"{self.kind} {list(self.values)}"


# ------------------------------------------------------------------------------------------ nested keys


def flatten(config: dict, sep: str = SEP, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a/b": 1}: nested groups joined by ``sep``, in order."""
    out: dict[str, Any] = {}
    for name, value in config.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, sep, key + sep))
        else:
            out[key] = value
    return out


def nest(flat: dict[str, Any], sep: str = SEP) -> dict[str, Any]:
    """{"a/b": 1} -> {"a": {"b": 1}}: the inverse of :func:`flatten`."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(sep)
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


# ------------------------------------------------------------------------------------------ the space


@dataclass(frozen=True)
class Space:
    """The parsed tree under ``space:``: parameter name -> Param | constant | nested group (a dict)."""

    tree: dict

    @classmethod
    def parse(cls, raw: Any, prefix: str = "space") -> "Space":
        return cls(_parse_group(raw, prefix))

    def items(self) -> Iterator[tuple[str, Any]]:
        """(flat name, Param | constant), in file order."""
        return iter(flatten(self.tree).items())

    @property
    def params(self) -> dict[str, Param]:
        """Only the tunable parameters, by flat name (``/`` between nesting levels, as Ray flattens)."""
        return {name: value for name, value in self.items() if isinstance(value, Param)}

    @property
    def constants(self) -> dict[str, Any]:
        """Only the fixed values, nested as written."""
        return nest({name: value for name, value in self.items() if not isinstance(value, Param)})

    def to_tune(self) -> dict:
        """The ``param_space`` for ``ray.tune.Tuner``: Params become domains, constants stay."""
        return nest({n: v.to_tune() if isinstance(v, Param) else v for n, v in self.items()})

    def to_yaml(self) -> dict:
        """The DSL as written (the inverse of :meth:`parse`)."""
        return nest({n: v.to_yaml() if isinstance(v, Param) else v for n, v in self.items()})

    def describe(self) -> list[tuple[str, str]]:
        """(flat name, human text) for summaries and reports."""
        return [(n, v.describe() if isinstance(v, Param) else f"= {v!r}") for n, v in self.items()]

    def __bool__(self) -> bool:
        return bool(self.tree)


def _parse_group(raw: Any, prefix: str) -> dict:
    if not isinstance(raw, dict):
        raise SpaceError(prefix, f"must be a mapping of parameter names, got {type(raw).__name__}")
    out: dict = {}
    for name, value in raw.items():
        key = f"{prefix}.{name}"
        if not isinstance(name, str):
            raise SpaceError(key, "parameter names must be strings")
        if SEP in name:
            raise SpaceError(key, f"parameter names cannot contain {SEP!r} (it joins nested names)")
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
    if not value:
        raise SpaceError(key, "an empty mapping is neither a distribution nor a group of parameters")
    return _parse_group(value, key)
