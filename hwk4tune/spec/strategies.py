"""Searchers and schedulers as spec models: the registry of each kind, with every fact and rule on the model.
The searcher models live in :mod:`hwk4tune.spec.searchers`, the schedulers here; both registries are here.

Each model declares its facts as class attributes (``model_based``, ``restores_checkpoints``,
``keeps_every_checkpoint``, ``pauses_trials``, ``acts_on_trials``, the ``builder`` that
:mod:`hwk4tune.tune.strategies` imports lazily) and its rules as two methods that see the whole
:class:`Pairing` (space, the other half, budget): ``problems`` (Ray would refuse or break at run time: the
file is refused, each problem with its line) and ``notices`` (legal but wasteful). The loader runs them once.
Adding a searcher or scheduler means adding one model (and listing it in SEARCHERS or SCHEDULERS) and one
builder; nothing else changes. Code that holds only a name (an imported file's draft, a record's label)
asks :func:`searcher_model` / :func:`scheduler_model` for the model and reads the fact there.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from hwk4tune.space import Param, Space, SpaceError
from hwk4tune.spec.base import Strict
from hwk4tune.spec.budgets import asha_notice, hyperband_notice, one_epoch_fix
from hwk4tune.spec.conditional import pb2_problems, pbt_notices, pbt_problems
from hwk4tune.spec.pairing import EPOCH_KEYS, MONOTONE_KEYS, RAY_RESULT_KEYS, Found, Pairing
from hwk4tune.spec.searchers import (
    GridSearcher,
    HyperOptSearcher,
    NevergradSearcher,
    OptunaSearcher,
    RandomSearcher,
    SearcherBase,
)

__all__ = ["Pairing", "Found", "RAY_RESULT_KEYS", "MONOTONE_KEYS", "EPOCH_KEYS", "SEARCHERS", "SCHEDULERS",
           "SearcherBase", "SchedulerBase", "names", "searcher_model", "scheduler_model"]

# the searchers a YAML file may name (their models are in searchers.py)
SEARCHERS: tuple[type[SearcherBase], ...] = (
    GridSearcher, RandomSearcher, OptunaSearcher, HyperOptSearcher, NevergradSearcher)


# ------------------------------------------------------------------------------------------ schedulers


def _time_attr():
    return Field("epoch", description="the reported result that counts time: epoch, training_iteration, time_total_s")


class SchedulerBase(Strict):
    name: str
    builder: ClassVar[str]
    restores_checkpoints: ClassVar[bool] = False  # pauses or clones trials through their checkpoints
    explores_config: ClassVar[bool] = False  # picks new configurations itself (PBT, PB2)
    counts_to_max_epochs: ClassVar[bool] = False  # its max_t is max_epochs, so time_attr must count epochs
    keeps_every_checkpoint: ClassVar[bool] = False  # clones trials from any epoch's checkpoint: keep them all
    pauses_trials: ClassVar[bool] = False  # pauses trials mid-run: a paused trial must not hold a concurrency slot
    acts_on_trials: ClassVar[bool] = True  # stops or clones trials by one metric before max_epochs (fifo never)

    def problems(self, p: Pairing) -> Found:
        found: Found = []
        entry = p.space.entry
        time_attr = getattr(self, "time_attr", None)
        if time_attr is not None:
            reported = (entry.reports or ()) + RAY_RESULT_KEYS
            if entry.reports is not None and time_attr not in reported:
                found.append(("scheduler.time_attr", f"trainable {p.space.trainable!r} never reports {time_attr!r}: "
                              "use epoch, training_iteration or time_total_s"))
            elif self.counts_to_max_epochs and time_attr not in EPOCH_KEYS:
                found.append(("scheduler.time_attr", f"{self.name} stops at max_t = max_epochs, so its time_attr "
                              f"must count epochs ({' or '.join(EPOCH_KEYS)}), got {time_attr!r}"))
            elif time_attr not in MONOTONE_KEYS:
                found.append(("scheduler.time_attr", f"{time_attr!r} does not grow with time: "
                              "use epoch, training_iteration or time_total_s"))
        if self.restores_checkpoints and not entry.checkpoints:
            found.append(("scheduler", f"{self.name} restores trials from checkpoints, but trainable "
                          f"{p.space.trainable!r} saves none: use asha, median or fifo"))
        if self.explores_config and p.searcher.model_based:
            found.append(("scheduler", f"{self.name} picks the next configurations itself and Ray refuses it "
                          f"with a model-based searcher ({p.searcher.name}): use searcher: random (or grid)"))
        return found

    def several_objectives_problems(self) -> Found:
        """Why this scheduler cannot serve the several objectives a space declares (empty: it can)."""
        if not self.acts_on_trials:
            return []
        return [("scheduler", f"{self.name} stops or clones trials by one metric, but the space declares "
                 "objectives: use scheduler: fifo (every trial runs its max_epochs)")]

    def notices(self, p: Pairing) -> list[str]:
        return []

    def _epochs(self) -> bool:
        return getattr(self, "time_attr", "epoch") in EPOCH_KEYS


class FifoScheduler(SchedulerBase):
    name: Literal["fifo"]
    builder: ClassVar[str] = "hwk4tune.tune.strategies:fifo"
    acts_on_trials: ClassVar[bool] = False


class AshaScheduler(SchedulerBase):
    name: Literal["asha"]
    builder: ClassVar[str] = "hwk4tune.tune.strategies:asha"
    counts_to_max_epochs: ClassVar[bool] = True
    time_attr: str = _time_attr()
    grace_period: int = Field(1, gt=0)
    reduction_factor: float = Field(3, gt=1)
    brackets: int = Field(1, gt=0)

    def problems(self, p: Pairing) -> Found:
        found = super().problems(p)
        if not found and self.grace_period > p.max_epochs:
            found.append(("scheduler.grace_period", f"asha needs grace_period <= max_epochs, but got "
                          f"(grace_period={self.grace_period}, max_epochs={p.max_epochs})"))
        return found

    def notices(self, p: Pairing) -> list[str]:
        if not self._epochs():
            return []
        found = asha_notice(p.max_epochs, self.grace_period, self.reduction_factor, self.brackets)
        return [found] if found else []


class HyperBandScheduler(SchedulerBase):
    name: Literal["hyperband"]
    builder: ClassVar[str] = "hwk4tune.tune.strategies:hyperband"
    restores_checkpoints: ClassVar[bool] = True
    pauses_trials: ClassVar[bool] = True  # (hwk4tune.tune.hyperband)
    counts_to_max_epochs: ClassVar[bool] = True
    time_attr: str = _time_attr()
    reduction_factor: float = Field(3, gt=1)

    def notices(self, p: Pairing) -> list[str]:
        if not self._epochs():
            return []
        found = hyperband_notice(p.max_epochs, self.reduction_factor, p.num_samples)
        return [found] if found else []


class MedianScheduler(SchedulerBase):
    name: Literal["median"]
    builder: ClassVar[str] = "hwk4tune.tune.strategies:median"
    time_attr: str = _time_attr()
    grace_period: int = Field(1, ge=0)
    min_samples_required: int = Field(3, gt=0)

    def notices(self, p: Pairing) -> list[str]:
        out = []
        if p.num_samples <= self.min_samples_required:
            lower = (f" or lower min_samples_required to {p.num_samples - 1}" if p.num_samples > 1 else "")
            out.append(f"median stops no trial early: it compares a trial with at least min_samples_required="
                       f"{self.min_samples_required} others, but the sweep has {p.num_samples} trial(s): raise "
                       f"num_samples above {self.min_samples_required}{lower}")
        if self._epochs() and p.max_epochs == 1:
            out.append(f"median stops no trial early: {one_epoch_fix(max(self.grace_period, 1))}")
        elif self._epochs() and self.grace_period >= p.max_epochs:
            out.append(f"median stops no trial early: grace_period={self.grace_period} >= max_epochs="
                       f"{p.max_epochs}: set grace_period below {p.max_epochs}")
        return out


class _PopulationScheduler(SchedulerBase):
    """PBT and PB2: clone the weights of good trials into bad ones and change their configuration."""

    restores_checkpoints: ClassVar[bool] = True
    explores_config: ClassVar[bool] = True
    keeps_every_checkpoint: ClassVar[bool] = True
    explored_key: ClassVar[str]  # the option naming what it explores
    time_attr: str = _time_attr()
    perturbation_interval: int = Field(1, gt=0)
    quantile_fraction: float = Field(0.25, gt=0, le=0.5)
    synch: bool = Field(False, description="wait for the whole population at each perturbation, so every bottom "
                        "trial finds a top trial's checkpoint to clone (slower: the fastest trial waits)")
    seed: int | None = None

    def explored(self) -> dict:
        return {}

    def problems(self, p: Pairing) -> Found:
        found = super().problems(p)
        explored = self.explored()
        fixed = [k for k in explored if k in p.space.entry.fixed_while_training]
        if fixed:
            found.append((f"scheduler.{self.explored_key}", f"{', '.join(fixed)} cannot change mid-training (a checkpoint of one "
                          f"value does not load under another); {self.name} copies them from the trial it clones"))
        return found

    def notices(self, p: Pairing) -> list[str]:
        out = []
        if self._epochs() and p.max_epochs == 1:
            out.append(f"{self.name} perturbs no trial: {one_epoch_fix(self.perturbation_interval)}")
        elif self._epochs() and self.perturbation_interval >= p.max_epochs:
            out.append(f"{self.name} perturbs no trial: perturbation_interval={self.perturbation_interval} but "
                       f"trials last max_epochs={p.max_epochs}, so it never fires before they end: set "
                       f"perturbation_interval below {p.max_epochs} (e.g. {max(1, p.max_epochs // 3)})")
        together = min(p.num_samples, p.max_concurrent_trials or p.num_samples)
        if together < 2:
            out.append(f"{self.name} perturbs no trial: it clones trials that run at the same time, but at most "
                       f"{together} runs at once (num_samples={p.num_samples}, max_concurrent_trials="
                       f"{p.max_concurrent_trials}): run at least 2 (4 or more is better) at the same time")
        return out


class PbtScheduler(_PopulationScheduler):
    name: Literal["pbt"]
    builder: ClassVar[str] = "hwk4tune.tune.strategies:pbt"
    explored_key: ClassVar[str] = "hyperparam_mutations"
    resample_probability: float = Field(0.25, ge=0, le=1)
    hyperparam_mutations: dict[str, Any] | None = Field(None, description="defaults to the space's parameters")

    @field_validator("hyperparam_mutations")
    @classmethod
    def _parse(cls, raw: dict[str, Any] | None) -> dict[str, Any] | None:
        """Written in the space DSL (``{loguniform: [1e-4, 0.1]}``) or as a plain list of values."""
        if raw is None:
            return None
        out = {}
        for name, value in raw.items():
            if isinstance(value, list):
                if not value:
                    raise ValueError(f"{name}: a list of values needs at least one value")
                out[name] = value
                continue
            try:
                parsed = Space.parse({name: value}, "hyperparam_mutations").tree[name]
            except SpaceError as exc:
                raise ValueError(f"{exc.key.removeprefix('hyperparam_mutations.')}: {exc.message}") from None
            if not isinstance(parsed, Param):
                raise ValueError(f"{name}: write a distribution ({{uniform: [low, high]}}) or a list of values, "
                                 f"got {value!r}")
            out[name] = parsed
        return out

    def explored(self) -> dict:
        return self.hyperparam_mutations or {}

    def problems(self, p: Pairing) -> Found:
        found = super().problems(p)
        if self.hyperparam_mutations:
            unknown = [k for k in self.hyperparam_mutations if k not in p.params]
            if unknown:
                found.append(("scheduler.hyperparam_mutations", f"{', '.join(unknown)} not tunable parameters of "
                              f"the space (tunable: {', '.join(p.params) or 'none'})"))
        elif not [n for n in p.params if n not in p.space.entry.fixed_while_training]:
            found.append(("scheduler", "pbt needs at least one tunable parameter in the space that may change "
                          "mid-training, to mutate"))
        return found + pbt_problems(p, self.hyperparam_mutations)

    def notices(self, p: Pairing) -> list[str]:
        return super().notices(p) + pbt_notices(p, self.hyperparam_mutations)


class Pb2Scheduler(_PopulationScheduler):
    name: Literal["pb2"]
    builder: ClassVar[str] = "hwk4tune.tune.strategies:pb2"
    explored_key: ClassVar[str] = "hyperparam_bounds"
    hyperparam_bounds: dict[str, tuple[float, float]] | None = Field(None, description="defaults to the space's ranges")

    @field_validator("hyperparam_bounds")
    @classmethod
    def _ordered(cls, bounds: dict[str, tuple[float, float]] | None):
        flipped = [f"{k}=[{lo}, {hi}]" for k, (lo, hi) in (bounds or {}).items() if not lo < hi]
        if flipped:
            raise ValueError(f"bounds need low < high, got {', '.join(flipped)}")
        return bounds

    def explored(self) -> dict:
        return self.hyperparam_bounds or {}

    def problems(self, p: Pairing) -> Found:
        found = super().problems(p)
        params = p.params
        if self.hyperparam_bounds:
            bad = [k for k in self.hyperparam_bounds if k not in params or params[k].bounds is None]
            if bad:
                found.append(("scheduler.hyperparam_bounds", f"{', '.join(bad)} not numeric-range parameters of "
                              f"the space (numeric: {', '.join(n for n, q in params.items() if q.bounds) or 'none'})"))
        else:
            no_range = [n for n, q in params.items() if q.bounds is None]
            if no_range:
                found.append(("scheduler", f"pb2 explores continuous ranges only, but {', '.join(no_range)} have "
                              "none (categorical or normal): give hyperparam_bounds for the numeric ones, or use pbt"))
            elif not params:
                found.append(("scheduler", "pb2 needs at least one numeric range parameter in the space"))
        return found + pb2_problems(p, self.hyperparam_bounds)


SCHEDULERS: tuple[type[SchedulerBase], ...] = (
    FifoScheduler, AshaScheduler, HyperBandScheduler, MedianScheduler, PbtScheduler, Pb2Scheduler)


def names(models: tuple[type, ...]) -> tuple[str, ...]:
    """The YAML names of registered models (their ``name: Literal[...]``)."""
    return tuple(m.model_fields["name"].annotation.__args__[0] for m in models)


def searcher_model(name: str) -> type[SearcherBase]:
    """The searcher model a name means, for its facts where only the name is at hand (KeyError: none)."""
    return dict(zip(names(SEARCHERS), SEARCHERS))[name]


def scheduler_model(name: str) -> type[SchedulerBase]:
    """The scheduler model a name means, for its facts where only the name is at hand (KeyError: none)."""
    return dict(zip(names(SCHEDULERS), SCHEDULERS))[name]
