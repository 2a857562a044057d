"""Builders of Ray Tune searchers and schedulers, each a function of one :class:`StrategyArgs`.

The registry is the spec models (:mod:`hwk4tune.spec.strategies`): each names its builder here as
``builder = "hwk4tune.tune.strategies:NAME"``, with its facts and rules beside it. Adding a method means one model
and one builder; the sweep runner never changes. Builders import Ray (and Optuna, HyperOpt, nevergrad, scikit-learn)
when called, so importing this module is cheap.

Metric and mode are declared once, in ``TuneConfig``: no searcher or scheduler built here names them, and
Tune hands them over through ``set_search_properties``. The search space is handed over the same way (the
Tuner's ``param_space``), except a conditional one (``when:``): Ray's domains cannot leave a key out, so the
searcher holds it (:mod:`hwk4tune.tune.conditional_search`), the Tuner gets an empty :func:`param_space`, and the
searcher is given metric and mode itself (Tune hands them over only with a space).

Model-based searchers are wrapped in a ``ConcurrencyLimiter`` by ``max_concurrent_trials``; grid and random
get it as ``BasicVariantGenerator(max_concurrent=...)``. So the Tuner itself gets no ``max_concurrent_trials``
(Ray would warn that it ignores it).

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

__all__ = ["StrategyArgs", "build_searcher", "build_scheduler", "build_strategy", "param_space", "pbt_mutations", "pb2_bounds",
           "clip_into"]


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
    warm: Any = None  # earlier trials: a hwk4tune.results.warm_start.WarmPlan (hwk4tune.tune.warm_start)

    @classmethod
    def from_sweep(cls, spec: SweepSpec, name: str = "hwk4tune", warm: Any = None) -> "StrategyArgs":
        return cls(spec.space, spec.searcher, spec.scheduler, spec.num_samples, spec.space.max_epochs,
                   spec.concurrent_trials, name, warm)


# ------------------------------------------------------------------------------------------ searchers


def param_space(space: SpaceSpec, searcher: Any = None) -> dict:
    """The Tuner's ``param_space``: Ray Tune domains and constants; empty for a conditional space, whose
    searcher holds it and draws every key of a config itself (:mod:`hwk4tune.tune.conditional_search`), and for
    a searcher that holds the space with several objectives (optuna: :func:`optuna` gives it the space with its
    metric and mode lists)."""
    if space.space.conditional or (space.objectives and getattr(searcher, "holds_space_with_objectives", False)):
        return {}
    from hwk4tune.tune.search_space import tune_param_space  # imports Ray

    return tune_param_space(space.space)


def _holds_space(args: StrategyArgs) -> dict:
    """A searcher that holds the space gets metric and mode itself: Tune hands them over only with a space."""
    return {"metric": args.space.metric, "mode": args.space.mode}


def basic_variant(args: StrategyArgs):
    from ray.tune.search import BasicVariantGenerator

    if args.space.space.conditional or args.warm is not None:  # a warm start plans its configs too
        from hwk4tune.tune.conditional_search import PlannedVariants, planned_configs
        from hwk4tune.tune.warm_start import planned_with_warm_start

        space = args.space.space
        configs = planned_configs(space, args.num_samples, getattr(args.searcher, "seed", None))
        if args.warm is not None:
            configs = planned_with_warm_start(args.warm, space, configs)
        return PlannedVariants(configs, set(space.params), max_concurrent=args.max_concurrent_trials or 0)
    return BasicVariantGenerator(max_concurrent=args.max_concurrent_trials or 0,
                                 random_state=getattr(args.searcher, "seed", None))


def _limited(searcher, args: StrategyArgs):
    if not args.max_concurrent_trials:
        return searcher
    if args.scheduler.pauses_trials:  # paused trials do not count (hwk4tune.tune.hyperband)
        from hwk4tune.tune.hyperband import PausableLimiter

        return PausableLimiter(searcher, args.max_concurrent_trials)
    from ray.tune.search import ConcurrencyLimiter

    return ConcurrencyLimiter(searcher, max_concurrent=args.max_concurrent_trials)


class _PicklableLocks:
    """Pickles an object that holds ``threading`` locks: each lock is left out and a new one made on unpickling.

    Ray Tune pickles the searcher (with its Optuna sampler) when it builds the Tuner and at every experiment
    checkpoint. Optuna 5.1's genetic samplers (``BaseGASampler``: NSGA-II, NSGA-III) hold a lock, which
    cannot be pickled, so every NSGA-II sweep died with "cannot pickle '_thread.lock' object". A lock holds
    no state worth keeping between processes; everything else (the seeded generator, the cached generation
    and population) is pickled as before, so a resumed sweep continues its population. Locks are found by
    type, not by Optuna's private attribute name, so this holds for Optuna 4.x and 5.0 (no lock) as well.
    """

    def __reduce_ex__(self, protocol):
        import threading

        lock_types = (type(threading.Lock()), type(threading.RLock()))
        state = {k: v for k, v in self.__dict__.items() if not isinstance(v, lock_types)}
        locks = {k: isinstance(v, lock_types[1]) for k, v in self.__dict__.items() if isinstance(v, lock_types)}
        # by the Optuna class it extends: the class made by _picklable() has no importable name of its own
        return _unpickle_with_locks, (type(self).optuna_class, state, locks)


def _unpickle_with_locks(base: type, state: dict, locks: dict[str, bool]):
    import threading

    obj = _picklable(base).__new__(_picklable(base))
    obj.__dict__.update(state)
    for key, reentrant in locks.items():
        setattr(obj, key, threading.RLock() if reentrant else threading.Lock())
    return obj


@functools.cache
def _picklable(sampler_class: type) -> type:
    """``sampler_class`` made picklable (:class:`_PicklableLocks`), under its own name."""
    return type(sampler_class.__name__, (_PicklableLocks, sampler_class),
                {"__module__": __name__, "optuna_class": sampler_class})


def _optuna_sampler(s):
    """The Optuna sampler of an OptunaSearcher model, with the options given for it (NSGA-II's), made
    picklable where it holds a lock (:class:`_PicklableLocks`)."""
    import optuna

    facts = s.sampler_facts
    sampler_class = getattr(optuna.samplers, facts.optuna_class)
    if facts.holds_lock:
        sampler_class = _picklable(sampler_class)
    return sampler_class(seed=s.seed, **s.sampler_options())


def optuna(args: StrategyArgs):
    from ray.tune.search.optuna import OptunaSearch

    from hwk4tune.tune.warm_start import evaluate_points, optuna_study

    s = args.searcher
    storage = None
    if s.storage:
        import optuna

        storage = optuna.storages.RDBStorage(s.storage)
    if args.warm is not None and args.warm.mode == "learn":  # a study holding the earlier trials
        storage = optuna_study(args.warm, args.space, storage, s.study_name or args.name)
    conditional = {}
    if args.space.space.conditional or args.space.objectives:  # define-by-run: inactive parameters are never
        from hwk4tune.tune.conditional_search import DefineByRun  # suggested, constants are returned

        conditional = {"space": DefineByRun(args.space.space), **_holds_space(args)}
    if args.space.objectives:  # several objectives: Ray's OptunaSearch takes metric and mode lists, and
        # tells the study every objective's value at the trial's last result (TuneConfig keeps the first)
        conditional.update(metric=[o.metric for o in args.space.objectives],
                           mode=[o.mode for o in args.space.objectives])
    searcher = OptunaSearch(
        sampler=_optuna_sampler(s),  # the seed goes to the sampler (Ray ignores it otherwise)
        points_to_evaluate=evaluate_points(args.warm, s.points_to_evaluate),
        storage=storage,
        study_name=(s.study_name or args.name) if storage else None,
        **conditional,
    )
    return _limited(searcher, args)


def hyperopt(args: StrategyArgs):
    from ray.tune.search.hyperopt import HyperOptSearch

    from hwk4tune.tune.warm_start import evaluate_points

    s = args.searcher
    options = dict(points_to_evaluate=evaluate_points(args.warm, s.points_to_evaluate, flat=False),
                   n_initial_points=s.n_initial_points, random_state_seed=s.seed)
    if _learns(args):  # the earlier trials first, told at once (hwk4tune.tune.warm_searchers)
        from hwk4tune.tune.warm_searchers import WarmConditionalHyperOptSearch, WarmHyperOptSearch, told

        options["points_to_evaluate"] = [nest(c) for c in args.warm.configs] + (s.points_to_evaluate or [])
        if args.space.space.conditional:
            searcher = told(WarmConditionalHyperOptSearch, args.warm.rewards, space=args.space.space, **options,
                            **_holds_space(args))
        else:
            searcher = told(WarmHyperOptSearch, args.warm.rewards, **options)
        return _limited(searcher, args)
    if args.space.space.conditional:  # nested choices, flattened back into configs
        from hwk4tune.tune.conditional_search import ConditionalHyperOptSearch

        return _limited(ConditionalHyperOptSearch(args.space.space, **options, **_holds_space(args)), args)
    searcher = HyperOptSearch(**options)
    return _limited(searcher, args)


def _learns(args: StrategyArgs) -> bool:
    """A warm start in mode learn with earlier trials to tell."""
    return args.warm is not None and args.warm.mode == "learn" and bool(args.warm.trials)


def nevergrad(args: StrategyArgs):
    """Ray's NevergradSearch over nevergrad's optimizer, seeded (Ray has no seed option), told the budget and
    how many trials run at once (NGOpt picks its algorithm from them; populations grow to num_workers)."""
    from ray.tune.search.nevergrad import NevergradSearch

    from hwk4tune.tune.seeded_nevergrad import SeededOptimizer, configured
    from hwk4tune.tune.warm_start import evaluate_points

    s = args.searcher
    optimizer = SeededOptimizer(configured(s.optimizer, s.popsize), s.seed)
    options = dict(optimizer=optimizer, points_to_evaluate=evaluate_points(args.warm, None, flat=False),
                   optimizer_kwargs={"budget": args.num_samples + (len(args.warm.trials) if _learns(args) else 0),
                                     "num_workers": args.max_concurrent_trials or 1})
    if _learns(args):  # told the earlier trials (hwk4tune.tune.warm_searchers)
        from hwk4tune.tune.warm_searchers import WarmNevergradSearch, told

        options["points_to_evaluate"] = [nest(c) for c in args.warm.configs]
        searcher = told(WarmNevergradSearch, args.warm.rewards, **options)
    else:
        searcher = NevergradSearch(**options)
    return _limited(searcher, args)


def build_searcher(args: StrategyArgs):
    """A Tune search algorithm for ``args.searcher`` (no metric, mode or space: TuneConfig gives them)."""
    return import_target(args.searcher.builder)(args)


def build_strategy(args: StrategyArgs) -> tuple[Any, Any]:
    """The sweep's search algorithm and scheduler, the scheduler told the searcher's concurrency limit where
    it must free a paused trial's slot (HyperBand, :mod:`hwk4tune.tune.hyperband`)."""
    search_alg, scheduler = build_searcher(args), build_scheduler(args)
    attach = getattr(scheduler, "attach", None)
    if attach is not None:
        attach(search_alg)
    return search_alg, scheduler


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
    """Ray's HyperBand with brackets that fill under max_concurrent_trials (:mod:`hwk4tune.tune.hyperband`)."""
    from hwk4tune.tune.hyperband import CappedHyperBand

    s = args.scheduler
    # the trials the sweep runs: num_samples times the grid's combinations (a bracket that waits for trials
    # counted by num_samples alone halved each of a grid's trials on its own, so halved nothing)
    trials = args.num_samples * len(args.space.space.grid_points())
    return CappedHyperBand(num_samples=trials, max_running=args.max_concurrent_trials,
                           time_attr=s.time_attr, max_t=args.max_epochs, reduction_factor=s.reduction_factor)


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
    scheduler = PopulationBasedTraining
    if args.space.space.conditional:  # mutates only the parameters a trial has
        from hwk4tune.tune.conditional_search import ConditionalPBT as scheduler
    return scheduler(
        time_attr=s.time_attr,
        perturbation_interval=s.perturbation_interval,
        quantile_fraction=s.quantile_fraction,
        synch=s.synch,
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
        synch=s.synch,
        hyperparam_bounds=pb2_bounds(args.space, s.hyperparam_bounds),
    )


def build_scheduler(args: StrategyArgs):
    """A Tune trial scheduler for ``args.scheduler`` (no metric or mode: TuneConfig gives them)."""
    return import_target(args.scheduler.builder)(args)


# ------------------------------------------------------------------------------------------ PBT / PB2


def _mutation(p: Param):
    """Categorical parameters mutate by shifting along their list; ranges are Tune domains (resampled or
    multiplied by 0.8 / 1.2, integers rounded)."""
    from hwk4tune.tune.search_space import tune_domain  # imports Ray

    return list(p.args) if p.is_categorical else tune_domain(p)


def _mutated(space: SpaceSpec, given: dict[str, Any] | None) -> dict[str, Any]:
    """What PBT mutates, flat by dotted name: a Param, or a plain list of values."""
    if not given:  # the spec model parsed `given` already: Params and lists of values
        fixed = space.entry.fixed_while_training
        parents = space.space.parents  # a mutation would switch parameters on or off mid-training
        return {name: p for name, p in space.params.items() if name not in fixed and name not in parents}
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
