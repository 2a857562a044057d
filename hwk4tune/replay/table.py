"""A recorded table: one row per configuration x epoch, and its metadata in the parquet schema.

Columns: ``config_id`` (0..N-1), ``trial_id``, ``epoch`` (1-based), ``config/<name>`` for every key of the
trial's configuration (searched and fixed; nested keys joined with ``/``), then every metric the trial
reported (``val_accuracy``, ``val_loss``, ``train_loss``, ``epoch_seconds``, ...). The schema metadata key
``hwk4tune`` holds JSON: the space file's content (``space``), data set, device, threads, package versions,
the command, the seed, the wall time.

Nearest neighbours: a configuration is placed in ``[0, 1]`` per searched numeric parameter (log scale for log
parameters, ``(x - low) / (high - low)``), one-hot per categorical one, ``-1`` / all zeros where a
conditional parameter is absent; the closest recorded configuration (Euclidean, exact: what scikit-learn's
``NearestNeighbors(algorithm="brute")`` returns, a test checks they agree) wins, ties going to the smallest
``config_id``. It is computed with numpy: each run's trial workers are new processes, and importing
scikit-learn there cost 4.7 s per run on a loaded 2-core machine. A recorded configuration is at distance 0
from itself, so it replays its own curve.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hwk4tune.errors import InputError
from hwk4tune.space import Categorical, FloatRange, IntRange, Normal, Param, Space, flatten

TABLE_KEY = b"hwk4tune"
CONFIG = "config/"
_NOT_REPORTED = ("config_id", "trial_id", "epoch")


class TableError(InputError, ValueError):
    """A file that is not a recorded table; the message is one line naming it."""


def write_table(frame: pd.DataFrame, meta: dict, path: str | Path) -> Path:
    """Write ``frame`` as parquet (zstd) with ``meta`` as JSON under the schema metadata key ``hwk4tune``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), TABLE_KEY: json.dumps(meta).encode()})
    pq.write_table(table, path, compression="zstd")
    return path


def read_meta(path: str | Path) -> dict:
    """The metadata only (reads the footer, not the rows)."""
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except FileNotFoundError:
        raise TableError(f"{path}: no such table") from None
    except Exception as exc:  # noqa: BLE001 - not parquet at all: say so in one line
        raise TableError(f"{path}: not a parquet table ({type(exc).__name__})") from None
    raw = (schema.metadata or {}).get(TABLE_KEY)
    if raw is None:
        raise TableError(f"{path}: a parquet file without hwk4tune metadata (make tables with `hwk4tune record`)")
    return json.loads(raw)


def read_table(path: str | Path) -> "ReplayTable":
    meta = read_meta(path)
    frame = pd.read_parquet(path)
    return ReplayTable(frame, meta, str(path))


def encode(params: dict[str, Param], configs: list[dict]) -> np.ndarray:
    """configs -> ``[n, features]`` (see the module's docstring)."""
    cols = []
    for name, p in params.items():
        values = [c.get(name) for c in configs]
        if isinstance(p, Categorical):
            for v in p.values:
                cols.append([1.0 if _same(x, v) else 0.0 for x in values])
            continue
        cols.append([_unit(p, x) for x in values])
    return np.asarray(cols, dtype=float).T if cols else np.zeros((len(configs), 0))


def _same(x: Any, v: Any) -> bool:
    """Equal values of the same kind (True is not 1 here)."""
    return x is not None and isinstance(x, bool) == isinstance(v, bool) and x == v


def _unit(p: Param, x: Any) -> float:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return -1.0
    x = float(x)
    if isinstance(p, Normal):
        return (x - p.mean) / (4 * p.sd) + 0.5
    low, high = p.bounds
    if getattr(p, "log", False):
        x, low, high = math.log(max(x, 1e-300)), math.log(low), math.log(high)
    return (x - low) / (high - low)


