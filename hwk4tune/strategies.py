"""Searchers and schedulers: two registries of builders (name -> function of one :class:`StrategyArgs`).

Adding a method means adding one builder to :data:`SEARCHERS` or :data:`SCHEDULERS`; the sweep runner never
changes. Builders import Ray (and Optuna, HyperOpt, scikit-learn) when called, so importing this module is
cheap.

Metric and mode are declared once, in ``TuneConfig``: no searcher or scheduler built here names them, and
Tune hands them over through ``set_search_properties``. The search space is handed over the same way (the
Tuner's ``param_space``). Model-based searchers are wrapped in a ``ConcurrencyLimiter`` by
``max_concurrent_trials``; grid and random get it as ``BasicVariantGenerator(max_concurrent=...)``. So the
Tuner itself gets no ``max_concurrent_trials`` (Ray would warn that it ignores it).

Schedulers count time in ``time_attr`` (default ``epoch``, which the trainables report, 1-based). Ray's own
defaults differ per scheduler (``time_total_s`` for PBT, PB2 and the median rule: seconds!), so every
builder passes it explicitly.

:func:`problems` adds to :func:`hwk4tune.spec.pairing_problems` the rules that need the trainable (what it
reports, whether it checkpoints) and the environment (optional packages); :func:`notices` lists legal but
wasteful choices.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

from hwk4tune.names import FIXED_WHILE_TRAINING
from hwk4tune.space import Param, params, parse_space
from hwk4tune.spec import CompareSpec, SpaceSpec, SweepSpec, pairing_problems

__all__ = [
    "SEARCHERS", "SCHEDULERS", "StrategyArgs", "build_searcher", "build_scheduler", "strategy_name",
    "pbt_mutations", "pb2_bounds", "problems", "notices", 
]



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


def strategy_name(searcher: Any, scheduler: Any) -> str:
    """``optuna+asha``."""
    return f"{searcher.name}+{scheduler.name}"


# ------------------------------------------------------------------------------------------ searchers


def _basic_variant(args: StrategyArgs):
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


def _optuna(args: StrategyArgs):
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


def _hyperopt(args: StrategyArgs):
    from ray.tune.search.hyperopt import HyperOptSearch

    s = args.searcher
    searcher = HyperOptSearch(points_to_evaluate=s.points_to_evaluate, n_initial_points=s.n_initial_points,
                              random_state_seed=s.seed)
    return _limited(searcher, args)


SEARCHERS: dict[str, Callable[[StrategyArgs], Any]] = {
    "grid": _basic_variant,  # every grid parameter crossed; num_samples repeats the grid
    "random": _basic_variant,
    "optuna": _optuna,
    "hyperopt": _hyperopt,
}


def build_searcher(args: StrategyArgs):
    """A Tune search algorithm for ``args.searcher`` (no metric, mode or space: TuneConfig gives them)."""
    return _lookup(SEARCHERS, args.searcher.name, "searcher")(args)


# ------------------------------------------------------------------------------------------ schedulers


def _fifo(args: StrategyArgs):
    from ray.tune.schedulers import FIFOScheduler

    return FIFOScheduler()


def _asha(args: StrategyArgs):
    from ray.tune.schedulers import ASHAScheduler

    s = args.scheduler
    return ASHAScheduler(time_attr=s.time_attr, max_t=args.max_epochs, grace_period=s.grace_period,
                         reduction_factor=s.reduction_factor, brackets=s.brackets)


def _hyperband(args: StrategyArgs):
    from ray.tune.schedulers import HyperBandScheduler

    s = args.scheduler
    return HyperBandScheduler(time_attr=s.time_attr, max_t=args.max_epochs, reduction_factor=s.reduction_factor)


def _median(args: StrategyArgs):
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


def _pbt(args: StrategyArgs):
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


def _pb2(args: StrategyArgs):
    from ray.tune.schedulers.pb2 import PB2

    s = args.scheduler
    _seed_driver(s.seed)
    return PB2(
        time_attr=s.time_attr,
        perturbation_interval=s.perturbation_interval,
        quantile_fraction=s.quantile_fraction,
        hyperparam_bounds=pb2_bounds(args.space, s.hyperparam_bounds),
    )


SCHEDULERS: dict[str, Callable[[StrategyArgs], Any]] = {
    "fifo": _fifo,
    "asha": _asha,  # max_t = the space's max_epochs
    "hyperband": _hyperband,
    "median": _median,
    "pbt": _pbt,
    "pb2": _pb2,
}


def build_scheduler(args: StrategyArgs):
    """A Tune trial scheduler for ``args.scheduler`` (no metric or mode: TuneConfig gives them)."""
    return _lookup(SCHEDULERS, args.scheduler.name, "scheduler")(args)


def _lookup(table: dict, name: str, what: str):
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"unknown {what} {name!r} (valid: {', '.join(table)})") from None


# ------------------------------------------------------------------------------------------ PBT / PB2


def _mutation(p: Param):
    """Categorical parameters mutate by shifting along their list; ranges are Tune domains (resampled or
    multiplied by 0.8 / 1.2, integers rounded)."""
    return list(p.args) if p.is_categorical else p.to_tune()


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """{"a/b": x} -> {"a": {"b": x}}: Ray matches mutations to the (nested) config by structure."""
    out: dict[str, Any] = {}
    for dotted, value in flat.items():
        node = out
        *parents, leaf = dotted.split("/")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def _mutated(space: SpaceSpec, given: dict[str, Any] | None) -> dict[str, Any]:
    """What PBT mutates, flat by dotted name: a Param, or a plain list of values."""
    if not given:
        return {name: p for name, p in params(space.space).items() if name not in FIXED_WHILE_TRAINING}
    flat = {}
    for name, raw in given.items():
        value = parse_space({name: raw}, "scheduler.hyperparam_mutations")[name]
        flat[name] = value if isinstance(value, Param) else list(raw) if isinstance(raw, list) else raw
    return flat


def pbt_mutations(space: SpaceSpec, given: dict[str, Any] | None = None) -> dict[str, Any]:
    """PBT's ``hyperparam_mutations``: every tunable parameter of the space that may change mid-training
    (not those of ``FIXED_WHILE_TRAINING``), or those ``given``.

    A given value is written in the space DSL (``{loguniform: [1e-4, 0.1]}``) or as a plain list of values.
    """
    return _nest({name: _mutation(v) if isinstance(v, Param) else v for name, v in _mutated(space, given).items()})


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
    flat = {k: list(v) for k, v in given.items()} if given else {
        name: list(p.bounds) for name, p in params(space.space).items()
        if p.bounds is not None and name not in FIXED_WHILE_TRAINING}
    return _nest(flat)


# ------------------------------------------------------------------------------------------ rules


def problems(spec: SweepSpec | CompareSpec) -> list[tuple[tuple, str]]:
    """Every rule a sweep (or comparison) breaks, as (key path, message); see :func:`hwk4tune.spec.check_pairing`."""
    return list(pairing_problems(spec))


def notices(spec: SweepSpec) -> list[str]:
    """Legal but wasteful choices, one line each (printed before the sweep starts; nothing is refused)."""
    out = []
    s, sch, n, epochs = spec.searcher, spec.scheduler, spec.num_samples, spec.space.max_epochs
    space_params = spec.space.params
    by_epoch = getattr(sch, "time_attr", "epoch") in ("epoch", "training_iteration")
    if s.name == "optuna" and s.sampler in ("tpe", "gp") and n <= 10:
        out.append(f"optuna's {s.sampler} sampler draws its first 10 trials at random: with num_samples={n} "
                   "this is random search")
    if s.name == "optuna" and any(p.kind == "qloguniform" for p in space_params.values()):
        out.append("optuna ignores the quantization of qloguniform parameters")
    if s.name == "optuna" and s.sampler == "cmaes" and any(p.is_categorical for p in space_params.values()):
        out.append("optuna's cmaes sampler draws categorical parameters at random")
    if s.name == "hyperopt" and s.n_initial_points >= n:
        out.append(f"hyperopt draws its first n_initial_points={s.n_initial_points} trials at random: with "
                   f"num_samples={n} this is random search")
    if sch.name == "asha" and by_epoch and sch.grace_period >= epochs:
        out.append(f"asha with grace_period={sch.grace_period} >= max_epochs={epochs} stops no trial early")
    if sch.name == "median" and (n <= sch.min_samples_required or (by_epoch and sch.grace_period >= epochs)):
        out.append("the median rule will stop no trial early (grace_period >= max_epochs or "
                   "num_samples <= min_samples_required)")
    if sch.name in ("pbt", "pb2"):
        if by_epoch and sch.perturbation_interval >= epochs:
            out.append(f"{sch.name} perturbs every {sch.perturbation_interval} epochs, but trials last "
                       f"{epochs}: no trial will ever exploit another")
        if n < 2 or (spec.max_concurrent_trials or n) < 2:
            out.append(f"{sch.name} compares trials that run at the same time: with one at a time, none exploits")
    if not spec.reuse_actors:
        out.append("reuse_actors: false starts a new worker process for every trial (about 2 s each on a "
                   "small machine)")
    if s.name == "grid" and n > 1 and all(p.kind == "grid" for p in space_params.values()):
        out.append(f"num_samples={n} repeats the same grid {n} times (only the seeds differ)")
    return out
