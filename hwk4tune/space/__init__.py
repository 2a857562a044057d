"""The search-space DSL: YAML -> distribution value objects (with ``when:`` conditions) -> what searchers take.

- :mod:`~hwk4tune.space.distributions`: :class:`Param` and its kinds (parse, check, to YAML, contains; Ray Tune domains: :mod:`hwk4tune.tune.search_space`);
- :mod:`~hwk4tune.space.conditions`: ``when:`` as written (:class:`Condition`), resolved and checked
  (:class:`Requirement`);
- :mod:`~hwk4tune.space.tree`: :class:`Space`, the parsed tree, and which leaves a trial gets;
- :mod:`~hwk4tune.space.keys`: :class:`SpaceError`, :func:`flatten` and :func:`nest` (``/`` between levels).

Integer ranges include both bounds (see :mod:`~hwk4tune.space.distributions`). No Ray at import time.
"""

from hwk4tune.space.conditions import Condition, Requirement
from hwk4tune.space.distributions import DISTRIBUTIONS, Categorical, EmptyRange, FloatRange, IntRange, Normal, Param
from hwk4tune.space.keys import SEP, SpaceError, flatten, nest
from hwk4tune.space.tree import Group, Space

__all__ = ["SEP", "DISTRIBUTIONS", "SpaceError", "Param", "FloatRange", "IntRange", "Normal", "Categorical", "EmptyRange",
           "Condition", "Requirement", "Group", "Space", "flatten", "nest"]
