"""``hwk4tune params TRAINABLE``: the hyperparameters a trainable takes, read from its typed model (name,
type, default, bounds, what it does). Works for the built-ins and for own trainables (``file.py:function``)."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " | ".join(str(a).lower() if isinstance(a, bool) else str(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(annotation))
    if isinstance(annotation, type):
        return "none" if annotation is type(None) else annotation.__name__
    return str(annotation).replace("typing.", "")


def _bounds(metadata: list) -> str:
    words = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
    parts = []
    for m in metadata:
        for attr, sign in words.items():
            value = getattr(m, attr, None)
            if value is not None:
                parts.append(f"{sign} {value:g}" if isinstance(value, float) else f"{sign} {value}")
    return ", ".join(parts)


def rows(model: type[BaseModel], prefix: str = "") -> list[dict[str, str]]:
    """One row per hyperparameter (nested models: ``group.key``)."""
    out = []
    for name, field in model.model_fields.items():
        nested = next((a for a in (typing.get_args(field.annotation) or (field.annotation,))
                       if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if nested is not None:
            out += rows(nested, f"{prefix}{name}.")
            continue
        default = field.get_default(call_default_factory=True)
        out.append({"name": prefix + name, "type": _type_name(field.annotation),
                    "default": "required" if field.is_required() else
                    (str(default).lower() if isinstance(default, bool) or default is None else str(default)),
                    "bounds": _bounds(field.metadata), "description": field.description or ""})
    return out


def params_text(trainable: str, base_dir: Path | None = None) -> str:
    """The table ``hwk4tune params`` prints; an own trainable without a model says how to declare one."""
    from hwk4tune.registry import trainable_entry

    entry = trainable_entry(trainable, base_dir)
    head = [f"{trainable}: {entry.description}".rstrip(": ")]
    if entry.hyperparameters is None:
        return "\n".join(head + ["(no typed hyperparameters: set `train.hyperparameters = MyParams`, a pydantic "
                                 "model, to list and check them; see docs/own_trainable.md)"])
    table = rows(entry.hyperparameters)
    cols = ["name", "type", "default", "bounds", "description"]
    widths = {c: max(len(c), *(len(r[c]) for r in table)) for c in cols[:-1]}
    line = lambda r: "  ".join(r[c].ljust(widths[c]) for c in cols[:-1]) + "  " + r["description"]  # noqa: E731
    fixed = entry.fixed_while_training
    tail = [f"fixed while training (PBT/PB2 never mutate them): {', '.join(fixed)}"] if fixed else []
    return "\n".join(head + [line({c: c for c in cols})] + [line(r) for r in table] + tail)
