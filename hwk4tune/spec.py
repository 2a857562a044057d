"""The three YAML kinds — space, sweep, compare — as validated pydantic models.

Loading never raises anything but :class:`SpecError`, whose problems each read
``FILE:LINE: key.path: what is wrong`` (the line of the YAML node). Only ``yaml.safe_load`` semantics are
used, so ``!!python/object`` tags are refused. Paths inside a file resolve relative to that file.
No Ray and no torch here.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from hwk4tune.names import (
    CHECKPOINTING_TRAINABLES,
    DATASET_NAMES,
    FIXED_WHILE_TRAINING,
    REPORTED_METRICS,
    TRAINABLE_NAMES,
)
from hwk4tune.space import Param, SpaceError, params, parse_space

# ---------------------------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}"


class SpecError(Exception):
    """One or more problems in spec files; ``str()`` is one line per problem."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# ---------------------------------------------------------------------------------------------- models


# What Tune adds to every result by itself; a time attribute or metric may name these too.
RAY_RESULT_KEYS = ("training_iteration", "time_total_s", "time_this_iter_s", "timestamp")
MONOTONE_RESULT_KEYS = ("training_iteration", "time_total_s", "timestamp")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetSpec(Strict):
    name: str = Field(description=f"one of {', '.join(DATASET_NAMES)}")
    subset: int | None = Field(None, gt=0, description="use only this many training images")
    data_dir: Path | None = Field(None, description="folder holding the data set (relative to this file)")
    val_fraction: float | None = Field(None, gt=0, lt=1, description="fraction of the training pool held out for validation; null: the data set's own validation split where it has one (mnist.pkl.gz), else 0.1")
    seed: int = Field(0, description="seed of the train/validation split")

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        return _one_of(name, DATASET_NAMES, "data set")


class SpaceSpec(Strict):
    """What to tune: a trainable on a data set, the metric, and the search space."""

    trainable: str = Field(description=f"one of {', '.join(TRAINABLE_NAMES)}")
    dataset: DatasetSpec
    metric: str = "val_accuracy"
    mode: Literal["max", "min"] = "max"
    max_epochs: int = Field(gt=0)
    space: dict[str, Any] = Field(description="parameter -> {distribution: [args]} | constant | nested mapping")
    source: SkipJsonSchema[Path | None] = Field(None, exclude=True)

    @field_validator("trainable")
    @classmethod
    def _known(cls, name: str) -> str:
        return _one_of(name, TRAINABLE_NAMES, "trainable")

    @field_validator("metric")
    @classmethod
    def _reported(cls, metric: str) -> str:
        return _one_of(metric, REPORTED_METRICS + RAY_RESULT_KEYS, "metric")

    @property
    def params(self) -> dict[str, Param]:
        return params(self.space)


# Searchers: one model each, told apart by `name`.
class GridSearcher(Strict):
    name: Literal["grid"]


class RandomSearcher(Strict):
    name: Literal["random"]
    seed: int | None = None


class OptunaSearcher(Strict):
    name: Literal["optuna"]
    sampler: Literal["tpe", "gp", "cmaes", "qmc", "random"] = "tpe"
    seed: int | None = None
    points_to_evaluate: list[dict[str, Any]] | None = None
    storage: str | None = Field(None, description="SQLAlchemy URL, e.g. sqlite:///optuna.db")
    study_name: str | None = None

    @model_validator(mode="after")
    def _study_needs_storage(self):
        if self.study_name and not self.storage:
            raise ValueError("study_name only makes sense with storage (an SQLAlchemy URL such as sqlite:///optuna.db)")
        return self


class HyperOptSearcher(Strict):
    name: Literal["hyperopt"]
    seed: int | None = None
    n_initial_points: int = Field(20, gt=0)
    points_to_evaluate: list[dict[str, Any]] | None = None


SearcherSpec = Annotated[
    Union[GridSearcher, RandomSearcher, OptunaSearcher, HyperOptSearcher], Field(discriminator="name")
]
SEARCHER_NAMES = ("grid", "random", "optuna", "hyperopt")


def _time_attr():
    return Field("epoch", description="the reported result that counts time: epoch, training_iteration, time_total_s")


class FifoScheduler(Strict):
    name: Literal["fifo"]


class AshaScheduler(Strict):
    name: Literal["asha"]
    time_attr: str = _time_attr()
    grace_period: int = Field(1, gt=0)
    reduction_factor: float = Field(3, gt=1)
    brackets: int = Field(1, gt=0)


