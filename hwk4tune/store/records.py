"""The files hwk4tune leaves on disk: their names, where they live, and a typed record of each.

Layout (one place; every other module asks here)::

    STORAGE/NAME/                 an experiment folder (Ray's own layout, one folder per trial) plus
        hwk4tune.json             ExperimentRecord: what ran (label, searcher, scheduler, seed, budget...)
        sweep.yaml                the resolved sweep, space inlined (``hwk4tune resume`` reads it)
    OUT/                          a comparison folder
        comparison.json           ComparisonRecord: the plan (labels x seeds) and its definition
        runs/<label>-seed<seed>/  one experiment folder per run, plus
            run.json              RunRecord: label, seed, times, status (``done`` once finished)
    best.yaml                     BestConfig: what ``hwk4tune best`` writes and ``hwk4tune train`` reads

Storage is a local folder or a URI. :func:`is_uri` is the one rule: ``scheme://…`` that pyarrow opens
from every node (``s3://``, ``gs://``…) is a URI; ``file://PATH`` is NOT: it is the local folder PATH
(:func:`storage_location` turns it into that path), as are plain paths.

Records are pydantic models with ``extra="forbid"``; reading one that is not valid raises
:class:`RecordError` (one line naming the file). No Ray, no torch.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from hwk4tune.errors import InputError
from hwk4tune.spec import DatasetSpec, dump_yaml
from hwk4tune.store.tune_files import STATE_GLOB

__all__ = [
    "METADATA_FILE", "SPEC_FILE", "JOURNAL_FILE", "RUN_FILE", "PLAN_FILE", "RUNS_DIR", "REPORT_FILE", "BEST_FILE",
    "is_uri", "storage_location", "join", "read_text", "write_text", "is_experiment_dir", "is_comparison_dir",
    "default_storage", "default_name", "default_label", "now", "plain",
    "RecordError", "ExperimentRecord", "RunRecord", "PlannedRun", "ComparisonRecord", "BestTrial", "BestConfig",
    "read_record", "write_record",
]

METADATA_FILE = "hwk4tune.json"
SPEC_FILE = "sweep.yaml"
RUN_FILE = "run.json"
PLAN_FILE = "comparison.json"
RUNS_DIR = "runs"
REPORT_FILE = "report.html"
BEST_FILE = "best.yaml"
JOURNAL_FILE = "optuna.journal"  # the live Optuna mirror of an experiment (one study per run in a comparison)


# ------------------------------------------------------------------------------------------ places


def is_uri(path: str | Path) -> bool:
    """``s3://…``, ``gs://…``: a URI that Ray's storage (pyarrow) opens from every node. ``file://`` is not
    one (it names a local folder), nor is a plain path."""
    scheme, sep, _ = str(path).partition("://")
    return bool(sep) and scheme.lower() != "file" and scheme.isidentifier()


def storage_location(value: str | Path) -> str:
    """A URI as it is; anything else (``file://PATH`` included) as an absolute local path (Ray needs those)."""
    text = str(value)
    if is_uri(text):
        return text
    if text.lower().startswith("file://"):
        text = text[len("file://"):]
    return str(Path(text).expanduser().resolve())


def join(storage: str, name: str) -> str:
    """``STORAGE/NAME`` for a folder or a URI."""
    return f"{storage.rstrip('/')}/{name}" if is_uri(storage) else str(Path(storage) / name)


def write_text(target: str, text: str) -> None:
    """Write a small file into a local folder or a URI (the folder is made)."""
    if is_uri(target):
        import pyarrow.fs

        fs, path = pyarrow.fs.FileSystem.from_uri(target)
        fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        with fs.open_output_stream(path) as f:
            f.write(text.encode())
        return
    path = Path(storage_location(target))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)  # atomic: a killed process never leaves a torn record


def read_text(source: str) -> str:
    if is_uri(source):
        import pyarrow.fs

        fs, path = pyarrow.fs.FileSystem.from_uri(source)
        with fs.open_input_stream(path) as f:
            return f.read().decode()
    return Path(storage_location(source)).read_text()


def is_experiment_dir(path: str | Path) -> bool:
    """A local folder of one experiment: it holds our ``hwk4tune.json`` (written before any trial starts) or
    Tune's ``experiment_state-*.json`` (a plain Ray Tune run)."""
    p = Path(path)
    return p.is_dir() and ((p / METADATA_FILE).is_file() or any(p.glob(STATE_GLOB)))


def is_comparison_dir(path: str | Path) -> bool:
    """A local folder of one comparison: it holds ``comparison.json``."""
    return (Path(path) / PLAN_FILE).is_file()


def default_storage() -> str:
    """``./runs``, absolute (Ray needs absolute paths)."""
    return str(Path("runs").resolve())


def default_name(source: Path | None) -> str:
    """``<sweep file stem>-<YYYYmmdd-HHMMSS>``."""
    stem = source.stem if source else "sweep"
    return f"{stem}-{_dt.datetime.now():%Y%m%d-%H%M%S}"


def default_label(searcher: str, scheduler: str) -> str:
    """The label of a sweep that was given none (a plain ``hwk4tune run``): ``optuna+asha``."""
    return f"{searcher}+{scheduler}"


