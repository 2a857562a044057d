"""Searchers as spec models, each with its facts (``model_based``, ``builder``) and its rules on a
:class:`~hwk4tune.spec.pairing.Pairing` (``problems``: the file is refused; ``notices``: legal but wasteful).
The registry tuple ``SEARCHERS`` is in :mod:`hwk4tune.spec.strategies`.
"""

from __future__ import annotations

import importlib.util
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from hwk4tune.spec.base import Strict
from hwk4tune.spec.conditional import point_problems
from hwk4tune.spec.hyperparameters import suggest
from hwk4tune.spec.pairing import Found, Pairing


class SearcherBase(Strict):
    name: str
    model_based: ClassVar[bool] = False  # learns from results: no grid parameters, no PBT/PB2
    builder: ClassVar[str] = "hwk4tune.tune.strategies:basic_variant"

    def problems(self, p: Pairing) -> Found:
        grid = [n for n, q in p.params.items() if q.kind == "grid"]
        found: Found = []
        if grid and self.model_based:
            found.append(("searcher", f"{self.name} cannot search grid parameters ({', '.join(grid)}): use choice "
                          "instead, or searcher: grid / random"))
        points = getattr(self, "points_to_evaluate", None)
        if points:
            found.extend(point_problems(p.params, p.space.space, points, self.name))
        return found

    def notices(self, p: Pairing) -> list[str]:
        return []


class GridSearcher(SearcherBase):
    name: Literal["grid"]

    def problems(self, p: Pairing) -> Found:
        if not any(q.kind == "grid" for q in p.params.values()):
            return [("searcher", "grid needs at least one {grid: [...]} parameter in the space")]
        return super().problems(p)

    def notices(self, p: Pairing) -> list[str]:
        if p.num_samples > 1 and all(q.kind == "grid" for q in p.params.values()):
            if "seed" in p.space.space.constants:
                return [f"num_samples={p.num_samples} repeats the same grid {p.num_samples} times with the same "
                        f"seed: every repeat trains alike; set num_samples: 1, or drop seed from the space"]
            return [f"num_samples={p.num_samples} repeats the same grid {p.num_samples} times (only the seeds differ)"]
        return []


class RandomSearcher(SearcherBase):
    name: Literal["random"]
    seed: int | None = None


NSGA2_OPTIONS = ("population_size", "mutation_prob", "crossover_prob")
NSGA2_POPULATION = 50  # optuna's default population_size


class OptunaSearcher(SearcherBase):
    name: Literal["optuna"]
    model_based: ClassVar[bool] = True
    builder: ClassVar[str] = "hwk4tune.tune.strategies:optuna"
    sampler: Literal["tpe", "gp", "cmaes", "qmc", "random", "nsga2"] = "tpe"
    seed: int | None = None
    points_to_evaluate: list[dict[str, Any]] | None = None
    storage: str | None = Field(None, description="SQLAlchemy URL, e.g. sqlite:///optuna.db")
    study_name: str | None = None
    population_size: int | None = Field(None, ge=2, description="nsga2: configurations per generation "
                                        f"(optuna's default {NSGA2_POPULATION})")
    mutation_prob: float | None = Field(None, ge=0, le=1, description="nsga2: probability that a child's "
                                        "parameter is redrawn at random (default 1 / number of parameters)")
    crossover_prob: float | None = Field(None, ge=0, le=1, description="nsga2: probability that a child mixes "
                                         "two parents rather than copying one (default 0.9)")

    def problems(self, p: Pairing) -> Found:
        found = super().problems(p)
        if self.study_name and not self.storage:
            found.append(("searcher.study_name", "study_name only makes sense with storage (an SQLAlchemy URL "
                          "such as sqlite:///optuna.db)"))
        if self.sampler != "nsga2":
            found += [(f"searcher.{k}", f"{k} is an option of sampler: nsga2 only (the genetic algorithm), got "
                       f"sampler: {self.sampler}") for k in NSGA2_OPTIONS if getattr(self, k) is not None]
        normal = [n for n, q in p.params.items() if q.kind == "normal"]
        if normal:
            found.append(("searcher", f"optuna cannot sample normal distributions ({', '.join(normal)}): "
                          "use uniform, or searcher: hyperopt / random"))
        if self.sampler == "cmaes" and not importlib.util.find_spec("cmaes"):
            found.append(("searcher.sampler", "optuna's cmaes sampler needs the package `cmaes` "
                          "(pip install cmaes), or use sampler: tpe / gp"))
        return found

    def notices(self, p: Pairing) -> list[str]:
        out = []
        if self.sampler in ("tpe", "gp") and p.num_samples <= 10:
            out.append(f"optuna's {self.sampler} sampler draws its first 10 trials at random: with "
                       f"num_samples={p.num_samples} this is random search")
        if self.sampler == "nsga2":
            out += _population_notices("optuna's nsga2 sampler", self.population_size or NSGA2_POPULATION,
                                       "population_size", p)
        if any(q.kind == "qloguniform" for q in p.params.values()):
            out.append("optuna ignores the quantization of qloguniform parameters")
        if self.sampler == "cmaes" and any(q.is_categorical for q in p.params.values()):
            out.append("optuna's cmaes sampler draws categorical parameters at random")
        return out