class HyperBandScheduler(Strict):
    name: Literal["hyperband"]
    time_attr: str = _time_attr()
    reduction_factor: float = Field(3, gt=1)


class MedianScheduler(Strict):
    name: Literal["median"]
    time_attr: str = _time_attr()
    grace_period: int = Field(1, ge=0)
    min_samples_required: int = Field(3, gt=0)


class PbtScheduler(Strict):
    name: Literal["pbt"]
    time_attr: str = _time_attr()
    perturbation_interval: int = Field(1, gt=0)
    quantile_fraction: float = Field(0.25, gt=0, le=0.5)
    resample_probability: float = Field(0.25, ge=0, le=1)
    hyperparam_mutations: dict[str, Any] | None = Field(None, description="defaults to the space's parameters")
    seed: int | None = None


class Pb2Scheduler(Strict):
    name: Literal["pb2"]
    time_attr: str = _time_attr()
    perturbation_interval: int = Field(1, gt=0)
    quantile_fraction: float = Field(0.25, gt=0, le=0.5)
    hyperparam_bounds: dict[str, tuple[float, float]] | None = Field(None, description="defaults to the space's ranges")
    seed: int | None = None


SchedulerSpec = Annotated[
    Union[FifoScheduler, AshaScheduler, HyperBandScheduler, MedianScheduler, PbtScheduler, Pb2Scheduler],
    Field(discriminator="name"),
]
SCHEDULER_NAMES = ("fifo", "asha", "hyperband", "median", "pbt", "pb2")


def _named(value: Any) -> Any:
    """`searcher: random` is short for `searcher: {name: random}`."""
    return {"name": value} if isinstance(value, str) else value


class Resources(Strict):
    cpu: float = Field(1, gt=0)
    gpu: float = Field(0, ge=0)


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
    storage: str | None = Field(None, description="folder or URI (s3://, gs://); default ./runs")
    source: SkipJsonSchema[Path | None] = Field(None, exclude=True)

    _named = field_validator("searcher", "scheduler", mode="before")(lambda cls, v: _named(v))


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
    name: str | None = None
    source: SkipJsonSchema[Path | None] = Field(None, exclude=True)

    @property
    def max_epochs(self) -> int:
        return self.budget.max_epochs or self.space.max_epochs


# ---------------------------------------------------------------------------------------------- rules


def pairing_problems(spec: "SweepSpec | CompareSpec") -> list[tuple[tuple, str]]:
    """Every broken pairing rule of a sweep or a comparison, as (key path, message)."""
    if isinstance(spec, SweepSpec):
        pairs = [((), spec.searcher, spec.scheduler)]
    else:
        pairs = [(("strategies", name), s.searcher, s.scheduler) for name, s in spec.strategies.items()]
    found = []
    max_epochs = spec.max_epochs if isinstance(spec, CompareSpec) else spec.space.max_epochs
    for prefix, searcher, scheduler in pairs:
        for key, message in check_pairing(spec.space, searcher, scheduler, max_epochs):
            path = tuple(int(k) if k.isdigit() else k for k in key.split("."))
            found.append((prefix + path, message))
    return found


EPOCH_TIME_ATTRS = ("epoch", "training_iteration")  # time attributes that count epochs
CHECKPOINTING_SCHEDULERS = ("pbt", "pb2", "hyperband")  # exploit or pause/resume through checkpoints