def now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def plain(value: Any) -> Any:
    """numpy scalars and containers -> plain Python (for YAML and JSON)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    return value


# ------------------------------------------------------------------------------------------ records


class RecordError(InputError, ValueError):
    """A record file that is missing, not JSON/YAML, or not what hwk4tune writes there."""


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _legacy_label(data: Any) -> Any:
    """Files written before labels were kept hold ``strategy`` (the derived ``searcher+scheduler``)."""
    if isinstance(data, dict) and "label" not in data:
        data = dict(data)
        strategy = data.pop("strategy", None)
        names = [(data.get(k) or {}).get("name") if isinstance(data.get(k), dict) else None
                 for k in ("searcher", "scheduler")]
        data["label"] = strategy or (default_label(*names) if all(names) else None)
    return data


class ExperimentRecord(Record):
    """``hwk4tune.json``: what an experiment ran. Analysis reads this, never folder names."""

    kind: Literal["sweep"] = "sweep"
    name: str
    label: str  # the strategy's label in a compare file, else searcher+scheduler
    sweep_file: str | None = None
    space_file: str | None = None
    space: dict[str, Any]  # the space file's content, space in the YAML form (as in sweep.yaml)
    searcher: dict[str, Any]  # the validated searcher (``name`` and its options)
    scheduler: dict[str, Any]
    seed: int | None = None
    num_samples: int
    max_concurrent_trials: int | None = None
    max_epochs: int
    metric: str
    mode: Literal["max", "min"]
    trainable: str
    dataset: DatasetSpec | None = None  # None for an own trainable (file.py:function)
    resources_per_trial: dict[str, float]
    created: str
    hwk4tune_version: str

    _legacy = model_validator(mode="before")(lambda cls, data: _legacy_label(data))


class RunRecord(Record):
    """``run.json`` of one (label, seed) run of a comparison."""

    kind: Literal["compare-run"] = "compare-run"
    label: str
    seed: int
    name: str  # the run's folder under OUT/runs
    budget: dict[str, int | None]
    metric: str
    mode: Literal["max", "min"]
    status: Literal["running", "done"]
    started: str
    started_unix: float
    finished: str | None = None
    finished_unix: float | None = None
    wall_s: float | None = None

    _legacy = model_validator(mode="before")(lambda cls, data: _legacy_label(data))


class PlannedRun(Record):
    label: str
    seed: int
    name: str

    _legacy = model_validator(mode="before")(lambda cls, data: _legacy_label(data))


class ComparisonRecord(Record):
    """``comparison.json``: the plan; ``definition`` must match for ``--resume`` to continue."""

    kind: Literal["compare"] = "compare"
    compare_file: str | None = None
    name: str | None = None
    metric: str
    mode: Literal["max", "min"]
    target: float | None = None
    seeds: list[int]
    runs: list[PlannedRun]
    definition: dict[str, Any]  # space, budget, strategies, resources_per_trial, max_concurrent_trials
    created: str
    resumed: str | None = None

    @property
    def budget(self) -> dict[str, Any]:
        return self.definition.get("budget", {})


class BestTrial(Record):
    value: float
    epoch: int | None
    trial_id: str
    checkpoint: str | None = None  # the best epoch's checkpoint, where Tune kept it


class BestConfig(Record):
    """``best.yaml``: a configuration ``hwk4tune train`` takes as it is (``hwk4tune best`` writes one;
    ``train`` writes its own ``config.yaml`` in the same form, without ``best``)."""

    trainable: str
    dataset: DatasetSpec | None = None
    config: dict[str, Any]  # the hyperparameters (of the best trial at its best epoch)
    metric: str | None = None
    mode: Literal["max", "min"] | None = None
    epochs: int | None = None  # epochs to train (best.yaml: the best epoch)
    best: BestTrial | None = None
    experiment: str | None = None
    label: str | None = None

    _legacy = model_validator(mode="before")(lambda cls, data: _legacy_label(data))
    _dataset_name = field_validator("dataset", mode="before")(
        lambda cls, v: {"name": v} if isinstance(v, str) else v)  # `dataset: digits`

    def to_yaml(self, header: str = "") -> str:
        data = self.model_dump(mode="json", exclude_none=True)
        if self.dataset is not None:
            data["dataset"] = self.dataset.model_dump(mode="json", exclude_none=True)
        if self.best is not None:
            data["best"] = self.best.model_dump(mode="json")  # checkpoint: null says "none kept"
        return header + dump_yaml(data)  # what train's loader reads back as written (trial ids stay text)


def read_record(model: type[Record], path: str | Path) -> Any:
    """Read and validate a JSON (``.json``) or YAML record; :class:`RecordError` names the file."""
    text_path = str(path)
    try:
        text = read_text(text_path)
    except OSError as exc:
        raise RecordError(f"{text_path}: cannot read ({exc.__class__.__name__})") from None
    import yaml

    from hwk4tune.spec.source import load_yaml

    try:
        data = json.loads(text) if text_path.endswith(".json") else load_yaml(text, text_path)
    except (ValueError, yaml.YAMLError) as exc:
        raise RecordError(f"{text_path}: not valid {'JSON' if text_path.endswith('.json') else 'YAML'} "
                          f"({' '.join(str(exc).split())[:200]})") from None
    return validate_record(model, data, text_path)


def validate_record(model: type[Record], data: Any, where: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(k) for k in first["loc"]) or "(file)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise RecordError(f"{where}: {key}: {first['msg']}{more}") from None


def write_record(record: Record, path: str | Path) -> None:
    """A JSON record, atomically (a killed process never leaves a torn file)."""
    write_text(str(path), json.dumps(record.model_dump(mode="json"), indent=2) + "\n")
