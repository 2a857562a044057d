"""``when:`` conditions: a parameter (or a nested group) that is drawn only where others have given values.

``momentum: {uniform: [0.5, 0.99], when: {optimizer: momentum}}``: momentum is active only in trials whose
optimizer is ``momentum``; elsewhere it is ABSENT from the trial's config (the trainable's default applies)
and empty in the tables. A list means any of its values (``when: {optimizer: [momentum, sgd]}``); several
keys mean all must hold; a group's ``when`` applies to everything inside it; a condition may name a parameter
that is itself conditional (then it holds only where that parameter is active).

A :class:`Condition` is what was written; :func:`resolve` turns the conditions of a whole space into
:class:`Requirement` s on flat names and checks them: the parent must exist, be categorical (choice, grid) or
a constant, the values must be among its values, no cycles; a grid parameter may depend only on grid
parameters and constants (so that the grid's combinations are known before anything is drawn). Each problem
is a :class:`~hwk4tune.space.keys.SpaceError` naming the dotted key of the ``when`` entry at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from hwk4tune.errors import did_you_mean
from hwk4tune.space.keys import SEP, SpaceError

WHEN = "when"  # the reserved key, beside a distribution or inside a group


@dataclass(frozen=True)
class Condition:
    """A ``when:`` mapping as written: each (name, values) must hold, values meaning any of them."""

    terms: tuple[tuple[str, tuple], ...]

    @classmethod
    def parse(cls, key: str, raw: Any) -> "Condition":
        if not isinstance(raw, dict) or not raw:
            raise SpaceError(key, "takes a mapping of parameter -> value (or a list of values, any of them), "
                             f"e.g. {{optimizer: momentum}}; got {raw!r}")
        terms = []
        for name, value in raw.items():
            if not isinstance(name, str):
                raise SpaceError(f"{key}.{name}", "parameter names must be strings")
            values = tuple(value) if isinstance(value, list) else (value,)
            if not values:
                raise SpaceError(f"{key}.{name}", "needs at least one value, got []")
            terms.append((name, values))
        return cls(tuple(terms))

    def to_yaml(self) -> dict:
        return {name: values[0] if len(values) == 1 and not isinstance(values[0], list) else list(values)
                for name, values in self.terms}


def _plain(value: Any) -> Any:
    """numpy scalars (from searchers) -> Python scalars."""
    return value.item() if hasattr(value, "item") and getattr(value, "ndim", None) == 0 else value


def matches(value: Any, values: Iterable) -> bool:
    """``value`` is one of ``values`` (``True`` is not ``1``)."""
    value = _plain(value)
    return any(value == v and isinstance(value, bool) == isinstance(v, bool) for v in values)


def show(value: Any) -> str:
    """A value as YAML writes it: ``momentum``, ``true``, ``0.5``."""
    if isinstance(value, bool):
        return str(value).lower()
    return value if isinstance(value, str) else repr(value)


@dataclass(frozen=True)
class Requirement:
    """One resolved term: the parameter ``parent`` (flat name) is active and takes one of ``values``.
    ``key`` is the dotted key of the ``when`` entry that states it."""

    parent: str
    values: tuple
    key: str

    def holds(self, config: dict[str, Any]) -> bool:
        """``config`` holds the active values only (flat names), so an inactive parent is absent."""
        return self.parent in config and matches(config[self.parent], self.values)

    def describe(self) -> str:
        if len(self.values) == 1:
            return f"{self.parent} = {show(self.values[0])}"
        return f"{self.parent} in [{', '.join(show(v) for v in self.values)}]"


def describe(requirements: Iterable[Requirement]) -> str:
    """``when optimizer = momentum and finetune in [layer4, all]`` ('' when unconditional)."""
    parts = [r.describe() for r in requirements]
    return "when " + " and ".join(parts) if parts else ""


def is_active(requirements: Iterable[Requirement], config: dict[str, Any]) -> bool:
    return all(r.holds(config) for r in requirements)


# ------------------------------------------------------------------------------------------ resolution


@dataclass(frozen=True)
class Written:
    """A condition as it applies to one leaf: where it was written and the group it was written in."""

    condition: Condition
    key: str  # dotted key of the `when:` entry, e.g. space.momentum.when
    scope: str  # flat prefix of the group holding the conditioned node ('' at the top)
    node: str  # flat name of the conditioned node (a leaf or a group)


def resolve(leaves: dict[str, Any], groups: set[str], written: dict[str, list[Written]]) -> dict[str, tuple]:
    """Requirements of every conditioned leaf (flat name -> tuple of :class:`Requirement`), checked.

    ``leaves``: flat name -> Param or constant; ``groups``: flat names of nested groups; ``written``: the
    conditions that apply to each leaf, outer groups first.
    """
    out: dict[str, tuple] = {}
    for name, conditions in written.items():
        reqs = []
        for w in conditions:
            for term, values in w.condition.terms:
                key = f"{w.key}.{term}"
                if f"{w.node}{SEP}{term}" in leaves:
                    raise SpaceError(key, f"{term} is inside the group this condition is written on: a group's "
                                     "condition names a parameter outside it")
                parent = _lookup(term, w.scope, leaves, groups, key)
                _check_values(parent, leaves[parent], values, key)
                reqs.append(Requirement(parent, values, key))
        out[name] = tuple(reqs)
    _check_cycles(out)
    _check_grids(leaves, out)
    return out


def _lookup(term: str, scope: str, leaves: dict[str, Any], groups: set[str], key: str) -> str:
    """The flat name ``term`` means where it was written: its own group first, then each enclosing one."""
    parts = scope.split(SEP)[:-1] if scope else []
    for depth in range(len(parts), -1, -1):
        candidate = SEP.join(parts[:depth] + [term])
        if candidate in leaves:
            return candidate
        if candidate in groups:
            raise SpaceError(key, f"{candidate!r} is a group of parameters: a condition names one parameter")
    names = [n for n in list(leaves) + [n.rsplit(SEP, 1)[-1] for n in leaves] if n != term]
    raise SpaceError(key, f"no parameter {term!r} in the space{did_you_mean(term, names)} (a condition names a "
                     f"choice, grid or constant of the space: {', '.join(n for n, v in leaves.items() if _categorical(v)) or 'none'})")


def _categorical(leaf: Any) -> bool:
    return getattr(leaf, "is_categorical", True)  # constants count (they have no attribute)


def _is_param(leaf: Any) -> bool:
    return hasattr(leaf, "is_categorical")  # a Param (distributions.py imports this module, not the reverse)


def _check_values(parent: str, leaf: Any, values: tuple, key: str) -> None:
    if _is_param(leaf) and not leaf.is_categorical:
        raise SpaceError(key, f"{parent} is {leaf.describe()}, a continuous parameter: a condition needs a "
                         "categorical parameter (choice or grid) or a constant")
    choices = leaf.values if _is_param(leaf) else (leaf,)
    for value in values:
        if not matches(value, choices):
            if _is_param(leaf):
                raise SpaceError(key, f"{show(value)!r} is not among {parent}'s values "
                                 f"[{', '.join(show(c) for c in choices)}]")
            raise SpaceError(key, f"{show(value)!r} is never {parent}'s value: {parent} is the constant "
                             f"{show(leaf)!r}")


def _check_cycles(reqs: dict[str, tuple]) -> None:
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        path = path + [name]
        for r in reqs.get(name, ()):
            if state.get(r.parent) == 1:
                cycle = path[path.index(r.parent):] + [r.parent]
                raise SpaceError(r.key, f"conditions form a cycle: {' -> '.join(cycle)} (each is drawn only "
                                 "where the next is active, so none ever is)")
            if r.parent not in state:
                visit(r.parent, path)
        state[name] = 2

    for name in reqs:
        if name not in state:
            visit(name, [])


def _check_grids(leaves: dict[str, Any], reqs: dict[str, tuple]) -> None:
    for name, own in reqs.items():
        if not _is_param(leaves[name]) or leaves[name].kind != "grid":
            continue
        for first in own:
            for ancestor in _ancestors(first.parent, reqs) | {first.parent}:
                leaf = leaves[ancestor]
                if _is_param(leaf) and leaf.kind != "grid":
                    raise SpaceError(first.key, f"{name} is a grid parameter, so its condition may name only grid "
                                     f"parameters and constants (the grid's combinations must be known before "
                                     f"anything is drawn), but it depends on {ancestor}, {leaf.describe()}: make "
                                     f"{ancestor} a grid too, or {name} a choice")


def _ancestors(name: str, reqs: dict[str, tuple]) -> set[str]:
    out: set[str] = set()
    todo = [r.parent for r in reqs.get(name, ())]
    while todo:
        n = todo.pop()
        if n not in out:
            out.add(n)
            todo += [r.parent for r in reqs.get(n, ())]
    return out


def order(names: Iterable[str], reqs: dict[str, tuple]) -> list[str]:
    """Flat names in file order, each after the parameters its conditions name (the order to draw in)."""
    out: dict[str, None] = {}

    def visit(name: str) -> None:
        if name in out:
            return
        for r in reqs.get(name, ()):
            visit(r.parent)
        out[name] = None

    for name in names:
        visit(name)
    return list(out)
