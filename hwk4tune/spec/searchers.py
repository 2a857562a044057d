"""Searchers as spec models, each with its facts (``model_based``, ``builder``, ``several_objectives``,
``conditional_spaces``, ``samples_normal``, ...) and its rules on a :class:`~hwk4tune.spec.pairing.Pairing`
(``problems``: the file is refused; ``notices``: legal but wasteful). Optuna's samplers are listed once, with
their facts, in :data:`OPTUNA_SAMPLERS`. The registry tuple ``SEARCHERS`` is in :mod:`hwk4tune.spec.strategies`.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from hwk4tune.errors import did_you_mean
from hwk4tune.spec.base import Strict
from hwk4tune.spec.conditional import point_problems
from hwk4tune.spec.pairing import Found, Pairing


class SearcherBase(Strict):
    name: str
    model_based: ClassVar[bool] = False  # learns from results: no grid parameters, no PBT/PB2
    builder: ClassVar[str] = "hwk4tune.tune.strategies:basic_variant"
    several_objectives: ClassVar[bool] = False  # may search several objectives (random and grid never look)
    conditional_spaces: ClassVar[bool] = True  # may search parameters with when:
    samples_normal: ClassVar[bool] = True  # may draw from {normal: [mean, sd]}
    needs_grid: ClassVar[bool] = False  # draws every combination of the grid parameters, once per num_samples
    holds_space_with_objectives: ClassVar[bool] = False  # given the space itself when there are objectives

    def problems(self, p: Pairing) -> Found:
        grid = [n for n, q in p.params.items() if q.kind == "grid"]
        found: Found = []
        if grid and self.model_based:
            found.append(("searcher", f"{self.name} cannot search grid parameters ({', '.join(grid)}): use choice "
                          "instead, or searcher: grid / random"))
        points = getattr(self, "points_to_evaluate", None)
        if points:
            found.extend(point_problems(p.params, p.space.space, points, self.name))
        return found + self._normal_problems(p) + self._conditional_problems(p)

    def _normal_problems(self, p: Pairing) -> Found:
        normal = [n for n, q in p.params.items() if q.kind == "normal"]
        if not normal or self.samples_normal:
            return []
        return [("searcher", f"{self.name} cannot sample normal distributions ({', '.join(normal)}): use uniform, "
                 "or searcher: hyperopt / random")]

    def _conditional_problems(self, p: Pairing) -> Found:
        if self.conditional_spaces:
            return []
        required = getattr(p.space.space, "requirements", None) or {}  # conditioned leaves, groups' included
        conditional = [n for n, q in p.params.items() if n in required or getattr(q, "when", None)]
        if not conditional:
            return []
        return [("searcher", f"{self.name} cannot search conditional parameters ({', '.join(conditional)}, "
                 "with when:): use searcher: random, optuna or hyperopt")]

    def several_objectives_problems(self) -> Found:
        """Why this searcher cannot search the several objectives a space declares (empty: it can)."""
        if self.several_objectives:
            return []
        return [("searcher", f"{self.name} optimizes one metric, but the space declares objectives: use searcher: "
                 "optuna (sampler: nsga2 or tpe), random or grid")]

    def notices(self, p: Pairing) -> list[str]:
        return []


class GridSearcher(SearcherBase):
    name: Literal["grid"]
    several_objectives: ClassVar[bool] = True
    needs_grid: ClassVar[bool] = True

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
    several_objectives: ClassVar[bool] = True
    seed: int | None = None


NSGA2_OPTIONS = ("population_size", "mutation_prob", "crossover_prob")
NSGA2_POPULATION = 50  # optuna's default population_size


@dataclass(frozen=True)
class OptunaSampler:
    """One of Optuna's samplers, as ``sampler:`` names it: what building it and judging a sweep need to know."""

    optuna_class: str  # its class in optuna.samplers
    several_objectives: bool = True  # has a multi-objective mode
    random_trials: int = 0  # the first trials it draws at random before it learns
    population: int | None = None  # genetic: configurations per generation (optuna's default)
    options: tuple[str, ...] = ()  # searcher options that only this sampler takes
    needs_package: str | None = None  # a package optuna imports for it
    categorical_at_random: bool = False  # draws categorical parameters at random
    holds_lock: bool = False  # holds a threading lock, which Ray cannot pickle as it is