class HyperOptSearcher(SearcherBase):
    name: Literal["hyperopt"]
    model_based: ClassVar[bool] = True
    builder: ClassVar[str] = "hwk4tune.tune.strategies:hyperopt"
    seed: int | None = None
    n_initial_points: int = Field(20, gt=0)
    points_to_evaluate: list[dict[str, Any]] | None = None

    def notices(self, p: Pairing) -> list[str]:
        if self.n_initial_points >= p.num_samples:
            return [f"hyperopt draws its first n_initial_points={self.n_initial_points} trials at random: with "
                    f"num_samples={p.num_samples} this is random search"]
        return []


# nevergrad's optimizers offered here: particle swarm, differential evolution (genetic), CMA-ES, (1+1)-ES and
# nevergrad's own pick (NGOpt); with the population size nevergrad gives them when popsize is not set
NEVERGRAD_OPTIMIZERS = ("PSO", "RealSpacePSO", "TwoPointsDE", "DE", "CMA", "OnePlusOne", "NGOpt")
NEVERGRAD_POPULATION = {"PSO": 40, "RealSpacePSO": 40, "TwoPointsDE": 30, "DE": 30, "CMA": None}


class NevergradSearcher(SearcherBase):
    """Ray's NevergradSearch: evolutionary and swarm optimizers over a flat space of ranges and choices."""

    name: Literal["nevergrad"]
    model_based: ClassVar[bool] = True
    builder: ClassVar[str] = "hwk4tune.tune.strategies:nevergrad"
    optimizer: Literal[NEVERGRAD_OPTIMIZERS] = Field(  # type: ignore[valid-type]
        "NGOpt", description="PSO / RealSpacePSO (particle swarm), TwoPointsDE / DE (differential evolution), "
        "CMA (CMA-ES), OnePlusOne ((1+1) evolution strategy), NGOpt (nevergrad picks by budget and space)")
    seed: int | None = Field(None, description="seeds nevergrad's generator: the same seed gives the same "
                             "configurations for the same results")
    popsize: int | None = Field(None, ge=2, description="population size of PSO, RealSpacePSO, TwoPointsDE, DE "
                                "and CMA (nevergrad's default: 40 for PSO, 30 for DE)")

    @field_validator("optimizer", mode="before")
    @classmethod
    def _known(cls, name: Any) -> Any:
        if isinstance(name, str) and name not in NEVERGRAD_OPTIMIZERS:
            same = [o for o in NEVERGRAD_OPTIMIZERS if o.lower() == name.lower()]
            hint = f"; did you mean {same[0]!r}?" if same else suggest(name, NEVERGRAD_OPTIMIZERS)
            raise ValueError(f"unknown nevergrad optimizer {name!r}{hint} (valid: {', '.join(NEVERGRAD_OPTIMIZERS)})")
        return name

    @property
    def population(self) -> int | None:
        """Configurations per generation (None: no population, or CMA's own default)."""
        return self.popsize or NEVERGRAD_POPULATION.get(self.optimizer)

    def problems(self, p: Pairing) -> Found:
        found = super().problems(p)
        if self.popsize is not None and self.optimizer not in NEVERGRAD_POPULATION:
            found.append(("searcher.popsize", f"nevergrad's {self.optimizer} keeps no population: popsize is an "
                          f"option of {', '.join(NEVERGRAD_POPULATION)}"))
        normal = [n for n, q in p.params.items() if q.kind == "normal"]
        if normal:
            found.append(("searcher", f"nevergrad cannot sample normal distributions ({', '.join(normal)}): Ray "
                          "would drop their mean and sd; use uniform, or searcher: hyperopt / random"))
        required = getattr(p.space.space, "requirements", None) or {}  # conditioned leaves, groups' included
        conditional = [n for n, q in p.params.items() if n in required or getattr(q, "when", None)]
        if conditional:
            found.append(("searcher", f"nevergrad cannot search conditional parameters ({', '.join(conditional)}, "
                          "with when:): use searcher: random, optuna or hyperopt"))
        return found

    def notices(self, p: Pairing) -> list[str]:
        out = []
        quantized = [n for n, q in p.params.items() if q.kind.startswith("q")]
        if quantized:
            out.append(f"nevergrad ignores the quantization of {', '.join(quantized)} (Ray drops it)")
        if self.population:
            out += _population_notices(f"nevergrad's {self.optimizer}", self.population, "popsize", p)
        return out


def _population_notices(who: str, population: int, key: str, p: Pairing) -> list[str]:
    """A population learns only once its first generation has results; trials beyond it run ahead of them."""
    out = []
    if population >= p.num_samples:
        fix = (f"set searcher.{key} to at most {max(2, p.num_samples // 2)}" if p.num_samples > 2
               else f"raise num_samples above {population}")  # a population is at least 2
        out.append(f"{who} starts from a population of {population} random configurations: with "
                   f"num_samples={p.num_samples} no generation completes, so this is random search ({fix})")
    if p.max_concurrent_trials and p.max_concurrent_trials > population:
        out.append(f"max_concurrent_trials={p.max_concurrent_trials} > {key}={population}: {who} hands out "
                   "members of its population again before their last result is in")
    return out
