"""``objectives:`` in a space file: several metrics at once (accuracy against model size and latency), and
the rules on what may search and schedule them (no Ray).

A space declares either ``metric``/``mode`` (one objective) or ``objectives: [{metric, mode}, ...]`` (two
or more). With objectives, ``SpaceSpec.metric``/``mode`` are the first objective's: what Tune's progress
table sorts by and what checkpoints are kept by. The sweep's result is a Pareto front
(:mod:`hwk4tune.results.pareto`), each trial judged by its last reported epoch.

Who can search several objectives: ``random`` and ``grid`` (they never look at results), and ``optuna``
with a sampler that has a multi-objective mode (TPE, NSGA-II, GP, QMC, random); each searcher model says so
(``several_objectives``, :data:`~hwk4tune.spec.searchers.OPTUNA_SAMPLERS`). Schedulers: ``fifo`` only, since
every other one stops or clones trials by one metric (``acts_on_trials``).
"""

from __future__ import annotations

from typing import Any, Literal

from hwk4tune.spec.base import Strict

Found = list[tuple[str, str]]  # as in spec.pairing, which calls pairing_problems (so no import of it here)

class Objective(Strict):
    metric: str
    mode: Literal["max", "min"]


def objectives_problems(objectives: list[Objective]) -> Found:
    """The list on its own: at least two, each metric once."""
    found: Found = []
    if len(objectives) < 2:
        found.append(("objectives", "needs at least two objectives (for one, write metric: and mode:)"))
    seen: set[str] = set()
    for i, o in enumerate(objectives):
        if o.metric in seen:
            found.append((f"objectives.{i}.metric", f"{o.metric!r} is already an objective"))
        seen.add(o.metric)
    return found


def pairing_problems(p: Any) -> Found:
    """A multi-objective space against its searcher and scheduler (each says whether it can serve several
    objectives); nothing for a single objective."""
    if not getattr(p.space, "objectives", None):
        return []
    return p.searcher.several_objectives_problems() + p.scheduler.several_objectives_problems()


def reference_problems(space: Any, reference: dict[str, float] | None) -> Found:
    """A compare file's ``reference_point``: one value per objective, and only with objectives."""
    if reference is None:
        return []
    if not space.objectives:
        return [("reference_point", "is the hypervolume's reference of a space with objectives:, but this space "
                 f"has one metric ({space.metric})")]
    names = [o.metric for o in space.objectives]
    if sorted(reference) != sorted(names):
        return [("reference_point", f"needs one value per objective ({', '.join(names)}), got "
                 f"{', '.join(reference) or 'none'}")]
    return []
