"""Notices: legal choices that waste the budget or do nothing, one line each, for any of the three kinds.

``hwk4tune validate`` prints them (``--strict`` makes them errors); ``hwk4tune run`` prints them before the
sweep starts. The searcher's and scheduler's own notices live on their models (``notices(p: Pairing)``);
this module adds the space's and collects them per kind.
"""

from __future__ import annotations

from typing import Any

from hwk4tune.space import EmptyRange, Param


def space_notices(space: Any) -> list[str]:
    """A ``choice`` or ``grid`` whose values are all the same, or a range with low == high, draws nothing:
    write the constant."""
    out = []
    for name, param in space.space.params.items():
        values = getattr(param, "values", None) if isinstance(param, Param) and param.is_categorical else None
        if values is None:
            continue
        distinct = []
        for v in values:
            if not any(v == d and type(v) is type(d) for d in distinct):
                distinct.append(v)
        if len(distinct) == 1:
            leaf = name.rsplit("/", 1)[-1]
            value = distinct[0]
            written = str(value).lower() if isinstance(value, bool) else value
            what = (f"a {param.written[0]} range with low == high" if isinstance(param, EmptyRange)
                    else f"a {param.kind} of one value")
            out.append(f"space.{name.replace('/', '.')}: always {value!r}: write `{leaf}: {written}` "
                       f"({what} makes every trial the same)")
    return out


def notices_of(spec: Any) -> list[str]:
    """Every notice of a loaded space, sweep or compare spec."""
    if hasattr(spec, "strategies"):  # compare: each strategy's pairing, labelled
        out = space_notices(spec.space)
        if spec.speedup is not None:
            out.append("speedup: does nothing: a replay runs on a simulated clock, as fast as it can (remove it)")
        for label in spec.strategies:
            out += [f"strategies.{label}: {n}" for n in spec.pairing(label).notices()]
        return out
    if hasattr(spec, "pairing"):  # sweep: the space's, then the searcher's, scheduler's and stop rules'
        return space_notices(spec.space) + spec.notices()
    return space_notices(spec)
