"""Loading the three kinds of spec file: every rule runs once, here, and every problem keeps its line.

Loading never raises anything but :class:`SpecError`, whose problems each read
``FILE:LINE: key.path: what is wrong``. Paths inside a file resolve relative to that file.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from hwk4tune.space import Space, SpaceError
from hwk4tune.spec.errors import Problem, SpecError
from hwk4tune.spec.hyperparameters import space_problems, suggest
from hwk4tune.spec.models import CompareSpec, SpaceSpec, SweepSpec
from hwk4tune.spec.objectives import objectives_problems, reference_problems
from hwk4tune.spec.source import Source, read_value
from hwk4tune.spec.strategies import RAY_RESULT_KEYS, SCHEDULERS, SEARCHERS, names

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
            message = "unknown key" + suggest(str(path[-1]), _fields_at(model, data, path))
        elif err["type"] == "missing":
            message = "required key is missing"
        elif err["type"] == "union_tag_invalid":
            valid = err.get("ctx", {}).get("expected_tags", "")
            got = err.get("ctx", {}).get("tag", "")
            options = [t.strip().strip("'") for t in valid.split(",")] if valid else []
            message = f"unknown name {got!r}" + suggest(str(got), options) + f" (valid: {valid})"
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
    """Valid keys at the place of an unknown key (``model`` validated ``data``), for 'did you mean'."""
    node = data
    for part in path[:-1]:
        if model is None:
            return []
        node = _child(node, part)
        field = model.model_fields.get(part) if isinstance(part, str) else None
        model = _model_of(field, node)
    return [f for f in model.model_fields if f != "source"] if model else []


def _child(node: Any, part: Any) -> Any:
    """node[part] where it exists (pydantic's loc may name a key that is not in the data), else None."""
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _model_of(field, node) -> type[BaseModel] | None:
    if field is None:
        return None
    annotation = field.annotation
    candidates = getattr(annotation, "__args__", None) or (annotation,)
    for c in candidates:
        for m in (getattr(c, "__args__", None) or (c,)):
            if isinstance(m, type) and issubclass(m, BaseModel):
                name_field = m.model_fields.get("name")
                if name_field is None or (isinstance(node, dict)
                                          and node.get("name") in getattr(name_field.annotation, "__args__", ())):
                    return m
    return None


# ------------------------------------------------------------------------------------------ overrides


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
            raise SpecError([Problem("--set", None, item[:80], "expected KEY=VALUE, e.g. --set num_samples=10")])
        out[key.strip()] = read_value(value, key.strip()) if value.strip() else None
    return out


# ------------------------------------------------------------------------------------------ loading


def _validate(model: type[BaseModel], src: Source, data: dict, prefix: tuple = (), **extra) -> Any:
    try:
        return model.model_validate({**data, **extra})
    except ValidationError as exc:
        raise SpecError(_errors_to_problems(src, model, data, exc, prefix)) from None


def _space_from(src: Source, data: dict, prefix: tuple, overrides: dict | None = None) -> SpaceSpec:
    if overrides:
        _apply_overrides(data, overrides, None)
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
                          f"{suggest(metric, valid)} (valid: {', '.join(valid)})"))
    if spec.stop is not None:
        found += [(_path(key), message) for key, message in spec.stop.problems(spec)]
    return found


def load_space(path: str | Path, overrides: dict[str, Any] | None = None) -> SpaceSpec:
    src = Source(Path(path))
    return _space_from(src, dict(src.data), (), overrides)


def _load_with_space(model: type[BaseModel], path: str | Path, overrides: dict[str, Any] | None) -> Any:
    src = Source(Path(path))
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
        return spec.pairing.problems()
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
    keys = {k for key in data if isinstance(key, str) for k in difflib.get_close_matches(key, _KIND_KEYS, n=1)}
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
