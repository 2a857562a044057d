"""The three YAML kinds — space, sweep, compare — as validated pydantic models (no Ray, no torch).

Rules spanning several parts of a file (a space against its trainable's hyperparameters, a searcher
against a scheduler) run once, in :mod:`hwk4tune.spec.loading`, where each problem keeps its line; a model
returned by a loader is valid.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from hwk4tune.registry import (
    DATASETS,
    TRAINABLES,
    TrainableEntry,
    absolute_trainable,
    dataset_entry,
    is_own_trainable,
    trainable_entry,
)
from hwk4tune.space import Param, Space
from hwk4tune.spec.base import Strict
from hwk4tune.spec.objectives import Objective
from hwk4tune.spec.stopping import StopSpec
from hwk4tune.spec.strategies import SCHEDULERS, SEARCHERS, FifoScheduler, Pairing, SchedulerBase, SearcherBase
from hwk4tune.spec.warm_start import WarmStart

SearcherSpec = Annotated[Union[SEARCHERS], Field(discriminator="name")]  # type: ignore[valid-type]
SchedulerSpec = Annotated[Union[SCHEDULERS], Field(discriminator="name")]  # type: ignore[valid-type]


class DatasetSpec(Strict):
    name: str = Field(description=f"one of {', '.join(DATASETS)}")
    subset: int | None = Field(None, gt=0, description="use only this many training images")
    data_dir: Path | None = Field(None, description="folder holding the data set (relative to this file)")
    val_fraction: float | None = Field(None, gt=0, lt=1, description="fraction of the training pool held out "
                                       "for validation; null: the data set's own validation split where it has "
                                       "one (mnist.pkl.gz: 10,000), else 0.1")
    seed: int = Field(0, description="seed of the train/validation split")

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        return dataset_entry(name).name


@functools.lru_cache(maxsize=64)
def _entry(name: str, base_dir: Path | None) -> TrainableEntry:
    return trainable_entry(name, base_dir)


class SpaceSpec(Strict):
    """What to tune: a trainable on a data set, the metric, and the search space."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    # first, so that the trainable's validator can resolve an own trainable's path relative to this file
    source: SkipJsonSchema[Path | None] = Field(None, exclude=True)
    trainable: str = Field(description=f"one of {', '.join(TRAINABLES)}, or your own: file.py:function")
    dataset: DatasetSpec | None = Field(None, description="required by the built-in trainables")
    metric: str = "val_accuracy"
    mode: Literal["max", "min"] = "max"
    objectives: list[Objective] | None = Field(None, description="several metrics instead of metric/mode: "
                                               "[{metric: val_accuracy, mode: max}, {metric: num_params, mode: min}]")
    max_epochs: int = Field(gt=0)
    space: Space = Field(description="parameter -> {distribution: [args]} | constant | nested mapping")
    stop: StopSpec | None = Field(None, description="plateau (per trial), target and time_budget (per sweep)")

    @model_validator(mode="before")
    @classmethod
    def _first_objective(cls, data: Any) -> Any:
        """With ``objectives:``, ``metric``/``mode`` are the first objective's (the loader refuses both, with
        a line; see :mod:`hwk4tune.spec.objectives`)."""
        if isinstance(data, dict) and data.get("objectives") and isinstance(data["objectives"], list):
            first = data["objectives"][0]
            first = first.model_dump() if isinstance(first, Objective) else first
            if isinstance(first, dict):
                own = {k: first[k] for k in ("metric", "mode") if k in first}
                if any(k in data and data[k] != v for k, v in own.items()):  # a dumped model round-trips
                    raise ValueError("give either metric/mode or objectives, not both")
                data = {**data, **own}
        return data

    @property
    def multi_objective(self) -> bool:
        return bool(self.objectives)

    @field_validator("trainable")
    @classmethod
    def _known(cls, name: str, info: ValidationInfo) -> str:
        source = info.data.get("source")
        base_dir = source.parent if source else None
        _entry(name, base_dir)
        return absolute_trainable(name, base_dir) if is_own_trainable(name) else name

    @field_validator("dataset")
    @classmethod
    def _needed(cls, dataset: DatasetSpec | None, info: ValidationInfo) -> DatasetSpec | None:
        name = info.data.get("trainable")
        if dataset is None and name in TRAINABLES:
            raise ValueError(f"trainable {name!r} needs a data set, e.g. dataset: {{name: digits}}")
        return dataset

    @property
    def entry(self) -> TrainableEntry:
        return _entry(self.trainable, self.source.parent if self.source else None)

    @property
    def params(self) -> dict[str, Param]:
        return self.space.params


