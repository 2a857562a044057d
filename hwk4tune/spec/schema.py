"""One JSON Schema for the three kinds of spec file, for editors' YAML language servers."""

from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import ConfigDict, TypeAdapter

from hwk4tune.spec.models import (
    CompareSpec,
    DatasetSpec,
    SchedulerSpec,
    SearcherSpec,
    SpaceSpec,
    Strategy,
    SweepSpec,
)
from hwk4tune.spec.strategies import SCHEDULERS, SEARCHERS, names


def json_schema() -> dict:
    """A schema accepting any of the three kinds.

    It describes the file as written, shorthands included (`dataset: digits`, `searcher: random`,
    `space: ../search_spaces/x.yaml`), so it is built from thin subclasses of the models.
    """
    SearcherEntry = Union[SearcherSpec, Literal[names(SEARCHERS)]]  # type: ignore[valid-type]
    SchedulerEntry = Union[SchedulerSpec, Literal[names(SCHEDULERS)]]  # type: ignore[valid-type]

    class SpaceFile(SpaceSpec):
        model_config = ConfigDict(extra="forbid", title="SpaceFile")
        dataset: DatasetSpec | str | None = None
        space: dict[str, Any]

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