def check_pairing(space: SpaceSpec, searcher: Any, scheduler: Any, max_epochs: int | None = None
                  ) -> list[tuple[str, str]]:
    """Rules spanning searcher, scheduler and space that Ray would only reject at run time.

    Returns (key, message) pairs, key being `searcher` or `scheduler` (dotted deeper where one option is
    at fault); empty when the pairing is valid.
    """
    found: list[tuple[str, str]] = []
    params = space.params
    max_epochs = max_epochs or space.max_epochs
    grid = [n for n, p in params.items() if p.kind == "grid"]
    model_based = searcher.name in ("optuna", "hyperopt")
    if grid and model_based:
        found.append(("searcher",
            f"{searcher.name} cannot search grid parameters ({', '.join(grid)}): use choice instead, "
            "or searcher: grid / random"
        ))
    if searcher.name == "grid" and not grid:
        found.append(("searcher", "grid needs at least one {grid: [...]} parameter in the space"))
    if searcher.name == "optuna":
        normal = [n for n, p in params.items() if p.kind == "normal"]
        if normal:
            found.append(("searcher", f"optuna cannot sample normal distributions ({', '.join(normal)}): "
                          "use uniform, or searcher: hyperopt / random"))
    if model_based and searcher.points_to_evaluate:
        found.extend(_point_problems(params, searcher.points_to_evaluate, searcher.name))
    if scheduler.name in ("pbt", "pb2") and model_based:
        found.append(("scheduler", f"{scheduler.name} picks the next configurations itself and Ray refuses it "
                      f"with a model-based searcher ({searcher.name}): use searcher: random (or grid)"))
    if scheduler.name in ("asha", "hyperband") and scheduler.time_attr not in EPOCH_TIME_ATTRS:
        found.append(("scheduler.time_attr", f"{scheduler.name} stops at max_t = max_epochs, so its time_attr "
                      f"must count epochs ({' or '.join(EPOCH_TIME_ATTRS)}), got {scheduler.time_attr!r}"))
    elif scheduler.name == "asha" and scheduler.grace_period > max_epochs:
        found.append(("scheduler.grace_period", f"asha needs grace_period <= max_epochs, but got "
                      f"(grace_period={scheduler.grace_period}, max_epochs={max_epochs})"))
    if scheduler.name == "pbt" and scheduler.hyperparam_mutations:
        unknown = [k for k in scheduler.hyperparam_mutations if k not in params]
        if unknown:
            found.append(("scheduler.hyperparam_mutations", f"{', '.join(unknown)} not tunable parameters of "
                          f"the space (tunable: {', '.join(params) or 'none'})"))
    if scheduler.name == "pb2":
        bounds = scheduler.hyperparam_bounds
        if bounds:
            bad = [k for k in bounds if k not in params or params[k].bounds is None]
            if bad:
                found.append(("scheduler.hyperparam_bounds", f"{', '.join(bad)} not numeric-range parameters of "
                              f"the space (numeric: {', '.join(n for n, p in params.items() if p.bounds) or 'none'})"))
            flipped = [f"{k}=[{lo}, {hi}]" for k, (lo, hi) in bounds.items() if not lo < hi]
            if flipped:
                found.append(("scheduler.hyperparam_bounds", f"bounds need low < high, got {', '.join(flipped)}"))
        else:
            no_range = [n for n, p in params.items() if p.bounds is None]
            if no_range:
                found.append(("scheduler", (
                    f"pb2 explores continuous ranges only, but {', '.join(no_range)} "
                    "have none (categorical or normal): give hyperparam_bounds for the numeric ones, or use pbt"
                )))
            elif not params:
                found.append(("scheduler", "pb2 needs at least one numeric range parameter in the space"))
    explored = (getattr(scheduler, "hyperparam_mutations", None) or getattr(scheduler, "hyperparam_bounds", None) or {})
    fixed = [k for k in explored if k in FIXED_WHILE_TRAINING]
    if fixed:
        key = "hyperparam_mutations" if scheduler.name == "pbt" else "hyperparam_bounds"
        found.append((f"scheduler.{key}", f"{', '.join(fixed)} cannot change mid-training (a checkpoint of one "
                      f"value does not load under another); {scheduler.name} copies them from the trial it clones"))
    if scheduler.name == "pbt" and not params and not scheduler.hyperparam_mutations:
        found.append(("scheduler", "pbt needs at least one tunable parameter in the space to mutate"))
    found.extend(_trainable_problems(space, searcher, scheduler))
    return found


def _trainable_problems(space: SpaceSpec, searcher: Any, scheduler: Any) -> list[tuple[str, str]]:
    """Rules that need what the trainable reports and whether it checkpoints (see names.py)."""
    found = []
    reported = REPORTED_METRICS + RAY_RESULT_KEYS
    trainable = space.trainable
    time_attr = getattr(scheduler, "time_attr", None)
    if time_attr is not None:
        if time_attr not in reported:
            found.append(("scheduler.time_attr", f"trainable {trainable!r} never reports {time_attr!r}: "
                          "use epoch, training_iteration or time_total_s"))
        elif time_attr not in ("epoch",) + MONOTONE_RESULT_KEYS:
            found.append(("scheduler.time_attr", f"{time_attr!r} does not grow with time: "
                          "use epoch, training_iteration or time_total_s"))
    if scheduler.name in CHECKPOINTING_SCHEDULERS and trainable not in CHECKPOINTING_TRAINABLES:
        found.append(("scheduler", f"{scheduler.name} restores trials from checkpoints, but "
                      f"trainable {trainable!r} saves none: use asha, median or fifo"))
    if searcher.name == "optuna" and searcher.sampler == "cmaes" and not importlib.util.find_spec("cmaes"):
        found.append(("searcher.sampler", "optuna's cmaes sampler needs the package `cmaes` "
                      "(pip install cmaes), or use sampler: tpe / gp"))
    return found


