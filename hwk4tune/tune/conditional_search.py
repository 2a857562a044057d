"""Conditional spaces (``when:``) in each of Ray Tune's searchers: an inactive parameter is never drawn and
never in a trial's config (the trainable's default applies; the tables leave it empty).

Ray Tune has no conditional spaces of its own, and its domains cannot leave a key out, so a conditional space
is held by the searcher and the Tuner gets an empty ``param_space``
(:func:`hwk4tune.tune.strategies.param_space`). Which leaves a trial gets is decided by
:class:`~hwk4tune.space.Space` alone (:meth:`~hwk4tune.space.Space.order`, :meth:`~hwk4tune.space.Space.is_active`);
each searcher gets it in its own form:

- **random, grid**: :class:`PlannedVariants`, Ray's ``BasicVariantGenerator`` running a planned list of
  configurations: the valid grid combinations (:meth:`~hwk4tune.space.Space.grid_points`) x
  ``num_samples``, every other parameter drawn, parents first, with Ray's own domain samplers from one seeded
  generator. It stays a ``BasicVariantGenerator``, so PBT and PB2 accept it (they refuse any other searcher),
  and Tune saves and restores it with the experiment.
- **optuna**: :class:`DefineByRun`, a define-by-run function for Ray's ``OptunaSearch``: it suggests only
  active parameters (Optuna's distributions as Ray converts them) and returns the active constants.
- **hyperopt**: :func:`hyperopt_space`, a native space of nested ``hp.choice`` (each conditioned leaf in the
  branches of the parent its condition names last); :class:`ConditionalHyperOptSearch` flattens a suggestion
  back into a flat config and drops what another condition (``and``) leaves inactive.
- **PBT**: :class:`ConditionalPBT` mutates, and fills in, only the parameters present in a trial's config.

This module imports Ray, Optuna and HyperOpt: :mod:`hwk4tune.tune.strategies` imports it inside its builders.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
from ray.tune.search import BasicVariantGenerator
from ray.tune.search.hyperopt import HyperOptSearch

from hwk4tune.space import SEP, Categorical, Param, Space, nest
from hwk4tune.space.conditions import matches
from hwk4tune.tune import _ray_private
from hwk4tune.tune.search_space import tune_domain

__all__ = ["draw", "planned_configs", "PlannedVariants", "DefineByRun", "hyperopt_space",
           "ConditionalHyperOptSearch", "ConditionalPBT"]


# ------------------------------------------------------------------------------------------ random, grid


def draw(space: Space, rng: np.random.Generator, fixed: dict[str, Any] | None = None) -> dict[str, Any]:
    """One trial's flat config: leaves in draw order, each only where active; ``fixed`` values (a grid
    point) are taken as they are, other parameters drawn with Ray's sampler of their domain."""
    fixed = fixed or {}
    leaves = dict(space.items())
    out: dict[str, Any] = {}
    for name in space.order:
        if not space.is_active(name, out):
            continue
        leaf = leaves[name]
        if name in fixed:
            out[name] = fixed[name]
        elif isinstance(leaf, Param):
            out[name] = tune_domain(leaf).sample(random_state=rng)
        else:
            out[name] = leaf
    return out


def planned_configs(space: Space, num_samples: int, seed: int | None = None) -> list[dict[str, Any]]:
    """Flat configs of a random or grid search: every valid grid combination ``num_samples`` times (Ray's
    order: the samples outermost), the other parameters drawn from one generator seeded by ``seed``."""
    rng = np.random.default_rng(seed)
    return [draw(space, rng, point) for _ in range(num_samples) for point in space.grid_points()]


class _TrialSpec:
    """One planned flat config -> (the values Ray names the trial by, its nested config). Picklable: Tune
    saves the trial iterators holding it with the searcher."""

    def __init__(self, tunable: set[str]):
        self.tunable = set(tunable)

    def __call__(self, flat: dict[str, Any]) -> tuple[dict, dict[str, Any]]:
        resolved = {("config", *name.split(SEP)): v for name, v in flat.items() if name in self.tunable}
        return resolved, nest(flat)


class PlannedVariants(BasicVariantGenerator):
    """A ``BasicVariantGenerator`` whose trials take the planned flat ``configs`` in order, one each."""

    def __init__(self, configs: list[dict[str, Any]], tunable: set[str], max_concurrent: int = 0):
        super().__init__(max_concurrent=max_concurrent)
        self._planned = [dict(c) for c in configs]
        self._tunable = set(tunable)

    def add_configurations(self, experiments) -> None:
        """Ray's own, with trials from the planned configs instead of variants of the spec."""
        _ray_private.add_planned_trials(self, experiments, self._planned, _TrialSpec(self._tunable))


# ------------------------------------------------------------------------------------------ optuna


class DefineByRun:
    """Ray's ``OptunaSearch(space=DefineByRun(space))``: suggests the active parameters, parents first, and
    returns the active constants (Ray adds them to the config). Picklable, as Tune saves the searcher."""

    def __init__(self, space: Space):
        from ray.tune.search.optuna import OptunaSearch

        self.space = space
        # the same Optuna distributions Ray makes of an unconditional space
        self.distributions = {name: OptunaSearch.convert_search_space({"p": tune_domain(p)})["p"]
                              for name, p in space.params.items()}

    def __call__(self, trial) -> dict[str, Any]:
        leaves = dict(self.space.items())
        drawn: dict[str, Any] = {}
        for name in self.space.order:
            if not self.space.is_active(name, drawn):
                continue
            if isinstance(leaves[name], Param):
                drawn[name] = _suggest(trial, name, self.distributions[name])
            else:
                drawn[name] = leaves[name]
        return {name: v for name, v in drawn.items() if not isinstance(leaves[name], Param)}


