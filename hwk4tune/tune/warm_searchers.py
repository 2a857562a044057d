"""Searchers that are told earlier trials through Ray's public Searcher interface: the earlier configs are their
first ``points_to_evaluate``, and once the searcher holds its space each is suggested and completed at once
with its earlier value (``suggest`` + ``on_trial_complete``), before Tune asks for the first trial. So HyperOpt
(whose Ray 2.60 wrapper has no ``evaluated_rewards``) and nevergrad (``tell``) learn from them the way they
learn from their own trials; the searcher's own ``points_to_evaluate`` come after them and run as usual.

Imports Ray, HyperOpt and nevergrad: only the builders of :mod:`hwk4tune.tune.strategies` import it.
"""

from __future__ import annotations

from ray.tune.search.hyperopt import HyperOptSearch
from ray.tune.search.nevergrad import NevergradSearch

from hwk4tune.tune.conditional_search import ConditionalHyperOptSearch

__all__ = ["WarmHyperOptSearch", "WarmConditionalHyperOptSearch", "WarmNevergradSearch", "told"]


class _TellsEarlierTrials:
    """Mixin: ``warm_values`` (one per leading point to evaluate) are replayed once the space is set."""

    warm_values: list[float] = []

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        done = super().set_search_properties(metric, mode, config, **spec)
        if done:
            self.tell_earlier_trials()
        return done

    def tell_earlier_trials(self) -> None:
        values, self.warm_values = list(self.warm_values), []
        for i, value in enumerate(values):
            trial_id = f"warm_start_{i}"
            self.suggest(trial_id)  # the i-th point to evaluate: the i-th earlier config
            self.on_trial_complete(trial_id, {self.metric: value})


class WarmHyperOptSearch(_TellsEarlierTrials, HyperOptSearch):
    pass


class WarmConditionalHyperOptSearch(_TellsEarlierTrials, ConditionalHyperOptSearch):
    pass  # holds its space from the start: the builder calls tell_earlier_trials()


class WarmNevergradSearch(_TellsEarlierTrials, NevergradSearch):
    pass


def told(searcher_class: type, values: list[float], **options):
    """``searcher_class(**options)`` that will be told the earlier trials' ``values``; its
    ``points_to_evaluate`` must begin with their configs. A searcher that holds its space is told now."""
    searcher = searcher_class(**options)
    searcher.warm_values = list(values)
    if options.get("metric") and options.get("mode") and getattr(searcher, "domain", None) is not None:
        searcher.tell_earlier_trials()
    return searcher
