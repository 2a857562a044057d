"""Trials as tables for people and programs: sorting, the columns worth showing, and md / html / csv /
json / parquet output (no dependency on ``tabulate``)."""

from __future__ import annotations

import io
import math
from typing import Any

import pandas as pd

from hwk4tune.registry import metric_mode
from hwk4tune.results.experiment import ResultsError, rank_trials

TABLE_FORMATS = ("md", "csv", "html", "parquet", "json")


def sort_trials(trials: pd.DataFrame, by: str | None, mode: str, metric: str) -> pd.DataFrame:
    """Sort by a column (``best_<metric>`` by default). ``by`` may name a metric (``val_loss`` ->
    ``best_val_loss`` or ``last_val_loss``) and end in ``:asc``/``:desc``; otherwise the direction is the
    experiment's mode for its metric, a metric's own direction (ascending for losses and times), descending for
    the rest. Ties: fewer epochs to the best (for the metric), then the smaller trial id."""
    if trials.empty:
        return trials
    direction = None
    if by and ":" in by:
        by, direction = by.rsplit(":", 1)
        if direction not in ("asc", "desc"):
            raise ResultsError(f"--sort {by}:{direction}: the direction must be asc or desc")
    col = by or f"best_{metric}"
    if col not in trials:
        for candidate in (f"best_{col}", f"last_{col}", f"config/{col}"):
            if candidate in trials:
                col = candidate
                break
        else:
            raise ResultsError(f"cannot sort by {by!r}: no such column (columns: {', '.join(trials.columns)})")
    direction = direction or _direction(col, metric, mode)
    if col == f"best_{metric}":  # ranked as Experiment.ranked: the first row of the default order is the best trial
        return rank_trials(trials, col, "min" if direction == "asc" else "max")
    return trials.sort_values([col, "trial_id"], ascending=[direction == "asc", True], kind="mergesort",
                              na_position="last")


def _direction(col: str, metric: str, mode: str) -> str:
    """Best first: the experiment's mode for its metric, a metric's own direction (lower is better for losses
    and times), ascending for epochs and trial ids, descending for the rest."""
    better = mode if col.endswith(metric) else metric_mode(col.removeprefix("best_").removeprefix("last_"))
    if better == "min" or (better is None and col.endswith(("epoch", "epochs", "trial_id"))):
        return "asc"
    return "desc"


def display_columns(trials: pd.DataFrame, metric: str) -> list[str]:
    """The columns worth showing to a person (md, html): the rest stay in csv / parquet / json."""
    cols = ["experiment"] if trials.get("experiment", pd.Series(dtype=object)).nunique() > 1 else []
    cols += [c for c in ("strategy", "seed") if c in trials and trials[c].nunique() > 1]
    cols += ["trial_id", "status", "stop_reason", "epochs", f"best_{metric}", "best_epoch", f"last_{metric}", "wall_s"]
    cols += [c for c in trials.columns if isinstance(c, str) and c.startswith("config/")]
    if "error" in trials and trials["error"].notna().any():
        cols.append("error")
    return [c for c in cols if c in trials]


def _fmt(value: Any) -> str:
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def to_markdown(df: pd.DataFrame, short_config: bool = True) -> str:
    """A GitHub markdown table; floats to 4 significant digits."""
    headers = [c.removeprefix("config/") if short_config else c for c in map(str, df.columns)]
    rows = [[_fmt(v) for v in rec] for rec in df.itertuples(index=False, name=None)]
    numeric = [pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]) for c in df.columns]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells):
        return "| " + " | ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(cells, widths, numeric)) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if n else ("-" * (w + 2)) for w, n in zip(widths, numeric)) + "|"
    return "\n".join([line(headers), sep] + [line(r) for r in rows])


def to_html(df: pd.DataFrame) -> str:
    shown = df.rename(columns=lambda c: str(c).removeprefix("config/"))
    return shown.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.4g}", border=0,
                         classes="hwk4tune-table", escape=True)


def format_table(df: pd.DataFrame, fmt: str) -> str | bytes:
    """``md`` / ``html`` / ``csv`` / ``json`` as text, ``parquet`` as bytes."""
    if fmt == "md":
        return to_markdown(df) + "\n"
    if fmt == "html":
        return to_html(df)
    if fmt == "csv":
        return df.to_csv(index=False)
    if fmt == "json":
        return df.to_json(orient="records", indent=2, default_handler=str) + "\n"
    if fmt == "parquet":
        buf = io.BytesIO()
        _parquet_safe(df).to_parquet(buf, index=False)
        return buf.getvalue()
    raise ResultsError(f"unknown format {fmt!r} (valid: {', '.join(TABLE_FORMATS)})")


def _parquet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Columns that mix types (a config value that is 32 in one trial and "auto" in another) as text."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object:
            kinds = {type(v) for v in out[col].dropna()}
            if len(kinds) > 1:
                out[col] = out[col].map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
    return out

