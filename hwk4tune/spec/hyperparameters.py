"""Check a space against the typed hyperparameters of its trainable, before anything runs.

Every key under ``space:`` must be a hyperparameter of the trainable (nested groups must be nested models),
and every value a trial could draw must be one the model accepts: a constant, each choice, both ends of a
range. A misspelled name would otherwise tune nothing for hours; a range past a bound would fail trials.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Iterator, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from hwk4tune.errors import did_you_mean
from hwk4tune.space import Categorical, FloatRange, IntRange, Normal, Param

Found = Iterator[tuple[tuple, str]]  # (key path, message)


# what other tools call a key of ours (Ray's and the papers' eta is our reduction_factor): the first guess of
# every "did you mean" about a key
SYNONYMS = {"eta": "reduction_factor", "rf": "reduction_factor", "n_trials": "num_samples",
            "trials": "num_samples", "samples": "num_samples", "epochs": "max_epochs", "max_t": "max_epochs",
            "search_alg": "searcher", "algorithm": "searcher", "search": "searcher"}


def unknown(word: str, valid, what: str = "key", listed_as: str = "valid") -> str:
    """The one message for a name that is not allowed where it stands, at any depth of any file: ``unknown key;
    did you mean 'grace_period'? (valid: name, time_attr, grace_period, ...)``."""
    valid = [v for v in valid if isinstance(v, str)]
    listed = f" ({listed_as}: {', '.join(valid)})" if valid else ""
    return f"unknown {what}{did_you_mean(word, valid, synonyms=SYNONYMS)}{listed}"


def space_problems(tree: dict, model: type[BaseModel], trainable: str, path: tuple = ("space",)) -> Found:
    """Every key and value of ``tree`` (a parsed space) that ``model`` does not take."""
    fields = model.model_fields
    for name, value in tree.items():
        key = path + (name,)
        field = fields.get(name)
        if field is None:
            yield key, unknown(name, fields, f"hyperparameter of trainable {trainable!r}", "it takes")
            continue
        nested = _nested_model(field.annotation)
        if isinstance(value, dict):
            if nested is None:
                yield key, f"{name} is a single hyperparameter of trainable {trainable!r}, not a group"
            else:
                yield from space_problems(value, nested, trainable, key)
            continue
        adapter = TypeAdapter(Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation)
        yield from _value_problems(key, value, adapter, field.annotation, trainable)


def _value_problems(key: tuple, value: Any, adapter: TypeAdapter, annotation: Any, trainable: str) -> Found:
    if isinstance(value, FloatRange) and _is_int_type(annotation):
        yield key, (f"{name_of(key)} is an integer hyperparameter: a {value.kind} range draws fractions; "
                    "use randint, qrandint or lograndint")
        return
    for label, candidate in _candidates(value):
        try:
            adapter.validate_python(candidate)
        except ValidationError as exc:
            rule = exc.errors()[0]["msg"]
            rule = rule[0].lower() + rule[1:]
            what = f"{value.describe()}: {label} " if isinstance(value, Param) else ""
            yield key, f"{what}{candidate!r} is not a value trainable {trainable!r} takes ({rule})"
            return


def _candidates(value: Any) -> list[tuple[str, Any]]:
    """The values a trial could get that decide whether the model takes them."""
    if isinstance(value, Categorical):
        return [("choice", v) for v in value.values]
    if isinstance(value, (FloatRange, IntRange)):
        return [("low", value.low), ("high", value.high)]
    if isinstance(value, Normal):
        return [("mean", value.mean)]
    return [("value", value)]


def _is_int_type(annotation: Any) -> bool:
    args = get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else ()
    return annotation is int or (bool(args) and int in args and float not in args)


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def name_of(key: tuple) -> str:
    return str(key[-1])