def _point_problems(params: dict[str, Param], points: list[dict], searcher: str) -> list[tuple[str, str]]:
    """Ray's model-based searchers want every tunable parameter, and only those, in each start point."""
    found = []
    for i, point in enumerate(points):
        key = f"searcher.points_to_evaluate.{i}"
        missing = [n for n in params if n not in point]
        unknown = [n for n in point if n not in params]
        if missing or unknown:
            parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
                [f"unknown {', '.join(unknown)}"] if unknown else [])
            found.append((key, f"{searcher} needs each start point to set every tunable parameter and no other: "
                          + "; ".join(parts)))
            continue
        for name, value in point.items():
            p = params[name]
            if p.is_categorical and value not in p.args:
                found.append((f"{key}.{name}", f"{value!r} is not one of the choices {list(p.args)}"))
            elif p.bounds and not (p.bounds[0] <= value <= p.bounds[1]):
                found.append((f"{key}.{name}", f"{value!r} is outside [{p.args[0]}, {p.args[1]}]"))
    return found


def _one_of(name: str, valid: tuple[str, ...], what: str) -> str:
    if name in valid:
        return name
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown {what} {name!r}{hint} (valid: {', '.join(valid)})")


# ---------------------------------------------------------------------------------------------- loading


class _Source:
    """A YAML file's data and the line of every node, by key path."""

    def __init__(self, path: Path, text: str | None = None):
        self.path = path
        self.name = str(path)
        self.lines: dict[tuple, int] = {}
        if text is None:
            if not path.exists():
                raise SpecError([Problem(self.name, None, "(file)", "no such file")])
            if path.is_dir():
                raise SpecError([Problem(self.name, None, "(file)", "is a folder, not a YAML file")])
            text = path.read_text()
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
            self.data = yaml.safe_load(text)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else None
            raise SpecError([Problem(self.name, line, "(yaml)", _yaml_message(exc))]) from None
        except yaml.YAMLError as exc:
            raise SpecError([Problem(self.name, None, "(yaml)", str(exc).splitlines()[0])]) from None
        if node is None or self.data is None:
            raise SpecError([Problem(self.name, 1, "(file)", "is empty; expected a mapping of keys")])
        if not isinstance(self.data, dict):
            raise SpecError(
                [Problem(self.name, node.start_mark.line + 1, "(top)",
                         f"expected a mapping of keys, got a {type(self.data).__name__}")]
            )
        self._index(node, ())

    def _index(self, node: yaml.Node, path: tuple) -> None:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = yaml.safe_load(yaml.serialize(key_node)) if not isinstance(key_node, yaml.ScalarNode) else key_node.value
                self.lines[path + (key,)] = key_node.start_mark.line + 1
                self._index(value_node, path + (key,))
                self.lines[path + (key,)] = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._index(item, path + (i,))

    def line(self, path: tuple) -> int | None:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path)

    def problem(self, path: tuple, message: str) -> Problem:
        return Problem(self.name, self.line(path), ".".join(str(p) for p in path) or "(top)", message)

    def resolve(self, value: str | Path) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else Path(os.path.normpath(self.path.parent / p))


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    text = f"YAML: {exc.problem or exc.context}"
    if "python/" in str(exc):
        text += " (python tags are refused: only plain YAML is read)"
    return text


