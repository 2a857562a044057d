"""``warm_start:`` in a sweep file: earlier experiment folders (or storage URIs) and recorded tables whose
finished trials seed the searcher (see docs/warm_start.md).

Three ways to write it::

    warm_start: runs/mnist-yesterday                       # one source
    warm_start: [runs/a, tables/fashion.parquet]          # several
    warm_start: {from: runs/a, top: 8, mode: evaluate}    # the mapping (from: one path or a list)

``mode: learn`` (the default): every finished earlier trial's config and value are given to the searcher
before its first suggestion. ``mode: evaluate``: the ``top`` best earlier configs are run again first.
Reading the sources and mapping them onto today's space is :mod:`hwk4tune.results.warm_start`; giving
them to Ray's searchers is :mod:`hwk4tune.tune.warm_start`. This module reads no file.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from hwk4tune.spec.base import Strict

# searchers that learn from earlier trials (mode: learn), and how (docs/warm_start.md)
LEARNS = {"optuna": "study.add_trials", "hyperopt": "told each earlier trial", "nevergrad": "tell",
          "random": "skips evaluated configs", "grid": "skips evaluated configs"}
EVALUATE_DEFAULT_TOP = 5


class WarmStart(Strict):
    """Earlier trials that seed this sweep's searcher."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True)

    from_: list[str] = Field(alias="from", min_length=1, description="earlier experiment folders (or s3://… "
                             "URIs) and recorded tables (.parquet); relative to this file")
    mode: Literal["learn", "evaluate"] = Field("learn", description="learn: the searcher is told every earlier "
                                               "trial; evaluate: the top best earlier configs run again first")
    top: int | None = Field(None, gt=0, description=f"only the K best earlier trials (evaluate: default "
                            f"{EVALUATE_DEFAULT_TOP}; learn: default all)")

    @model_validator(mode="before")
    @classmethod
    def _short(cls, data: Any) -> Any:
        """``warm_start: PATH`` and ``warm_start: [PATHS]`` are short for ``{from: ...}``."""
        if isinstance(data, (str, list)):
            return {"from": data}
        return data

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema, handler):
        """The short forms too, so that an editor accepts ``warm_start: PATH`` and ``warm_start: [PATHS]``."""
        full = handler(core_schema)
        return {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}, full]}

    @field_validator("from_", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @property
    def paths(self) -> list[str]:
        return list(self.from_)

    @property
    def top_k(self) -> int | None:
        """How many earlier trials are used (None: all)."""
        return self.top or (EVALUATE_DEFAULT_TOP if self.mode == "evaluate" else None)


def resolve_paths(data: dict, resolve) -> None:
    """Make the relative paths of ``data["warm_start"]`` relative to the sweep file (``resolve(path)``);
    URIs stay as they are. Leaves anything malformed to the model's validation."""
    raw = data.get("warm_start")
    if isinstance(raw, (str, list)):
        raw = {"from": raw}
    if not isinstance(raw, dict) or "from" not in raw:
        return
    paths = raw["from"]
    one = isinstance(paths, str)
    paths = [paths] if one else paths
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        return
    fixed = [p if "://" in p else str(resolve(p)) for p in paths]
    data["warm_start"] = {**raw, "from": fixed[0] if one else fixed}


def warm_start_problems(spec: Any) -> list[tuple[str, str]]:
    """(key, message) for a warm start the sweep's searcher cannot take."""
    ws, searcher = spec.warm_start, spec.searcher
    if ws is None:
        return []
    if ws.mode == "learn" and searcher.name not in LEARNS:
        return [("warm_start.mode", f"searcher {searcher.name} cannot learn from earlier trials here; "
                 f"write mode: evaluate (rerun the best earlier configs first), or use one of {', '.join(LEARNS)}")]
    return []
