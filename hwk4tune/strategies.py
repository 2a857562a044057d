"""Builders of Ray Tune searchers and schedulers, each a function of one :class:`StrategyArgs`.

The registry is the spec models (:mod:`hwk4tune.spec.strategies`): each names its builder here as
``builder = "hwk4tune.strategies:NAME"``, with its facts and rules beside it. Adding a method means one model
and one builder; the sweep runner never changes. Builders import Ray (and Optuna, HyperOpt, scikit-learn)
when called, so importing this module is cheap.

Metric and mode are declared once, in ``TuneConfig``: no searcher or scheduler built here names them, and
Tune hands them over through ``set_search_properties``. The search space is handed over the same way (the
Tuner's ``param_space``). Model-based searchers are wrapped in a ``ConcurrencyLimiter`` by
``max_concurrent_trials``; grid and random get it as ``BasicVariantGenerator(max_concurrent=...)``. So the
Tuner itself gets no ``max_concurrent_trials`` (Ray would warn that it ignores it).

Schedulers count time in ``time_attr`` (default ``epoch``, which the trainables report, 1-based). Ray's own
defaults differ per scheduler (``time_total_s`` for PBT, PB2 and the median rule: seconds!), so every
builder passes it explicitly.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from hwk4tune.registry import import_target
from hwk4tune.space import Param, nest
from hwk4tune.spec import SpaceSpec, SweepSpec

__all__ = ["StrategyArgs", "build_searcher", "build_scheduler", "pbt_mutations", "pb2_bounds", "clip_into"]


@dataclass(frozen=True)
class StrategyArgs:
    """Everything a searcher or scheduler builder may use."""

    space: SpaceSpec
    searcher: Any  # a spec.SearcherSpec model
    scheduler: Any  # a spec.SchedulerSpec model
    num_samples: int
    max_epochs: int
    max_concurrent_trials: int | None = None
    name: str = "hwk4tune"  # the experiment's name (the default Optuna study name)

    @classmethod
    def from_sweep(cls, spec: SweepSpec, name: str = "hwk4tune") -> "StrategyArgs":
        return cls(spec.space, spec.searcher, spec.scheduler, spec.num_samples, spec.space.max_epochs,
                   spec.max_concurrent_trials, name)


# ------------------------------------------------------------------------------------------ searchers


def basic_variant(args: StrategyArgs):
    from ray.tune.search import BasicVariantGenerator

    return BasicVariantGenerator(max_concurrent=args.max_concurrent_trials or 0,
                                 random_state=getattr(args.searcher, "seed", None))


def _limited(searcher, args: StrategyArgs):
    if not args.max_concurrent_trials:
        return searcher
    from ray.tune.search import ConcurrencyLimiter

    return ConcurrencyLimiter(searcher, max_concurrent=args.max_concurrent_trials)


def _optuna_sampler(kind: str, seed: int | None):
    import optuna

    samplers = {
        "tpe": optuna.samplers.TPESampler,
        "gp": optuna.samplers.GPSampler,
        "cmaes": optuna.samplers.CmaEsSampler,
        "qmc": optuna.samplers.QMCSampler,
        "random": optuna.samplers.RandomSampler,
    }
    return samplers[kind](seed=seed)


def optuna(args: StrategyArgs):
    from ray.tune.search.optuna import OptunaSearch

    s = args.searcher
    storage = None
    if s.storage:
        import optuna

        storage = optuna.storages.RDBStorage(s.storage)
    searcher = OptunaSearch(
        sampler=_optuna_sampler(s.sampler, s.seed),  # the seed goes to the sampler (Ray ignores it otherwise)
        points_to_evaluate=s.points_to_evaluate,
        storage=storage,
        study_name=(s.study_name or args.name) if storage else None,
    )
    return _limited(searcher, args)


def hyperopt(args: StrategyArgs):
    from ray.tune.search.hyperopt import HyperOptSearch

    s = args.searcher
    searcher = HyperOptSearch(points_to_evaluate=s.points_to_evaluate, n_initial_points=s.n_initial_points,
                              random_state_seed=s.seed)
    return _limited(searcher, args)


def build_searcher(args: StrategyArgs):
    """A Tune search algorithm for ``args.searcher`` (no metric, mode or space: TuneConfig gives them)."""
    return import_target(args.searcher.builder)(args)


# ------------------------------------------------------------------------------------------ schedulers


def fifo(args: StrategyArgs):
    from ray.tune.schedulers import FIFOScheduler

    return FIFOScheduler()


def asha(args: StrategyArgs):
    from ray.tune.schedulers import ASHAScheduler

    s = args.scheduler
    return ASHAScheduler(time_attr=s.time_attr, max_t=args.max_epochs, grace_period=s.grace_period,
                         reduction_factor=s.reduction_factor, brackets=s.brackets)


def hyperband(args: StrategyArgs):
    from ray.tune.schedulers import HyperBandScheduler

    s = args.scheduler
    return HyperBandScheduler(time_attr=s.time_attr, max_t=args.max_epochs, reduction_factor=s.reduction_factor)


def median(args: StrategyArgs):
    from ray.tune.schedulers import MedianStoppingRule

    s = args.scheduler
    return MedianStoppingRule(time_attr=s.time_attr, grace_period=s.grace_period,
                              min_samples_required=s.min_samples_required)


def _seed_driver(seed: int | None) -> None:
    """PBT and PB2 draw from Python's and NumPy's global generators on the driver; Ray has no seed option."""
    if seed is not None:
        import random

        import numpy as np

        random.seed(seed)
        np.random.seed(seed)


def pbt(args: StrategyArgs):
    from ray.tune.schedulers import PopulationBasedTraining

    s = args.scheduler
    _seed_driver(s.seed)
    return PopulationBasedTraining(
        time_attr=s.time_attr,
        perturbation_interval=s.perturbation_interval,
        quantile_fraction=s.quantile_fraction,
        resample_probability=s.resample_probability,
        hyperparam_mutations=pbt_mutations(args.space, s.hyperparam_mutations),
        custom_explore_fn=functools.partial(clip_into, pbt_bounds(args.space, s.hyperparam_mutations)),
    )


def pb2(args: StrategyArgs):
    from ray.tune.schedulers.pb2 import PB2

    s = args.scheduler
    _seed_driver(s.seed)
    return PB2(
        time_attr=s.time_attr,
        perturbation_interval=s.perturbation_interval,
        quantile_fraction=s.quantile_fraction,
        hyperparam_bounds=pb2_bounds(args.space, s.hyperparam_bounds),
    )


def build_scheduler(args: StrategyArgs):
    """A Tune trial scheduler for ``args.scheduler`` (no metric or mode: TuneConfig gives them)."""
    return import_target(args.scheduler.builder)(args)


# ------------------------------------------------------------------------------------------ PBT / PB2


def _mutation(p: Param):
    """Categorical parameters mutate by shifting along their list; ranges are Tune domains (resampled or
    multiplied by 0.8 / 1.2, integers rounded)."""
    return list(p.args) if p.is_categorical else p.to_tune()


def _mutated(space: SpaceSpec, given: dict[str, Any] | None) -> dict[str, Any]:
    """What PBT mutates, flat by dotted name: a Param, or a plain list of values."""
    if not given:  # the spec model parsed `given` already: Params and lists of values
        fixed = space.entry.fixed_while_training
        return {name: p for name, p in space.params.items() if name not in fixed}
    return dict(given)


def pbt_mutations(space: SpaceSpec, given: dict[str, Any] | None = None) -> dict[str, Any]:
    """PBT's ``hyperparam_mutations``: every tunable parameter of the space that may change mid-training
    (not the trainable's ``fixed_while_training``), or those ``given``.

    A given value is written in the space DSL (``{loguniform: [1e-4, 0.1]}``) or as a plain list of values.
    """
    return nest({name: _mutation(v) if isinstance(v, Param) else v for name, v in _mutated(space, given).items()})


def pbt_bounds(space: SpaceSpec, given: dict[str, Any] | None = None) -> dict[str, tuple[float, float]]:
    """(low, high) of every numeric range PBT mutates, by dotted name."""
    return {name: v.bounds for name, v in _mutated(space, given).items() if isinstance(v, Param) and v.bounds}


def clip_into(bounds: dict[str, tuple[float, float]], config: dict) -> dict:
    """PBT's ``custom_explore_fn``: put every perturbed value back inside its range.

    Ray's PBT multiplies a value by 0.8 or 1.2 and does not clip it: momentum 0.84 became 1.008, out of
    its space, and the trial failed. Integers stay integers.
    """
    for dotted, (low, high) in bounds.items():
        *parents, leaf = dotted.split("/")
        node = config
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        value = node.get(leaf) if isinstance(node, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            clipped = min(max(value, low), high)
            node[leaf] = int(round(clipped)) if isinstance(value, int) else float(clipped)
    return config


def pb2_bounds(space: SpaceSpec, given: dict[str, tuple[float, float]] | None = None) -> dict[str, list[float]]:
    """PB2's ``hyperparam_bounds``: ``given``, else the (low, high) of every numeric range of the space."""
    fixed = space.entry.fixed_while_training
    flat = {k: list(v) for k, v in given.items()} if given else {
        name: list(p.bounds) for name, p in space.params.items() if p.bounds is not None and name not in fixed}
    return nest(flat)