def _errors_to_problems(src: _Source, model: type[BaseModel], data: dict, exc: ValidationError,
                        prefix: tuple = ()) -> list[Problem]:
    problems = []
    for err in exc.errors():
        path = _real_path(data, err["loc"])
        full = prefix + path
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key" + _suggest(str(path[-1]), _fields_at(model, data, path))
        elif err["type"] == "missing":
            message = "required key is missing"
        elif err["type"] == "union_tag_invalid":
            valid = err.get("ctx", {}).get("expected_tags", "")
            got = err.get("ctx", {}).get("tag", "")
            options = [t.strip().strip("'") for t in valid.split(",")] if valid else []
            message = f"unknown name {got!r}" + _suggest(str(got), options) + f" (valid: {valid})"
            full = full + ("name",)
        elif err["type"] == "union_tag_not_found":
            message = "needs a name, e.g. {name: random}"
        problems.append(src.problem(full, message))
    return problems


def _real_path(data: Any, loc: tuple) -> tuple:
    """Drop pydantic's union tags from a loc, keeping the keys that exist in the YAML data."""
    path: list = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            path.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and not path[-1:] == [part]:
            # a union tag ("optuna") or a missing key: keep a missing key so the message can name it
            if part not in SEARCHER_NAMES + SCHEDULER_NAMES:
                path.append(part)
    return tuple(path)


def _fields_at(model: type[BaseModel] | None, data: Any, path: tuple) -> list[str]:
    """Valid keys at the place of an unknown key (``model`` validated ``data``), for 'did you mean'."""
    node = data
    for part in path[:-1]:
        if model is None:
            return []
        node = node[part] if isinstance(node, (dict, list)) else None
        field = model.model_fields.get(part) if isinstance(part, str) else None
        model = _model_of(field, node)
    return list(model.model_fields) if model else []


def _model_of(field, node) -> type[BaseModel] | None:
    if field is None:
        return None
    annotation = field.annotation
    candidates = getattr(annotation, "__args__", None) or (annotation,)
    for c in candidates:
        inner = getattr(c, "__args__", None)
        for m in (inner or (c,)):
            if isinstance(m, type) and issubclass(m, BaseModel):
                name_field = m.model_fields.get("name")
                if name_field is None or (isinstance(node, dict) and node.get("name") in getattr(name_field.annotation, "__args__", ())):
                    return m
    return None