# the samplers a file may name, and their facts
OPTUNA_SAMPLERS: dict[str, OptunaSampler] = {
    "tpe": OptunaSampler("TPESampler", random_trials=10),
    "gp": OptunaSampler("GPSampler", random_trials=10),
    "cmaes": OptunaSampler("CmaEsSampler", several_objectives=False, needs_package="cmaes",
                           categorical_at_random=True),
    "qmc": OptunaSampler("QMCSampler"),
    "random": OptunaSampler("RandomSampler"),
    "nsga2": OptunaSampler("NSGAIISampler", population=NSGA2_POPULATION, options=NSGA2_OPTIONS, holds_lock=True),
}


class OptunaSearcher(SearcherBase):
    name: Literal["optuna"]
    model_based: ClassVar[bool] = True
    builder: ClassVar[str] = "hwk4tune.tune.strategies:optuna"
    several_objectives: ClassVar[bool] = True  # with a sampler that has a multi-objective mode
    samples_normal: ClassVar[bool] = False
    holds_space_with_objectives: ClassVar[bool] = True  # Ray's OptunaSearch takes metric and mode lists
    sampler: Literal[tuple(OPTUNA_SAMPLERS)] = "tpe"  # type: ignore[valid-type]
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

    @property
    def sampler_facts(self) -> OptunaSampler:
        return OPTUNA_SAMPLERS[self.sampler]

    def sampler_options(self) -> dict[str, Any]:
        """The options given for this sampler (the spec refuses those of another sampler)."""
        return {k: getattr(self, k) for k in self.sampler_facts.options if getattr(self, k) is not None}

    def problems(self, p: Pairing) -> Found:
        found = super().problems(p)
        if self.study_name and not self.storage:
            found.append(("searcher.study_name", "study_name only makes sense with storage (an SQLAlchemy URL "
                          "such as sqlite:///optuna.db)"))
        found += [(f"searcher.{k}", f"{k} is an option of sampler: {' / '.join(_samplers_taking(k))} only (the "
                   f"genetic algorithm), got sampler: {self.sampler}")
                  for k in NSGA2_OPTIONS if k not in self.sampler_facts.options and getattr(self, k) is not None]
        package = self.sampler_facts.needs_package
        if package and not importlib.util.find_spec(package):
            found.append(("searcher.sampler", f"optuna's {self.sampler} sampler needs the package `{package}` "
                          f"(pip install {package}), or use sampler: tpe / gp"))
        return found

    def several_objectives_problems(self) -> Found:
        if self.sampler_facts.several_objectives:
            return []
        several = [name for name, facts in OPTUNA_SAMPLERS.items() if facts.several_objectives]
        return [("searcher.sampler", f"optuna's {self.sampler} sampler optimizes one objective, but the space "
                 f"declares objectives: use sampler: {' / '.join(several)}")]

    def notices(self, p: Pairing) -> list[str]:
        out = []
        facts = self.sampler_facts
        if facts.random_trials and p.num_samples <= facts.random_trials:
            out.append(f"optuna's {self.sampler} sampler draws its first {facts.random_trials} trials at random: "
                       f"with num_samples={p.num_samples} this is random search")
        if facts.population:
            out += _population_notices(f"optuna's {self.sampler} sampler", self.population_size or facts.population,
                                       "population_size", p)
        if any(q.kind == "qloguniform" for q in p.params.values()):
            out.append("optuna ignores the quantization of qloguniform parameters")
        if facts.categorical_at_random and any(q.is_categorical for q in p.params.values()):
            out.append(f"optuna's {self.sampler} sampler draws categorical parameters at random")
        return out


def _samplers_taking(option: str) -> list[str]:
    return [name for name, facts in OPTUNA_SAMPLERS.items() if option in facts.options]


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
    conditional_spaces: ClassVar[bool] = False
    samples_normal: ClassVar[bool] = False  # Ray would drop the mean and sd
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
            raise ValueError(f"unknown nevergrad optimizer {name!r}{did_you_mean(name, NEVERGRAD_OPTIMIZERS)} "
                             f"(valid: {', '.join(NEVERGRAD_OPTIMIZERS)})")
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
