"""The three YAML kinds — space, sweep, compare — validated, with located errors (no Ray, no torch).

``load_space``, ``load_sweep``, ``load_compare`` and ``load_any`` return valid models or raise
:class:`SpecError`, one ``FILE:LINE: key.path: what is wrong`` line per problem.
"""

from hwk4tune.spec.errors import Problem, SpecError
from hwk4tune.spec.loading import kind_of, load_any, load_compare, load_space, load_sweep, parse_overrides
from hwk4tune.spec.models import (
    Budget,
    CompareSpec,
    DatasetSpec,
    Resources,
    SchedulerSpec,
    SearcherSpec,
    SpaceSpec,
    Strategy,
    SweepSpec,
)
from hwk4tune.spec.schema import json_schema
from hwk4tune.spec.source import dump_yaml
from hwk4tune.spec.strategies import SCHEDULERS, SEARCHERS, Pairing

__all__ = [
    "Budget", "CompareSpec", "DatasetSpec", "Pairing", "Problem", "Resources", "SCHEDULERS", "SEARCHERS",
    "SchedulerSpec", "SearcherSpec", "SpaceSpec", "SpecError", "Strategy", "SweepSpec", "dump_yaml", "json_schema",
    "kind_of",
    "load_any", "load_compare", "load_space", "load_sweep", "parse_overrides",
]
