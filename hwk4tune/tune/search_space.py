"""Space parameters (:mod:`hwk4tune.space`) as Ray Tune domains: the one place the YAML DSL meets Ray Tune.

:mod:`hwk4tune.space` parses and checks the DSL without Ray; this module turns its value objects into
``ray.tune`` domains (a searcher's input, PBT's mutations) and a whole unconditional space into a Tuner's
``param_space``.

Integer ranges include BOTH bounds in the DSL (``randint: [1, 3]`` draws 1, 2 or 3), while Ray's
``tune.randint`` and ``tune.lograndint`` exclude the upper bound: :func:`tune_domain` adds one.
"""

from __future__ import annotations

from ray import tune

from hwk4tune.space import Categorical, FloatRange, IntRange, Normal, Param, Space, nest

__all__ = ["tune_domain", "tune_param_space"]


def _float_domain(param: FloatRange):
    """uniform, loguniform, quniform, qloguniform."""
    if param.q is None:
        return (tune.loguniform if param.log else tune.uniform)(param.low, param.high)
    return (tune.qloguniform if param.log else tune.quniform)(param.low, param.high, param.q)


def _int_domain(param: IntRange):
    """randint, qrandint, lograndint, both bounds included."""
    if param.q is not None:
        return tune.qrandint(param.low, param.high, param.q)  # Ray includes the upper bound already
    return (tune.lograndint if param.log else tune.randint)(param.low, param.high + 1)  # Ray excludes it


def tune_domain(param: Param):
    """The Ray Tune domain of one parameter (a ``grid`` is ``tune.grid_search``, a ``choice`` ``tune.choice``;
    an :class:`~hwk4tune.space.EmptyRange` is a one-value choice)."""
    if isinstance(param, Categorical):
        values = list(param.values)
        return tune.grid_search(values) if param.grid else tune.choice(values)
    if isinstance(param, IntRange):
        return _int_domain(param)
    if isinstance(param, FloatRange):
        return _float_domain(param)
    if isinstance(param, Normal):
        return tune.randn(param.mean, param.sd)
    raise TypeError(f"no Ray Tune domain for {type(param).__name__}")


def tune_param_space(space: Space) -> dict:
    """The ``param_space`` for ``ray.tune.Tuner``: parameters become domains, constants stay, nested as written.

    A conditional space has none (Ray's domains cannot leave a key out): its searcher holds the space
    (:func:`hwk4tune.tune.strategies.param_space`)."""
    if space.conditional:
        raise ValueError("a conditional space has no Ray Tune param_space: its searcher holds the space "
                         "(see hwk4tune.tune.strategies.param_space)")
    return nest({n: tune_domain(v) if isinstance(v, Param) else v for n, v in space.items()})
