"""The parsed ``space:`` tree: parameters, constants, nested groups, and the conditions between them.

A parameter is written as a one-key mapping, ``lr: {loguniform: [1.0e-4, 0.3]}``, optionally with a
``when:`` beside it. Anything else is a constant, and a mapping whose key is not a distribution is a nested
group of parameters (a ``when:`` inside it applies to all of it: a :class:`Group`).

Which parameters a trial gets is decided here, for every searcher alike: :meth:`Space.order` is the order to
draw in (parents first), :meth:`Space.is_active` says whether a leaf is drawn given what was drawn before it,
:meth:`Space.grid_points` lists the valid combinations of the grid parameters.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any, Iterator

from hwk4tune.errors import did_you_mean
from hwk4tune.space import conditions as cond
from hwk4tune.space.conditions import WHEN, Condition, Requirement, Written
from hwk4tune.space.distributions import DISTRIBUTIONS, Categorical, Param
from hwk4tune.space.keys import SEP, SpaceError, flatten, nest


class Group(dict):
    """A nested group of parameters with a ``when:`` that applies to everything inside it."""

    def __init__(self, items: dict, when: Condition):
        super().__init__(items)
        self.when = when

    def __eq__(self, other: object) -> bool:
        return dict.__eq__(self, other) and getattr(other, "when", None) == self.when

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self):
        return (Group, (dict(self), self.when))

    def __repr__(self) -> str:
        return f"Group({dict.__repr__(self)}, when={self.when!r})"


@dataclass(frozen=True)
class Space:
    """The parsed tree under ``space:``: parameter name -> Param | constant | nested group (a dict)."""

    tree: dict

    @classmethod
    def parse(cls, raw: Any, prefix: str = "space") -> "Space":
        space = cls(_parse_group(raw, prefix))
        space._resolve(prefix)  # every condition checked here, each problem naming its key
        return space

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

    def to_yaml(self) -> dict:
        """The DSL as written (the inverse of :meth:`parse`)."""
        return _yaml(self.tree)

    def describe(self) -> list[tuple[str, str]]:
        """(flat name, human text) for summaries and reports; a condition follows its distribution."""
        return [(name, text) for _, name, text in self.describe_tree(indent=False)]

    def describe_tree(self, indent: bool = True) -> list[tuple[int, str, str]]:
        """(depth, flat name, text): every conditioned leaf right under the parameter its condition names
        (the last one drawn, when it names several), one level deeper."""
        reqs = self.requirements
        leaves = dict(self.items())
        rank = {n: i for i, n in enumerate(self.order)}
        children: dict[str | None, list[str]] = {}
        for name in leaves:
            parent = max((r.parent for r in reqs.get(name, ())), key=rank.__getitem__, default=None)
            children.setdefault(parent, []).append(name)
        out: list[tuple[int, str, str]] = []

        def add(parent: str | None, depth: int) -> None:
            for name in children.get(parent, []):
                value = leaves[name]
                text = value.describe() if isinstance(value, Param) else f"= {value!r}"
                when = cond.describe(reqs.get(name, ()))
                out.append((depth if indent else 0, name, f"{text}  {when}" if when else text))
                add(name, depth + 1)

        add(None, 0)
        return out

    def __bool__(self) -> bool:
        return bool(self.tree)

    # -------------------------------------------------------------------------------------- conditions

    @functools.cached_property
    def requirements(self) -> dict[str, tuple[Requirement, ...]]:
        """Flat name -> what must hold for it to be drawn; only conditioned leaves (groups' included)."""
        return self._resolve("space")

    def _resolve(self, prefix: str) -> dict[str, tuple[Requirement, ...]]:
        leaves, groups, written = {}, set(), {}
        _walk(self.tree, "", prefix, [], leaves, groups, written)
        reqs = cond.resolve(leaves, groups, written)
        self.__dict__["requirements"] = reqs  # the cached_property's slot (the dataclass is frozen)
        return reqs

    @property
    def conditional(self) -> bool:
        return bool(self.requirements)

    @property
    def parents(self) -> set[str]:
        """The flat names that some condition names."""
        return {r.parent for reqs in self.requirements.values() for r in reqs}

    @functools.cached_property
    def order(self) -> list[str]:
        """Every leaf, file order, each after the leaves its conditions name: the order to draw in."""
        return cond.order((n for n, _ in self.items()), self.requirements)

    def is_active(self, name: str, drawn: dict[str, Any]) -> bool:
        """Whether leaf ``name`` is drawn, given ``drawn`` (flat name -> value of the active leaves before it)."""
        return cond.is_active(self.requirements.get(name, ()), drawn)

    def active_config(self, values: dict[str, Any]) -> dict[str, Any]:
        """The flat config a trial with these parameter ``values`` gets: the active parameters found in
        ``values`` and the active constants, in draw order; inactive entries of ``values`` are left out."""
        return self._active(values)[0]

    def active_params(self, values: dict[str, Any]) -> list[str]:
        """The parameters active under ``values``, in draw order, also those ``values`` lacks (a leaf
        conditioned on a missing one counts as inactive)."""
        return self._active(values)[1]

    def _active(self, values: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        leaves = dict(self.items())
        config: dict[str, Any] = {}
        params: list[str] = []
        for name in self.order:
            if not self.is_active(name, config):
                continue
            if not isinstance(leaves[name], Param):
                config[name] = leaves[name]
                continue
            params.append(name)
            if name in values:
                config[name] = values[name]
        return config, params

    def grid_points(self) -> list[dict[str, Any]]:
        """Every valid combination of the grid parameters (flat name -> value), in Ray's order (the first
        grid parameter changing slowest); ``[{}]`` without grid parameters. An inactive grid parameter is
        absent, so a grid expands only the combinations that differ in what trials get."""
        leaves = dict(self.items())
        fixed = [n for n in self.order if isinstance(leaves[n], Categorical) and leaves[n].grid
                 or not isinstance(leaves[n], Param)]
        points: list[dict[str, Any]] = [{}]  # grid values and active constants so far
        for name in fixed:  # a grid parameter depends only on grid parameters and constants (checked)
            leaf = leaves[name]
            options = leaf.values if isinstance(leaf, Param) else (leaf,)
            points = [q for p in points for q in
                      ([{**p, name: v} for v in options] if self.is_active(name, p) else [p])]
        return [{n: v for n, v in p.items() if isinstance(leaves[n], Param)} for p in points]


def _walk(tree: dict, scope: str, key: str, inherited: list[Written], leaves: dict, groups: set,
          written: dict) -> None:
    """Collect leaves (flat name -> value), group names, and the conditions that apply to each leaf."""
    for name, value in tree.items():
        flat, dotted = f"{scope}{name}", f"{key}.{name}"
        own = inherited
        when = value.when if isinstance(value, (Param, Group)) else None
        if when is not None:
            own = inherited + [Written(when, f"{dotted}.{WHEN}", scope, flat)]
        if isinstance(value, dict) and value:
            groups.add(flat)
            _walk(value, flat + SEP, dotted, own, leaves, groups, written)
            continue
        leaves[flat] = value
        if own:
            written[flat] = own


def _yaml(node: Any) -> Any:
    if isinstance(node, Param):
        return node.to_yaml()
    if isinstance(node, dict):
        out = {k: _yaml(v) for k, v in node.items()}
        return {WHEN: node.when.to_yaml(), **out} if isinstance(node, Group) else out
    return node


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
    when = None
    if WHEN in value:
        when = Condition.parse(f"{key}.{WHEN}", value[WHEN])
        value = {k: v for k, v in value.items() if k != WHEN}
        if not value:
            raise SpaceError(f"{key}.{WHEN}", "a condition needs a distribution beside it "
                             "({uniform: [0.5, 0.99], when: {...}}) or parameters in its group")
    if len(value) == 1:
        (kind, raw), = value.items()
        if kind in DISTRIBUTIONS:
            param = Param.parse(key, kind, raw)
            return dataclasses.replace(param, when=when) if when is not None else param
        hint = did_you_mean(kind, DISTRIBUTIONS, cutoff=0.75, partial=False)  # else: a group of one parameter
        if hint:
            raise SpaceError(f"{key}.{kind}", f"unknown distribution {kind!r}{hint}")
    if not value:
        raise SpaceError(key, "an empty mapping is neither a distribution nor a group of parameters")
    group = _parse_group(value, key)
    return Group(group, when) if when is not None else group
