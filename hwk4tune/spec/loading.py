"""Loading the three kinds of spec file: every rule runs once, here, and every problem keeps its line.

Loading never raises anything but :class:`SpecError`, whose problems each read
``FILE:LINE: key.path: what is wrong``. Paths inside a file resolve relative to that file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ValidationError

from hwk4tune.errors import closest, did_you_mean
from hwk4tune.space import Space, SpaceError
from hwk4tune.spec.errors import Problem, SpecError
from hwk4tune.spec.hyperparameters import space_problems, unknown
from hwk4tune.spec.models import CompareSpec, SpaceSpec, SweepSpec
from hwk4tune.spec.objectives import objectives_problems, reference_problems
from hwk4tune.spec.source import Source, read_value
from hwk4tune.spec.strategies import RAY_RESULT_KEYS, SCHEDULERS, SEARCHERS, names
from hwk4tune.spec.warm_start import resolve_paths, warm_start_problems

_UNION_TAGS = names(SEARCHERS) + names(SCHEDULERS)


# ------------------------------------------------------------------------------------------ errors


def _errors_to_problems(src: Source, model: type[BaseModel], data: dict, exc: ValidationError,
                        prefix: tuple = ()) -> list[Problem]:
    problems = []
    for err in exc.errors():
        path = _real_path(data, err["loc"])
        full = prefix + path
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = unknown(str(path[-1]), _fields_at(model, data, path))
        elif err["type"] == "missing":
            message = "required key is missing"
        elif err["type"] == "union_tag_invalid":
            valid = err.get("ctx", {}).get("expected_tags", "")
            got = err.get("ctx", {}).get("tag", "")
            options = [t.strip().strip("'") for t in valid.split(",")] if valid else []
            message = f"unknown name {got!r}" + did_you_mean(got, options) + f" (valid: {valid})"
            full = full + ("name",)
        elif err["type"] == "union_tag_not_found":
            message = "needs a name, e.g. {name: random}"
        elif err["type"] in ("float_parsing", "int_parsing") and isinstance(err.get("input"), str):
            message += f" (YAML read {err['input']!r} as text: write a number such as 1.0e-4 or 64)"
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
            if part not in _UNION_TAGS:  # a missing key: keep it so the message can name it
                path.append(part)
    return tuple(path)


def _fields_at(model: type[BaseModel] | None, data: Any, path: tuple) -> list[str]:
    """Valid keys at the place of an unknown key (``model`` validated ``data``), at any depth: through nested
    models, ``name:``-tagged unions (the searcher's, the scheduler's), optional fields, lists and mappings of
    models (``strategies: {label: {searcher, scheduler}}``)."""
    node: Any = data
    kind: Any = model
    for part in path[:-1]:
        if kind is None:
            return []
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            field = kind.model_fields.get(part) if isinstance(part, str) else None
            kind = field.annotation if field is not None else None
        else:  # a list or a mapping of models: the item's type
            kind = _item_type(kind)
        node = _child(node, part)
        kind = _model_of(kind, node) or (kind if _item_type(kind) is not None else None)
    found = _model_of(kind, node) if kind is not None else None
    return [f for f in found.model_fields if f != "source"] if found else []


def _child(node: Any, part: Any) -> Any:
    """node[part] where it exists (pydantic's loc may name a key that is not in the data), else None."""
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _item_type(annotation: Any) -> Any:
    """The value type of ``dict[str, X]`` or ``list[X]`` (also inside ``| None``), else None."""
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        origin = get_origin(candidate)
        if origin in (dict, list) and get_args(candidate):
            return get_args(candidate)[-1]
    return None


def _model_of(annotation: Any, node: Any) -> type[BaseModel] | None:
    """The model that ``annotation`` (a model, ``X | None``, a tagged union) validates ``node`` with."""
    if annotation is None or get_origin(annotation) in (dict, list):
        return None
    candidates = (annotation,) if isinstance(annotation, type) else getattr(annotation, "__args__", ())
    for m in candidates:
        if isinstance(m, type) and issubclass(m, BaseModel):
            name_field = m.model_fields.get("name")
            tags = getattr(name_field.annotation, "__args__", ()) if name_field is not None else ()
            if get_origin(name_field.annotation if name_field else None) is not Literal:
                return m  # not a tagged union member (DatasetSpec's name is any data set)
            if isinstance(node, dict) and node.get("name") in tags:
                return m
    return None


# ------------------------------------------------------------------------------------------ overrides


class Overrides(dict):
    """``--set`` values by dotted key, each remembering how it was given on the command line: a problem with
    an overridden value names that (``--set: num_samples=abc: ...``), never the file line the value replaced."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.origins: dict[str, tuple[str, str]] = {}

    def given(self, key: str, value: Any, flag: str = "--set", written: str | None = None) -> None:
        """Set ``key`` to ``value``, as given by ``flag`` (``--set`` with ``KEY=VALUE``; ``--num-samples`` …)."""
        self[key] = value
        self.origins[key] = (flag, written if written is not None else f"{key}={value}")

    def origin(self, key: str) -> tuple[str, str]:
        return self.origins.get(key) or ("--set", f"{key}={self[key]}")


def _as_overrides(overrides: dict[str, Any] | None, renamed: dict[str, str] | None = None) -> Overrides:
    """``overrides`` (a plain dict too) as :class:`Overrides`; ``renamed``: new key -> its key in ``overrides``."""
    out = Overrides()
    source = overrides or {}
    for key, old in (renamed if renamed is not None else {k: k for k in source}).items():
        flag, written = source.origin(old) if isinstance(source, Overrides) else ("--set", f"{old}={source[old]}")
        out.given(key, source[old], flag, written)
    return out


def _written(overrides: Overrides, key: str) -> tuple[str, None, str]:
    """(flag, no line, the item as written): where a problem with an override is reported."""
    flag, written = overrides.origin(key)
    return flag, None, written[:80]


def _attributed(problems: list[Problem], src: Source, overrides: Overrides | None, prefix: tuple = ()) -> list[Problem]:
    """Problems at a key an override set (or inside it) name the override, not the line of ``src`` it replaced."""
    if not overrides:
        return problems
    out = []
    for p in problems:
        for key in overrides:
            dotted = ".".join(str(k) for k in prefix + tuple(key.split(".")))
            if p.file == src.name and (p.key == dotted or p.key.startswith(dotted + ".")):
                p = Problem(*_written(overrides, key), p.message if p.key == dotted else f"{p.key}: {p.message}")
                break
        out.append(p)
    return out


def _apply_overrides(data: dict, overrides: dict[str, Any], fallback: dict | None) -> None:
    """`--set a.b=v`: set in `data` when its first key exists there (or no fallback), else in `fallback`."""
    for dotted, value in overrides.items():
        keys = dotted.split(".")
        target = data if fallback is None or keys[0] in data else fallback
        for key in keys[:-1]:
            if key == "dataset" and isinstance(target.get(key), str):  # `dataset: digits`, the short form
                target[key] = {"name": target[key]}
            target = target.setdefault(key, {})
            if not isinstance(target, dict):
                raise SpecError([Problem("--set", None, dotted, f"{key} is not a mapping")])
        target[keys[-1]] = value


def parse_overrides(items: list[str]) -> Overrides:
    """["num_samples=10", "space.lr=0.01"] -> {"num_samples": 10, "space.lr": 0.01} (values read as YAML)."""
    out = Overrides()
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SpecError([Problem("--set", None, item[:80], "expected KEY=VALUE, e.g. --set num_samples=10")])
        out.given(key.strip(), read_value(value, key.strip()) if value.strip() else None,
                  written=f"{key.strip()}={value.strip()}")
    return out


# ------------------------------------------------------------------------------------------ loading


def _validate(model: type[BaseModel], src: Source, data: dict, prefix: tuple = (), **extra) -> Any:
    try:
        return model.model_validate({**data, **extra})
    except ValidationError as exc:
        raise SpecError(_errors_to_problems(src, model, data, exc, prefix)) from None


def _space_from(src: Source, data: dict, prefix: tuple, overrides: dict | None = None) -> SpaceSpec:
    overrides = _as_overrides(overrides)
    if overrides:
        _apply_overrides(data, overrides, None)
    try:
        return _checked_space(src, data, prefix)
    except SpecError as exc:
        raise SpecError(_attributed(exc.problems, src, overrides, prefix)) from None


def _checked_space(src: Source, data: dict, prefix: tuple) -> SpaceSpec:
    problems = []
    if "space" in data:
        try:
            data = {**data, "space": Space.parse(data["space"])}
        except SpaceError as exc:
            problems.append(src.problem(prefix + tuple(exc.key.split(".")), exc.message))
            data = {**data, "space": Space({})}  # reported once, not again by pydantic
    if data.get("objectives") is not None and ("metric" in data or "mode" in data):  # one or the other
        key = "metric" if "metric" in data else "mode"
        problems.append(src.problem(prefix + (key,), "give either metric/mode or objectives, not both"))
        data = {k: v for k, v in data.items() if k not in ("metric", "mode")}
    dataset = data.get("dataset")
    if isinstance(dataset, str):  # `dataset: digits` is short for `dataset: {name: digits}`
        data = {**data, "dataset": {"name": dataset}}
    elif isinstance(dataset, dict) and isinstance(dataset.get("data_dir"), str):
        data = {**data, "dataset": {**dataset, "data_dir": src.resolve(dataset["data_dir"])}}
    try:
        spec = _validate(SpaceSpec, src, data, prefix, source=src.path)
    except SpecError as exc:
        raise SpecError(problems + exc.problems) from None
    problems += [src.problem(prefix + key, message) for key, message in _trainable_problems(spec)]
    if problems:
        raise SpecError(problems)
    return spec


def _trainable_problems(spec: SpaceSpec) -> list[tuple[tuple, str]]:
    """The space's keys and values against the trainable's typed hyperparameters; the metric it reports."""
    entry = spec.entry
    found = []
    if entry.hyperparameters is not None:
        found += list(space_problems(spec.space.tree, entry.hyperparameters, spec.trainable))
    metrics = [(("objectives", i, "metric"), o.metric) for i, o in enumerate(spec.objectives or [])]
    found += [(_path(k), m) for k, m in objectives_problems(spec.objectives)] if spec.objectives else []
    for key, metric in metrics or [(("metric",), spec.metric)]:
        if entry.reports is not None and metric not in entry.reports + RAY_RESULT_KEYS:
            valid = entry.reports + RAY_RESULT_KEYS
            found.append((key, f"trainable {spec.trainable!r} does not report {metric!r}"
                          f"{did_you_mean(metric, valid)} (valid: {', '.join(valid)})"))
    if spec.stop is not None:
        found += [(_path(key), message) for key, message in spec.stop.problems(spec)]
    return found


def load_space(path: str | Path, overrides: dict[str, Any] | None = None) -> SpaceSpec:
    src = Source(Path(path))
    return _space_from(src, dict(src.data), (), overrides)


def _load_with_space(model: type[BaseModel], path: str | Path, overrides: dict[str, Any] | None) -> Any:
    src = Source(Path(path))
    data = dict(src.data)
    overrides = _as_overrides(overrides)
    fields = set(model.model_fields)
    own = _as_overrides(overrides, {k: k for k in overrides
                                    if k.split(".")[0] in fields and k.split(".")[0] != "space"})
    to_space = _as_overrides(overrides, {k.removeprefix("space.") if k.startswith("space.") and _space_key(k) else k: k
                                         for k in overrides if k not in own})
    space_keys = [k for k in SpaceSpec.model_fields if k != "source"]
    stray = [k for k in to_space if k.split(".")[0] not in space_keys]
    if stray:  # a key of neither the file nor its space: did you mean either's?
        valid = [k for k in model.model_fields if k != "source"] + [k for k in space_keys if k not in fields]
        raise SpecError([Problem(*_written(to_space, k), unknown(k.split(".")[0], valid)) for k in stray])
    if own:
        _apply_overrides(data, own, None)
    try:
        return _with_space(model, src, data, to_space)
    except SpecError as exc:
        raise SpecError(_attributed(exc.problems, src, own)) from None


def _with_space(model: type[BaseModel], src: Source, data: dict, to_space: Overrides) -> Any:
    if "space" not in data:
        raise SpecError([src.problem(("space",), "required key is missing (a path to a space file)")])
    value = data["space"]
    if isinstance(value, str):
        target = src.resolve(value)
        if not target.exists():
            raise SpecError([src.problem(("space",), f"no such file {value!r} (resolved to {target.resolve()}; paths are "
                                         f"relative to the folder of {src.name})")])
        if target.is_dir():
            raise SpecError([src.problem(("space",), f"{value!r} is a folder (resolved to {target}); name a space "
                                         "file in it")])
        space = load_space(target, to_space)
    elif isinstance(value, dict):
        space = _space_from(src, dict(value), ("space",), to_space)
    else:
        raise SpecError([src.problem(("space",), f"expected a path to a space file, got {type(value).__name__}")])
    if isinstance(data.get("storage"), str) and "://" not in data["storage"]:
        data["storage"] = str(src.resolve(data["storage"]))
    if model is SweepSpec:
        resolve_paths(data, src.resolve)
    if model is CompareSpec and isinstance(data.get("replay"), str):
        data["replay"] = str(src.resolve(data["replay"]))
    spec = _validate(model, src, {**data, "space": space}, source=src.path)
    problems = [src.problem(_path(key), message) for key, message in _pairing_problems(spec)]
    if isinstance(spec, CompareSpec) and spec.replay is not None:
        from hwk4tune.replay import table_problems

        problems += [src.problem(("replay",), f"{m} ({spec.replay.name})")
                     for m in table_problems(spec.replay, spec.space, spec.max_epochs)]
    if problems:
        raise SpecError(problems)
    return spec


def _pairing_problems(spec: SweepSpec | CompareSpec) -> list[tuple[str, str]]:
    if isinstance(spec, SweepSpec):
        return spec.pairing.problems() + warm_start_problems(spec)
    return [(f"strategies.{label}.{key}", message) for label in spec.strategies
            for key, message in spec.pairing(label).problems()] + reference_problems(spec.space, spec.reference_point)


def _path(dotted: str) -> tuple:
    return tuple(int(k) if k.isdigit() else k for k in dotted.split("."))


def _space_key(dotted: str) -> bool:
    """`space.lr` names a parameter (inside the space file's `space:`), `space.max_epochs` does not."""
    return dotted.split(".")[1] in SpaceSpec.model_fields


def load_sweep(path: str | Path, overrides: dict[str, Any] | None = None) -> SweepSpec:
    return _load_with_space(SweepSpec, path, overrides)


def load_compare(path: str | Path, overrides: dict[str, Any] | None = None) -> CompareSpec:
    return _load_with_space(CompareSpec, path, overrides)


_KIND_KEYS = ("strategies", "budget", "seeds", "searcher", "scheduler", "num_samples")


def kind_of(data: dict) -> str:
    """Which of the three kinds a file is, from its keys (close misspellings count)."""
    keys = {closest(key, _KIND_KEYS, partial=False) for key in data if isinstance(key, str)}
    if keys & {"strategies", "budget", "seeds"}:
        return "compare"
    if keys & {"searcher", "scheduler", "num_samples"}:
        return "sweep"
    if {"trainable", "dataset", "max_epochs"} & set(data):
        return "space"
    return "sweep" if "space" in data else "space"


def load_any(path: str | Path, overrides: dict[str, Any] | None = None) -> SpaceSpec | SweepSpec | CompareSpec:
    """Load a file of any of the three kinds, told apart by its keys."""
    kind = kind_of(Source(Path(path)).data)
    loader = {"space": load_space, "sweep": load_sweep, "compare": load_compare}[kind]
    return loader(path, overrides)
