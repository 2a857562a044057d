"""Keys of a space: the error that names one, and the one place that joins nested keys with ``/`` (as Ray
flattens configs) and splits them again."""

from __future__ import annotations

from typing import Any

SEP = "/"  # how nested keys are joined in flat configs (Ray's own separator)


class SpaceError(ValueError):
    """A bad parameter; ``key`` is the dotted path inside ``space``."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


def flatten(config: dict, sep: str = SEP, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a/b": 1}: nested groups joined by ``sep``, in order."""
    out: dict[str, Any] = {}
    for name, value in config.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, sep, key + sep))
        else:
            out[key] = value
    return out


def nest(flat: dict[str, Any], sep: str = SEP) -> dict[str, Any]:
    """{"a/b": 1} -> {"a": {"b": 1}}: the inverse of :func:`flatten`."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(sep)
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out