def _suggest(trial, name: str, d) -> Any:
    """One ``trial.suggest_*`` call (Ray records the values its ``suggest_`` methods return)."""
    import optuna.distributions as od

    if isinstance(d, od.CategoricalDistribution):
        return trial.suggest_categorical(name, d.choices)
    if isinstance(d, od.IntDistribution):
        return trial.suggest_int(name, d.low, d.high, step=d.step, log=d.log)
    return trial.suggest_float(name, d.low, d.high, step=d.step, log=d.log)


# ------------------------------------------------------------------------------------------ hyperopt

BRANCH = SEP * 2  # suffix of the key holding a parent's branches (flat names never hold two separators)


def hyperopt_space(space: Space) -> dict[str, Any]:
    """A native HyperOpt space: unconditioned leaves at the top; a categorical parent with conditioned
    leaves becomes ``{"parent//": hp.choice("parent", [{parent: value, <its leaves active there>}, ...])}``.

    Each conditioned leaf sits in the branches of the parameter its conditions name last in draw order (its
    other conditions are checked on the suggestion); a leaf in several branches (``when: {optimizer:
    [momentum, sgd]}``) is one node, so one label. Ranges convert as Ray converts them.
    """
    from hyperopt import hp

    leaves = dict(space.items())
    rank = {n: i for i, n in enumerate(space.order)}
    home: dict[str, Any] = {}  # conditioned leaf -> the requirement whose branches hold it
    children: dict[str, list[str]] = {}
    for name in space.order:
        reqs = [r for r in space.requirements.get(name, ()) if isinstance(leaves[r.parent], Categorical)]
        if reqs:
            home[name] = max(reqs, key=lambda r: rank[r.parent])
            children.setdefault(home[name].parent, []).append(name)
    nodes: dict[str, Any] = {}

    def entry(name: str) -> dict[str, Any]:
        leaf = leaves[name]
        if name not in nodes:
            if name in children:
                nodes[name] = hp.choice(name, [
                    {name: value, **{k: v for c in children[name] if matches(value, home[c].values)
                                     for k, v in entry(c).items()}} for value in leaf.values])
            elif isinstance(leaf, Categorical):
                nodes[name] = hp.choice(name, list(leaf.values))
            elif isinstance(leaf, Param):
                nodes[name] = HyperOptSearch.convert_search_space({name: tune_domain(leaf)})[name]
            else:
                nodes[name] = leaf  # a constant
        return {name + BRANCH if name in children else name: nodes[name]}

    return {k: v for name in space.order if name not in home for k, v in entry(name).items()}


def _flat_suggestion(node: dict[str, Any]) -> dict[str, Any]:
    """{optimizer//: {optimizer: momentum, momentum: 0.9}, lr: 0.01} -> {optimizer: momentum, momentum: 0.9,
    lr: 0.01}."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key.endswith(BRANCH):
            out.update(_flat_suggestion(value))
        else:
            out[key] = value
    return out


class ConditionalHyperOptSearch(_ray_private.hyperopt_with_start_point_hook()):
    """Ray's ``HyperOptSearch`` over :func:`hyperopt_space`, whose suggestions are flat configs again, with
    only the active leaves (nested groups nested as Ray nests them)."""

    def __init__(self, space: Space, **kwargs):
        self._conditional = space
        super().__init__(space=hyperopt_space(space), **kwargs)

    def suggest(self, trial_id: str):
        config = super().suggest(trial_id)
        if not isinstance(config, dict):
            return config  # None or Searcher.FINISHED
        return nest(self._conditional.active_config(_flat_suggestion(config)))

    def categories_to_indices(self, config: dict) -> None:
        """A start point names flat parameters; HyperOpt wants the index of a categorical value."""
        params = self._conditional.params
        for key in list(config):
            leaf = params.get(key)
            if isinstance(leaf, Categorical):
                config[key] = next(i for i, v in enumerate(leaf.values) if matches(config[key], (v,)))


# ------------------------------------------------------------------------------------------ PBT


def _present(mutations: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """The mutations of the keys ``config`` holds (nested groups alike)."""
    return {k: _present(v, config[k]) if isinstance(v, dict) and isinstance(config[k], dict) else v
            for k, v in mutations.items() if k in config}


class ConditionalPBT(_ray_private.pbt_with_exploit_hook()):
    """Ray's PBT that mutates only the parameters a trial has: Ray's would add an inactive parameter to a
    config that lacks it (on adding the trial) or fail on the missing key (exploring)."""

    @contextlib.contextmanager
    def _mutating_only(self, config: dict[str, Any]):
        full = self.mutations
        self.mutations = _present(full, config)
        try:
            yield
        finally:
            self.mutations = full

    def on_trial_add(self, tune_controller, trial) -> None:
        with self._mutating_only(trial.config):
            super().on_trial_add(tune_controller, trial)

    def exploiting(self, config: dict[str, Any]):
        """Ray's exploit of a trial cloning ``config`` mutates only the parameters ``config`` has."""
        return self._mutating_only(config)
