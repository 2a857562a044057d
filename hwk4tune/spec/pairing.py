"""What a searcher's and a scheduler's rules look at together: the :class:`Pairing`, and the result keys
Ray adds by itself. The models that judge a pairing live in :mod:`hwk4tune.spec.searchers` and
:mod:`hwk4tune.spec.strategies`; this module knows neither (their types are named, not imported).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# What Tune adds to every result by itself; a time attribute or metric may name these too.
RAY_RESULT_KEYS = ("training_iteration", "time_total_s", "time_this_iter_s", "timestamp")
MONOTONE_KEYS = ("epoch", "training_iteration", "time_total_s", "timestamp")
EPOCH_KEYS = ("epoch", "training_iteration")

Found = list[tuple[str, str]]  # (key path under the sweep, message)


@dataclass(frozen=True)
class Pairing:
    """What a searcher's and a scheduler's rules may look at."""

    space: Any  # a SpaceSpec (models.py builds Pairings from its models: typed loosely to keep imports one way)
    searcher: Any  # a searchers.SearcherBase
    scheduler: Any  # a strategies.SchedulerBase
    max_epochs: int
    num_samples: int
    max_concurrent_trials: int | None = None
    reuse_actors: bool = True
    stop: Any = None  # the sweep file's own stop.StopSpec (a space's stop is checked when the space loads)

    @property
    def params(self) -> dict[str, Any]:
        """The space's tunable parameters (space.Param), by dotted name."""
        return self.space.params

    def problems(self) -> Found:
        from hwk4tune.spec.objectives import pairing_problems  # several objectives: who may search them

        own_stop = self.stop.problems(self.space) if self.stop else []
        return self.searcher.problems(self) + self.scheduler.problems(self) + own_stop + pairing_problems(self)

    def notices(self) -> list[str]:
        return self.searcher.notices(self) + self.scheduler.notices(self)
