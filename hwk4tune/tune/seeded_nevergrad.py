"""A nevergrad optimizer factory that seeds the optimizer's generator: Ray's ``NevergradSearch`` builds the
parametrization itself (in ``set_search_properties``) and nevergrad then seeds it from NumPy's global
generator, so without this two sweeps with the same seed would start from different configurations.

Imported only by :func:`hwk4tune.tune.strategies.nevergrad` (it imports nevergrad); a module of its own so that
a saved searcher (Ray pickles it into the experiment folder) unpickles in a fresh process.
"""

from __future__ import annotations

import numpy as np
from nevergrad import families
from nevergrad.optimization import base, registry

# optimizers with a population, built with another size from nevergrad's configured families (the
# registered PSO is ConfPSO(transform="arctan"), TwoPointsDE is DifferentialEvolution(crossover="twopoints"))
_FAMILY = {
    "PSO": lambda n: families.ConfPSO(transform="arctan", popsize=n),
    "RealSpacePSO": lambda n: families.ConfPSO(popsize=n),
    "TwoPointsDE": lambda n: families.DifferentialEvolution(crossover="twopoints", popsize=n),
    "DE": lambda n: families.DifferentialEvolution(popsize=n),
    "CMA": lambda n: families.ParametrizedCMA(popsize=n),
}


def configured(name: str, popsize: int | None = None):
    """nevergrad's optimizer ``name`` (its registry name), with population size ``popsize`` when given."""
    if popsize is None:
        return registry[name]
    if name not in _FAMILY:
        raise ValueError(f"nevergrad's {name} keeps no population: popsize is an option of {', '.join(_FAMILY)}")
    return _FAMILY[name](popsize)


class SeededOptimizer(base.ConfiguredOptimizer):
    """Builds ``inner`` on the parametrization Ray hands over, after seeding that parametrization."""

    def __init__(self, inner, seed: int | None) -> None:  # no super().__init__: nothing of its own to configure
        self._inner = inner
        self._seed = seed
        self.name = f"{getattr(inner, 'name', getattr(inner, '__name__', inner))}(seed={seed})"
        self.no_parallelization = inner.no_parallelization
        self.one_shot = inner.one_shot

    def __call__(self, parametrization, budget: int | None = None, num_workers: int = 1):
        if self._seed is not None:
            parametrization.random_state = np.random.RandomState(self._seed)
        return self._inner(parametrization, budget=budget, num_workers=num_workers)

    def __repr__(self) -> str:
        return self.name