def _named(value: Any) -> Any:
    """`searcher: random` is short for `searcher: {name: random}`."""
    return {"name": value} if isinstance(value, str) else value


class Resources(Strict):
    cpu: float = Field(1, gt=0)
    gpu: float = Field(0, ge=0)


class BankSpec(Strict):
    """Trial banks (:mod:`hwk4tune.tune.banks`): trials of one model structure trained as one stacked model."""

    size: int = Field(ge=1, le=1024, description="most trials one bank trains at once (one process, one GPU)")


def _unbankable(space: SpaceSpec) -> str | None:
    """Why some trial of ``space`` cannot train in a bank (hwk4tune.learn.bank.bankable), or None.

    A ResNet trains in a bank only as a head on the frozen backbone's cached features. One that trains more
    (layer4, all) or augments its images runs the backbone on every image: a step that keeps a GPU busy alone.
    It is refused rather than trained alone beside the banks: in a banked sweep a trial is a 0.01-CPU member and
    ``resources_per_trial`` is each bank's, so such a trial would have no resources of its own."""
    if space.trainable == "cnn":
        return None
    if space.trainable != "resnet":
        return f"trains the built-in cnn and head-only resnet trainables only, not {space.trainable!r}"
    defaults = TRAINABLES["resnet"].hyperparameters()
    for name, needed in (("finetune", "head"), ("augment", False)):
        value = space.space.tree.get(name, getattr(defaults, name))
        if isinstance(value, Param):
            fits, shown = value.is_categorical and not value.when and set(value.args) == {needed}, value.describe()
        else:
            fits, shown = value == needed, _shown(value) + ("" if name in space.space.tree else ", its default")
        if not fits:
            return (f"a resnet trial trains in a bank only as a head on cached backbone features: the space must "
                    f"fix {name}: {_shown(needed)} (it has {shown}); or leave bank: out")
    return None


