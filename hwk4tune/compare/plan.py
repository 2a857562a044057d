"""A comparison's plan: the plain cross product of strategies and seeds, one sweep each, one budget.

Each (label, seed) is a sweep in ``OUT/runs/<label>-seed<seed>/`` with the comparison's ``num_samples``,
``max_epochs``, resources and concurrency, its searcher (and PBT/PB2 scheduler) seeded by the seed.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

from hwk4tune.space import Space
from hwk4tune.spec import CompareSpec, SweepSpec
from hwk4tune.store.records import ComparisonRecord, PlannedRun, now
from hwk4tune.sweep.saved import space_record


@dataclass(frozen=True)
class RunPlan:
    label: str  # the strategy's name in the compare file
    seed: int
    name: str  # the experiment folder under OUT/runs
    sweep: SweepSpec


def _seeded(model: Any, seed: int) -> Any:
    """A searcher or scheduler with its ``seed`` set (models without one, e.g. asha, are unchanged)."""
    return model.model_copy(update={"seed": seed}) if "seed" in type(model).model_fields else model


def run_name(label: str, seed: int) -> str:
    """``<label>-seed<seed>``, the label made safe for a folder name."""
    safe = re.sub(r"[^A-Za-z0-9._+-]+", "_", label).strip("_") or "strategy"
    return f"{safe}-seed{seed}"


def sweep_for(spec: CompareSpec, label: str, seed: int, storage: str | None = None) -> SweepSpec:
    """The sweep of one (strategy, seed): the comparison's budget, resources and concurrency."""
    s = spec.strategies[label]
    # every trial of a run starts from the run's seed (unless the space fixes one): weights and batch order
    # then differ between strategies only through their configurations, and a run can be repeated
    tree = spec.space.space.tree
    params = spec.space.space if "seed" in tree else Space({**tree, "seed": seed})
    space = spec.space.model_copy(update={"max_epochs": spec.max_epochs, "space": params})
    return SweepSpec(
        space=space,
        searcher=_seeded(s.searcher, seed),
        scheduler=_seeded(s.scheduler, seed),
        num_samples=spec.budget.num_samples,
        max_concurrent_trials=spec.max_concurrent_trials,
        resources_per_trial=spec.resources_per_trial,
        name=run_name(label, seed),
        label=label,
        storage=storage,
        source=spec.source,
    )


def plan(spec: CompareSpec, storage: str | None = None) -> list[RunPlan]:
    """Every (strategy, seed) pair, strategies in file order, seeds inner."""
    return [RunPlan(label, seed, run_name(label, seed), sweep_for(spec, label, seed, storage))
            for label, seed in itertools.product(spec.strategies, spec.seeds)]


def plan_record(spec: CompareSpec, runs: list[RunPlan]) -> ComparisonRecord:
    """What ``comparison.json`` holds; ``definition`` must match for ``--resume`` to continue."""
    definition = {
        "space": space_record(spec.space),
        "budget": {"num_samples": spec.budget.num_samples, "max_epochs": spec.max_epochs},
        "strategies": {k: v.model_dump(mode="json") for k, v in spec.strategies.items()},
        "resources_per_trial": spec.resources_per_trial.model_dump(mode="json"),
        "max_concurrent_trials": spec.max_concurrent_trials,
    }
    if spec.reference_point is not None:  # several objectives: the hypervolume's reference
        definition["reference_point"] = dict(spec.reference_point)
    if spec.replay is not None:  # a replay: its table and speed are part of what --resume must match
        definition["replay"] = {"table": str(spec.replay)}
    return ComparisonRecord(
        compare_file=str(spec.source.resolve()) if spec.source else None,
        name=spec.name,
        metric=spec.space.metric,
        mode=spec.space.mode,
        target=spec.target,
        seeds=list(spec.seeds),
        runs=[PlannedRun(label=r.label, seed=r.seed, name=r.name) for r in runs],
        definition=definition,
        created=now(),
    )
