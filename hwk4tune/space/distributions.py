"""Distributions as value objects: YAML one-key mappings -> :class:`Param`.

Each distribution is a frozen value object (:class:`FloatRange`, :class:`IntRange`, :class:`Normal`,
:class:`Categorical`, all :class:`Param`) that parses and checks its arguments, turns back into YAML, and
says whether a value lies in it (:func:`hwk4tune.tune.search_space.tune_domain` turns it into a Ray Tune
domain). A parameter may carry a ``when`` condition
(:class:`~hwk4tune.space.conditions.Condition`): it is then drawn only where the condition holds.

Integer ranges (``randint``, ``qrandint``, ``lograndint``) include BOTH bounds here: ``randint: [1, 3]``
draws 1, 2 or 3. Ray's ``tune.randint`` and ``tune.lograndint`` exclude the upper bound, so
:func:`hwk4tune.tune.search_space.tune_domain` adds one. (Syne Tune documents the same trap.)

No Ray here: this package is read by commands that never start Ray.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hwk4tune.space.conditions import Condition
from hwk4tune.space.keys import SpaceError

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


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ------------------------------------------------------------------------------------------ distributions


@dataclass(frozen=True)
class Param:
    """One tunable parameter. ``kind`` is its YAML name; ``args`` its arguments as written; ``when`` the
    condition under which it is drawn (None: always)."""

    kind: str
    when: Condition | None = field(default=None, kw_only=True)
    is_categorical: ClassVar[bool] = False

    @property
    def args(self) -> tuple:
        raise NotImplementedError

    @property
    def bounds(self) -> tuple[float, float] | None:
        """(low, high) of a numeric range; None for categorical and normal parameters."""
        return None

    def contains(self, value: Any) -> bool:
        raise NotImplementedError

    def to_yaml(self) -> dict:
        out: dict = {self.kind: list(self.args)}
        if self.when is not None:
            out["when"] = self.when.to_yaml()
        return out

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
        if not low <= high:
            raise SpaceError(key, f"{kind} needs low <= high, but got (low={low}, high={high})")
        log = "log" in kind
        if log and kind != "lograndint" and low <= 0:
            raise SpaceError(key, f"{kind} needs low > 0, but got (low={low}, high={high})")
        if kind == "lograndint" and low < 1:
            raise SpaceError(key, f"lograndint needs low >= 1, but got (low={low}, high={high})")
        q = raw[2] if arity == 3 else None
        if q is not None:
            if q <= 0:
                raise SpaceError(key, f"{kind} needs q > 0, but got q={q}")
            if q > high - low and low != high:
                raise SpaceError(key, f"{kind} needs q <= high - low, but got q={q} for [{low}, {high}]")
        if low == high:  # legal, but it draws one value: a one-value choice that keeps its YAML (a notice)
            return EmptyRange("choice", (low,), written=(kind, tuple(raw)))
        return (IntRange if integer else FloatRange)(kind, low, high, log, q)


@dataclass(frozen=True)
class _Range(Param):
    """A numeric range [low, high], maybe on a log scale, maybe rounded to multiples of q."""

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
        return self._is_value(value) and self.low <= value <= self.high

    _is_value = staticmethod(_is_number)


@dataclass(frozen=True)
class FloatRange(_Range):
    """uniform, loguniform, quniform, qloguniform."""

@dataclass(frozen=True)
class IntRange(_Range):
    """randint, qrandint, lograndint: both bounds included (integers)."""

    _is_value = staticmethod(_is_int)


@dataclass(frozen=True)
class Normal(Param):
    mean: float
    sd: float

    @property
    def args(self) -> tuple:
        return (self.mean, self.sd)

    def contains(self, value: Any) -> bool:
        return _is_number(value)


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

    def describe(self) -> str:
        return f"{self.kind} {list(self.values)}"


@dataclass(frozen=True)
class EmptyRange(Categorical):
    """A range written with low == high: it draws its one value, so it is a one-value ``choice`` everywhere
    (Tune, the searchers, PBT, replay) while ``to_yaml`` and ``describe`` keep the range as written."""

    written: tuple = ()  # (kind, args) as in the YAML

    def to_yaml(self) -> dict:
        out: dict = {self.written[0]: list(self.written[1])}
        if self.when is not None:
            out["when"] = self.when.to_yaml()
        return out

    def describe(self) -> str:
        return f"{self.written[0]}({', '.join(repr(v) for v in self.written[1])})"