@dataclass
class ReplayTable:
    """A recorded table in memory: curves by configuration and the nearest-neighbour index."""

    frame: pd.DataFrame
    meta: dict
    path: str = ""
    space: Space = field(init=False)
    configs: list[dict] = field(init=False)
    curves: list[list[dict]] = field(init=False)

    def __post_init__(self) -> None:
        self.space = Space.parse(self.meta["space"]["space"])
        f = self.frame.sort_values(["config_id", "epoch"], kind="mergesort")
        config_cols = [c for c in f.columns if c.startswith(CONFIG)]
        metric_cols = [c for c in f.columns if not c.startswith(CONFIG) and c not in _NOT_REPORTED]
        self.configs, self.curves = [], []
        for _cid, g in f.groupby("config_id", sort=True):
            first = g.iloc[0]
            self.configs.append({c[len(CONFIG):]: _plain(first[c]) for c in config_cols})
            self.curves.append([{m: _plain(r[m]) for m in metric_cols} for _, r in g.iterrows()])
        self.points = encode(self.params, self.configs)  # [configs, features]

    @property
    def params(self) -> dict[str, Param]:
        return self.space.params

    @property
    def epochs(self) -> int:
        return int(self.frame["epoch"].max())

    @property
    def metrics(self) -> list[str]:
        return [c for c in self.frame.columns if not c.startswith(CONFIG) and c not in _NOT_REPORTED]

    def nearest(self, config: dict) -> tuple[int, float]:
        """(config_id, distance) of the recorded configuration nearest to ``config`` (nested or flat)."""
        x = encode(self.params, [flatten(config)])  # [1, features]
        dist = np.sqrt(((self.points - x) ** 2).sum(axis=1))  # [configs]
        best = int(np.argmin(dist))  # the first of equal distances: the smallest config_id
        return best, float(dist[best])

    def curve(self, config_id: int) -> list[dict]:
        return self.curves[config_id]


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


# ------------------------------------------------------------------------------------------ what a space may ask


def table_problems(path: str | Path, space_spec: Any, max_epochs: int) -> list[str]:
    """What a compare file's space and budget ask that the table at ``path`` cannot answer, one message each
    (empty: it can). ``space_spec``: a :class:`~hwk4tune.spec.SpaceSpec`."""
    try:
        meta = read_meta(path)
    except TableError as exc:
        return [str(exc)]
    rec = meta["space"]
    out = []
    if space_spec.trainable != rec.get("trainable"):
        out.append(f"the table was recorded with trainable {rec.get('trainable')!r}, the space uses "
                   f"{space_spec.trainable!r}")
    ds = space_spec.dataset.model_dump(mode="json", exclude_none=True) if space_spec.dataset else None
    theirs = _data_identity(rec.get("dataset") or {})
    if ds is not None and _data_identity(ds) != theirs:
        out.append(f"the table was recorded on data set {theirs}, the space asks {ds}")
    if space_spec.metric not in meta.get("metrics", []):
        out.append(f"the table has no metric {space_spec.metric!r} (it has {', '.join(meta.get('metrics', []))})")
    epochs = int(meta.get("epochs", rec.get("max_epochs", 0)))
    if max_epochs > epochs:
        out.append(f"max_epochs {max_epochs} is more than the table's {epochs} recorded epochs")
    table_space = Space.parse(rec["space"])
    theirs_params, theirs_const = table_space.params, dict(table_space.items())
    ours = dict(space_spec.space.items())
    for name, value in ours.items():
        if name == "seed":
            continue
        if name not in theirs_const:
            out.append(f"parameter {name!r} is not in the table (it has {', '.join(theirs_const) or 'none'})")
        elif name in theirs_params:
            out += _inside(name, value, theirs_params[name])
        elif isinstance(value, Param) or value != theirs_const[name]:
            out.append(f"{name!r}: the table was recorded with {name} fixed at {theirs_const[name]!r}, the space "
                       f"asks {value.describe() if isinstance(value, Param) else repr(value)}")
    for name in theirs_params:
        if name not in ours:
            out.append(f"the table varies {name!r}: the space must search it or fix it")
    return out


def _inside(name: str, ours: Any, theirs: Param) -> list[str]:
    where = f"{name!r}: the space asks {ours.describe() if isinstance(ours, Param) else repr(ours)}, the table " \
            f"recorded {theirs.describe()}"
    if not isinstance(ours, Param):
        return [] if theirs.contains(ours) else [where + " (the value lies outside it)"]
    if isinstance(theirs, Categorical):
        if not isinstance(ours, Categorical) or any(not theirs.contains(v) for v in ours.values):
            return [where + " (a value lies outside it)"]
        return []
    if isinstance(ours, (FloatRange, IntRange)) and isinstance(theirs, (FloatRange, IntRange)):
        lo, hi = ours.bounds
        tlo, thi = theirs.bounds
        tol = 1e-9 * max(1.0, abs(thi))
        return [] if lo >= tlo - tol and hi <= thi + tol else [where + " (a range outside the recorded one)"]
    if isinstance(ours, Categorical) and isinstance(theirs, (FloatRange, IntRange)):
        return [] if all(theirs.contains(v) for v in ours.values) else [where + " (a value lies outside it)"]
    return [where + " (another kind of distribution)"]


def _data_identity(dataset: dict) -> dict:
    """What must match between a table's data set and a space's: not the folder, and an unset val_fraction is
    the default 0.1 (tables recorded before val_fraction could be unset say 0.1)."""
    return {k: v for k, v in dataset.items() if k != "data_dir" and not (k == "val_fraction" and v in (None, 0.1))}