def _shown(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


class SweepSpec(Strict):
    """One sweep: a space, a searcher, a scheduler and a budget."""

    space: SpaceSpec
    searcher: SearcherSpec
    scheduler: SchedulerSpec = FifoScheduler(name="fifo")
    num_samples: int = Field(10, gt=0)
    max_concurrent_trials: int | None = Field(None, gt=0)
    resources_per_trial: Resources = Resources()
    max_failures: int = Field(1, ge=0, description="retries of a failing trial")
    reuse_actors: bool = True
    name: str | None = None
    label: str | None = Field(None, description="the strategy's label (a comparison sets it); "
                              "default searcher+scheduler")
    storage: str | None = Field(None, description="folder or URI (s3://, gs://); default ./runs")
    stop: StopSpec | None = Field(None, description="plateau, target, time_budget; wins over the space's, key by key")
    warm_start: WarmStart | None = Field(None, description="earlier experiments or recorded tables that seed the "
                                         "searcher: PATH, [PATHS] or {from: PATHS, top: K, mode: learn|evaluate}")
    bank: BankSpec | None = Field(None, description="{size: N}: trials of one structure (cnn, head-only resnet) "
                                  "train together, N at most in one process; resources_per_trial is then each "
                                  "bank's")
    source: SkipJsonSchema[Path | None] = Field(None, exclude=True)

    _named = field_validator("searcher", "scheduler", mode="before")(lambda cls, v: _named(v))

    @field_validator("bank")
    @classmethod
    def _bank_fits(cls, bank: BankSpec | None, info: ValidationInfo) -> BankSpec | None:
        space = info.data.get("space")
        problem = _unbankable(space) if bank is not None and space is not None else None
        if problem:
            raise ValueError(problem)
        return bank

    @property
    def concurrent_trials(self) -> int | None:
        """Trials running at once: ``max_concurrent_trials``, or with a bank its size (one bank at a time)."""
        if self.max_concurrent_trials is None and self.bank is not None:
            return self.bank.size
        return self.max_concurrent_trials

    @property
    def stopping(self) -> StopSpec | None:
        """The stop rules in force: the space's, with the sweep's keys winning; None when there are none."""
        merged = self.space.stop.merged(self.stop) if self.space.stop else self.stop
        return None if merged is None or merged.empty else merged

    @property
    def strategy_label(self) -> str:
        return self.label or f"{self.searcher.name}+{self.scheduler.name}"

    @property
    def pairing(self) -> Pairing:
        return Pairing(self.space, self.searcher, self.scheduler, self.space.max_epochs, self.num_samples,
                       self.concurrent_trials, self.reuse_actors, self.stop)

    def notices(self) -> list[str]:
        out = self.pairing.notices() + (self.stopping.notices(self.pairing) if self.stopping else [])
        gpu = self.resources_per_trial.gpu
        if self.bank is not None and gpu == 0 and self.space.trainable == "cnn":  # a head-only resnet's pays off
            out.append("bank: without a GPU a bank trains slower than its trials one at a time (measured on 2 CPU "
                       "cores: a bank of 32 at 0.47x one trial's images/s, benchmarks/logs/gpu_throughput_cpu.txt); banks "
                       "pay off on a GPU (resources_per_trial.gpu: 1)")
        if self.bank is not None and 0 < gpu < 1:
            out.append(f"bank: resources_per_trial is each bank's, and a bank of up to {self.bank.size} trials gets "
                       f"gpu: {gpu:g}; one bank trains all its members in one process: give it gpu: 1")
        if not self.reuse_actors:
            out.append("reuse_actors: false starts a new worker process for every trial (about 2 s each on a "
                       "small machine)")
        return out


class Strategy(Strict):
    searcher: SearcherSpec
    scheduler: SchedulerSpec = FifoScheduler(name="fifo")

    _named = field_validator("searcher", "scheduler", mode="before")(lambda cls, v: _named(v))


class Budget(Strict):
    num_samples: int = Field(gt=0)
    max_epochs: int | None = Field(None, gt=0, description="defaults to the space's max_epochs")


class CompareSpec(Strict):
    """Strategies head to head: each strategy x seed gets the same budget."""

    space: SpaceSpec
    budget: Budget
    seeds: list[int] = Field([0], min_length=1)
    strategies: dict[str, Strategy] = Field(min_length=1)
    resources_per_trial: Resources = Resources()
    max_concurrent_trials: int | None = Field(None, gt=0)
    target: float | None = Field(None, description="metric value to reach; default the median final best")
    replay: Path | None = Field(None, description="a table of `hwk4tune record` (relative to this file): every "
                                "trial replays recorded curves instead of training")
    # Before replays ran on a simulated clock, a replayed epoch slept its recorded seconds / speedup. Still
    # accepted so that older compare files load; a notice says it does nothing.
    speedup: float | None = Field(None, gt=0, description="no longer used: a replay runs on a simulated clock")
    reference_point: dict[str, float] | None = Field(None, description="several objectives: the hypervolume's "
                                                     "reference, a value per objective (default: the worst seen)")
    name: str | None = None
    source: SkipJsonSchema[Path | None] = Field(None, exclude=True)

    @property
    def max_epochs(self) -> int:
        return self.budget.max_epochs or self.space.max_epochs

    def pairing(self, label: str) -> Pairing:
        s = self.strategies[label]
        space = self.space
        if self.budget.max_epochs:
            space = space.model_copy(update={"max_epochs": self.budget.max_epochs})
        return Pairing(space, s.searcher, s.scheduler, self.max_epochs, self.budget.num_samples,
                       self.max_concurrent_trials)


__all__ = ["BankSpec", "DatasetSpec", "SpaceSpec", "SweepSpec", "CompareSpec", "Strategy", "Budget", "Resources",
           "SearcherSpec", "SchedulerSpec", "SearcherBase", "SchedulerBase"]
