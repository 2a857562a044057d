"""A short, normalized text summary of a validated spec (what `hwk4tune validate` prints)."""

from __future__ import annotations

from hwk4tune.space import Param
from hwk4tune.spec import CompareSpec, SpaceSpec, SweepSpec


def _options(model, skip=("name",)) -> str:
    values = model.model_dump(exclude_none=True, exclude=set(skip))
    return ", ".join(f"{k}={_text(getattr(model, k))}" for k in values)


def _text(value) -> str:
    """A distribution as the DSL describes it (``loguniform(0.001, 0.3)``), not as a dumped dataclass."""
    if isinstance(value, Param):
        return value.describe()
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def strategy_text(searcher, scheduler) -> str:
    """`optuna(sampler=tpe, seed=0) + asha(grace_period=1, ...)`."""
    parts = []
    for model in (searcher, scheduler):
        opts = _options(model)
        parts.append(f"{model.name}({opts})" if opts else model.name)
    return " + ".join(parts)


def _space_lines(space: SpaceSpec) -> list[str]:
    ds = space.dataset
    where = f" on {ds.name}" + (f" (subset {ds.subset})" if ds.subset else "") if ds else ""
    goals = [(o.mode, o.metric) for o in space.objectives] if space.objectives else [(space.mode, space.metric)]
    goal = ", ".join(f"{'maximize' if mode == 'max' else 'minimize'} {metric}" for mode, metric in goals)
    lines = [
        f"  trainable  {space.trainable}{where}",
        f"  {'objectives' if space.objectives else 'objective '} {goal}, up to {space.max_epochs} epochs",
    ]
    # a conditioned parameter sits under the one its `when:` names, indented, its condition after it
    params = [("  " * depth + name, text) for depth, name, text in space.space.describe_tree()]
    width = max((len(name) for name, _ in params), default=0)
    lines += [f"    {name:<{width}}  {text}" for name, text in params]
    return lines


def summarize(spec: SpaceSpec | SweepSpec | CompareSpec, path) -> str:
    if isinstance(spec, SpaceSpec):
        return "\n".join([f"{path}: ok (space)", *_space_lines(spec)])
    if isinstance(spec, SweepSpec):
        res = spec.resources_per_trial
        lines = [
            f"{path}: ok (sweep)",
            f"  strategy   {strategy_text(spec.searcher, spec.scheduler)}",
            f"  budget     {spec.num_samples} trials, {spec.concurrent_trials or 'as many as fit'} at a time,"
            + (f" in banks of up to {spec.bank.size} (one process each), {res.cpu:g} cpu + {res.gpu:g} gpu per bank,"
               if spec.bank else f" {res.cpu:g} cpu + {res.gpu:g} gpu each,") + f" {spec.max_failures} retries",
            f"  space      {spec.space.source}",
            *_space_lines(spec.space),
        ]
        return "\n".join(lines)
    lines = [
        f"{path}: ok (compare)",
        f"  budget     {spec.budget.num_samples} trials x {spec.max_epochs} epochs per run,"
        f" seeds {spec.seeds}",
        *[f"  {name:<10} {strategy_text(s.searcher, s.scheduler)}" for name, s in spec.strategies.items()],
        f"  space      {spec.space.source}",
        *_space_lines(spec.space),
    ]
    return "\n".join(lines)