def _suggest(word: str, options) -> str:
    close = difflib.get_close_matches(word, [o for o in options if o != "source"], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _apply_overrides(data: dict, overrides: dict[str, Any], fallback: dict | None) -> None:
    """`--set a.b=v`: set in `data` when its first key exists there (or no fallback), else in `fallback`."""
    for dotted, value in overrides.items():
        keys = dotted.split(".")
        target = data if fallback is None or keys[0] in data else fallback
        for key in keys[:-1]:
            target = target.setdefault(key, {})
            if not isinstance(target, dict):
                raise SpecError([Problem("--set", None, dotted, f"{key} is not a mapping")])
        target[keys[-1]] = value


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """["num_samples=10", "space.lr=0.01"] -> {"num_samples": 10, "space.lr": 0.01} (values read as YAML)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SpecError([Problem("--set", None, item, "expected KEY=VALUE, e.g. --set num_samples=10")])
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            raise SpecError([Problem("--set", None, key, f"value {value!r} is not valid YAML")]) from None
    return out


def _validate(model: type[BaseModel], src: _Source, data: dict, prefix: tuple = (), **extra) -> Any:
    try:
        return model.model_validate({**data, **extra})
    except ValidationError as exc:
        raise SpecError(_errors_to_problems(src, model, data, exc, prefix)) from None


def _space_from(src: _Source, data: dict, prefix: tuple, overrides: dict | None = None) -> SpaceSpec:
    if overrides:
        _apply_overrides(data, overrides, None)
    problems = []
    raw_space = data.get("space")
    if "space" in data:
        try:
            data = {**data, "space": parse_space(raw_space)}
        except SpaceError as exc:
            problems.append(src.problem(prefix + tuple(exc.key.split(".")), exc.message))
            data = {**data, "space": {}}  # reported once, not again by pydantic
    dataset = data.get("dataset")
    if isinstance(dataset, str):  # `dataset: digits` is short for `dataset: {name: digits}`
        data = {**data, "dataset": {"name": dataset}}
    elif isinstance(dataset, dict) and isinstance(dataset.get("data_dir"), str):
        data = {**data, "dataset": {**dataset, "data_dir": src.resolve(dataset["data_dir"])}}
    try:
        spec = _validate(SpaceSpec, src, data, prefix, source=src.path)
    except SpecError as exc:
        raise SpecError(problems + exc.problems) from None
    if problems:
        raise SpecError(problems)
    return spec


def load_space(path: str | Path, overrides: dict[str, Any] | None = None) -> SpaceSpec:
    src = _Source(Path(path))
    return _space_from(src, dict(src.data), (), overrides)


def _load_with_space(model: type[BaseModel], path: str | Path, overrides: dict[str, Any] | None) -> Any:
    src = _Source(Path(path))
    data = dict(src.data)
    overrides = dict(overrides or {})
    fields = set(model.model_fields)
    own = {k: v for k, v in overrides.items() if k.split(".")[0] in fields and k.split(".")[0] != "space"}
    to_space = {k.removeprefix("space.") if k.startswith("space.") and _space_key(k) else k: v
                for k, v in overrides.items() if k not in own}
    if own:
        _apply_overrides(data, own, None)
    if "space" not in data:
        raise SpecError([src.problem(("space",), "required key is missing (a path to a space file)")])
    value = data["space"]
    if isinstance(value, str):
        space = load_space(src.resolve(value), to_space)
    elif isinstance(value, dict):
        space = _space_from(src, dict(value), ("space",), to_space)
    else:
        raise SpecError([src.problem(("space",), f"expected a path to a space file, got {type(value).__name__}")])
    if isinstance(data.get("storage"), str) and "://" not in data["storage"]:
        data["storage"] = str(src.resolve(data["storage"]))
    spec = _validate(model, src, {**data, "space": space}, source=src.path)
    problems = [src.problem(key, message) for key, message in pairing_problems(spec)]
    if problems:
        raise SpecError(problems)
    return spec


def _space_key(dotted: str) -> bool:
    """`space.lr` names a parameter (inside the space file's `space:`), `space.max_epochs` does not."""
    return dotted.split(".")[1] in SpaceSpec.model_fields


def load_sweep(path: str | Path, overrides: dict[str, Any] | None = None) -> SweepSpec:
    return _load_with_space(SweepSpec, path, overrides)


def load_compare(path: str | Path, overrides: dict[str, Any] | None = None) -> CompareSpec:
    return _load_with_space(CompareSpec, path, overrides)


def kind_of(data: dict) -> str:
    """Which of the three kinds a file is, from its keys (close misspellings count)."""
    keys = {k for key in data if isinstance(key, str) for k in difflib.get_close_matches(key, _KIND_KEYS, n=1)}
    if keys & {"strategies", "budget", "seeds"}:
        return "compare"
    if keys & {"searcher", "scheduler", "num_samples"}:
        return "sweep"
    if {"trainable", "dataset", "max_epochs"} & set(data):
        return "space"
    return "sweep" if "space" in data else "space"


_KIND_KEYS = ("strategies", "budget", "seeds", "searcher", "scheduler", "num_samples")


def load_any(path: str | Path, overrides: dict[str, Any] | None = None) -> SpaceSpec | SweepSpec | CompareSpec:
    """Load a file of any of the three kinds, told apart by its keys."""
    kind = kind_of(_Source(Path(path)).data)
    loader = {"space": load_space, "sweep": load_sweep, "compare": load_compare}[kind]
    return loader(path, overrides)


def json_schema() -> dict:
    """One JSON Schema accepting any of the three kinds (for editors' YAML language servers).

    The schema describes the file as written, shorthands included (`dataset: digits`, `searcher: random`,
    `space: ../search_spaces/x.yaml`), so it is built from thin subclasses of the models.
    """
    from pydantic import TypeAdapter

    SearcherEntry = Union[SearcherSpec, Literal[SEARCHER_NAMES]]  # type: ignore[valid-type]
    SchedulerEntry = Union[SchedulerSpec, Literal[SCHEDULER_NAMES]]  # type: ignore[valid-type]

    class SpaceFile(SpaceSpec):
        dataset: DatasetSpec | str

    class SweepFile(SweepSpec):
        space: str | SpaceFile
        searcher: SearcherEntry
        scheduler: SchedulerEntry = "fifo"

    class StrategyEntry(Strategy):
        searcher: SearcherEntry
        scheduler: SchedulerEntry = "fifo"

    class CompareFile(CompareSpec):
        space: str | SpaceFile
        strategies: dict[str, StrategyEntry]

    schema = TypeAdapter(Union[SpaceFile, SweepFile, CompareFile]).json_schema()
    schema["title"] = "hwk4tune spec file (space, sweep or compare)"
    return schema
