"""The pairing rules that a conditional space (``when:``) adds, called by the searcher and scheduler models.

- a start point (``points_to_evaluate``) sets every parameter active under it, and no other;
- PBT mutates a conditional parameter only in trials that have it, but never a parameter that a condition
  names (that would switch others on or off in the middle of training); by default it leaves those alone;
- PB2 refuses conditional parameters: its model of the bounds needs each of them in every trial.
"""

from __future__ import annotations

from typing import Any

from hwk4tune.space import Param
from hwk4tune.space.conditions import describe
from hwk4tune.spec.pairing import Found, Pairing


def conditioned(p: Pairing) -> dict[str, str]:
    """Conditioned parameters of the space -> their condition as text (``when optimizer = momentum``)."""
    space = p.space.space
    return {name: describe(reqs) for name, reqs in space.requirements.items() if name in space.params}


def point_problems(params: dict[str, Param], space: Any, points: list[dict], searcher: str) -> Found:
    """Each start point sets every parameter active under it (Ray's model-based searchers want them all), and
    no other; each value within its distribution."""
    found: Found = []
    for i, point in enumerate(points):
        key = f"searcher.points_to_evaluate.{i}"
        unknown = [n for n in point if n not in params]
        active = space.active_params(point) if not unknown else list(point)
        missing = [n for n in active if n not in point]
        inactive = [n for n in point if n in params and n not in active]
        if missing or unknown or inactive:
            parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
                [f"unknown {', '.join(unknown)}"] if unknown else []) + (
                [f"inactive here {', '.join(inactive)}"] if inactive else [])
            what = "every tunable parameter" if not space.conditional else "every parameter active under it"
            found.append((key, f"{searcher} needs each start point to set {what} and no other: "
                          + "; ".join(parts)))
            continue
        for name, value in point.items():
            if not params[name].contains(value):
                found.append((f"{key}.{name}", f"{value!r} is not in {params[name].describe()}"))
    return found


def pbt_problems(p: Pairing, mutations: dict[str, Any] | None) -> Found:
    parents = p.space.space.parents
    named = [k for k in (mutations or {}) if k in parents]
    if not named:
        return []
    return [("scheduler.hyperparam_mutations", f"{', '.join(named)} cannot be mutated: conditions of the space "
             "name them, and a mutation would switch other parameters on or off in the middle of training")]


def pbt_notices(p: Pairing, mutations: dict[str, Any] | None) -> list[str]:
    if mutations:
        return []
    left = [n for n in p.space.space.parents if n in p.params and n not in p.space.entry.fixed_while_training]
    return [f"pbt leaves {', '.join(left)} as first drawn: conditions of the space name them"] if left else []


def pb2_problems(p: Pairing, bounds: dict[str, Any] | None) -> Found:
    names = conditioned(p)
    explored = list(bounds) if bounds else [n for n, q in p.params.items() if q.bounds is not None]
    bad = [n for n in explored if n in names]
    if not bad:
        return []
    key = "scheduler.hyperparam_bounds" if bounds else "scheduler"
    return [(key, f"pb2 cannot explore conditional parameters ({', '.join(f'{n} {names[n]}' for n in bad)}): its "
             "model needs each bound in every trial; give hyperparam_bounds without them, or use pbt")]
