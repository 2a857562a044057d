"""Earlier trials (a :class:`~hwk4tune.results.warm_start.WarmPlan`) given to Ray's searchers before their first
suggestion, each the way it takes them (public APIs only):

- Optuna (every sampler, one objective or several, conditional spaces too): the study is made here in the
  searcher's storage (in memory unless ``storage:`` names a database) and given the earlier trials with
  ``study.add_trials(create_trial(...))``, with the same distributions Ray's OptunaSearch makes of the space;
  OptunaSearch then loads that study (``load_if_exists``) and its sampler learns from them;
- HyperOpt: ``points_to_evaluate`` + ``evaluated_rewards``;
- random and grid: planned configs equal to an earlier one (today's searched values) are not run; the plan
  counts them (``skipped``);
- ``mode: evaluate`` (every searcher): the best earlier configs are run first, as ``points_to_evaluate``
  (random and grid: first in the planned list, within the same number of trials).
"""

from __future__ import annotations

from typing import Any

from hwk4tune.errors import InputError
from hwk4tune.space import Space, nest

__all__ = ["optuna_study", "planned_with_warm_start", "evaluate_points"]


def _distributions(space: Space, names) -> dict[str, Any]:
    from ray.tune.search.optuna import OptunaSearch

    from hwk4tune.tune.search_space import tune_domain

    return {name: OptunaSearch.convert_search_space({"p": tune_domain(space.params[name])})["p"] for name in names}


def optuna_study(plan: Any, space_spec: Any, storage: Any, study_name: str) -> Any:
    """``storage`` (a new in-memory one where None) holding study ``study_name`` with the earlier trials of
    ``plan`` as finished trials; OptunaSearch loads it."""
    import optuna

    storage = storage if storage is not None else optuna.storages.InMemoryStorage()
    objectives = space_spec.objectives or [space_spec]
    directions = ["minimize" if o.mode == "min" else "maximize" for o in objectives]
    study = optuna.create_study(storage=storage, study_name=study_name, directions=directions, load_if_exists=True)
    trials = []
    for t in plan.trials:
        values = list(t.values[:len(directions)])
        trials.append(optuna.trial.create_trial(
            state=optuna.trial.TrialState.COMPLETE, values=values, params=dict(t.config),
            distributions=_distributions(space_spec.space, t.config), user_attrs={"warm_start": t.source}))
    study.add_trials(trials)
    return storage


def evaluate_points(plan: Any, own: list[dict] | None, flat: bool = True) -> list[dict] | None:
    """The searcher's ``points_to_evaluate``: its own, then (``mode: evaluate``) the best earlier configs."""
    points = list(own or [])
    if plan is not None and plan.mode == "evaluate":
        points += [dict(c) if flat else nest(c) for c in plan.configs]
    return points or None


def _same(planned: dict[str, Any], earlier: dict[str, Any], params) -> bool:
    return all(planned.get(name) == earlier.get(name) for name in params if name in planned or name in earlier)


def planned_with_warm_start(plan: Any, space: Space, configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Random or grid search's planned flat configs with the warm start applied: ``evaluate``: the best earlier
    configs first, as many planned ones dropped from the end; ``learn``: configs already evaluated left out
    (``plan.skipped`` counts them)."""
    if plan.mode == "evaluate":
        first = [space.active_config(c) for c in plan.configs]
        return (first + configs)[:max(len(configs), len(first))]
    params = list(space.params)
    keep = [c for c in configs if not any(_same(c, e, params) for e in plan.configs)]
    plan.skipped = len(configs) - len(keep)
    if configs and not keep:
        raise InputError(f"warm_start: all {len(configs)} planned configs were evaluated already: nothing to run "
                         "(widen the space, or write mode: evaluate to run the best of them again)")
    return keep
