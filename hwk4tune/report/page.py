"""One self-contained HTML page for a sweep or a comparison: tables, and plots embedded as base64 PNG.

The page needs nothing beside itself (no scripts, no external style sheets, no image files), so it can be
mailed or attached to a ticket. Everything is read from the folder (:mod:`hwk4tune.results`,
:mod:`hwk4tune.compare`); no Ray is started. matplotlib is imported inside the plotting functions. The best
configuration shown is :meth:`~hwk4tune.results.Experiment.best_config`, the one ``best.yaml`` holds.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from hwk4tune.compare import LEGEND, decide, load_comparison, plot_anytime, summary_table
from hwk4tune.results import Experiment, ResultsError, display_columns, load_experiment, sort_trials, to_html
from hwk4tune.results.experiment import best_rule
from hwk4tune.results.warm_start import warm_note
from hwk4tune.store.records import METADATA_FILE, PLAN_FILE, REPORT_FILE, is_comparison_dir, is_experiment_dir
from hwk4tune.store.tune_files import STATE_GLOB

__all__ = ["build_report", "write_report"]

TOP_N = 20

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0;max-width:100%}
th,td{padding:.25rem .45rem;border-bottom:1px solid #eee;text-align:right;overflow-wrap:anywhere}
th{white-space:normal;word-break:break-word}td{white-space:nowrap}
.wide td{white-space:normal;font-size:.8rem}.wide th{font-size:.8rem}
th{background:#f5f5f5}td:first-child,th:first-child{text-align:left}
.meta th{white-space:nowrap;word-break:normal;overflow-wrap:normal;vertical-align:top}
.meta td{text-align:left;white-space:normal}.meta .kv{display:block;padding-left:1.5em;text-indent:-1.5em}
.note{color:#666;font-size:.85rem}img{max-width:100%;margin:.5rem 0}
.err{color:#a00;white-space:normal;text-align:left}pre{background:#f7f7f7;padding:.6rem;font-size:.85rem}
"""


def _png(fig) -> str:
    """A matplotlib figure as an ``<img>`` with the PNG inline."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return _img(buf.getvalue())


def _img(data: bytes, alt: str = "plot") -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def _fitted(table_html: str, df) -> str:
    """A table of many columns wraps its cells so that it fits the page (1280 px) instead of scrolling."""
    return f'<div class="wide">{table_html}</div>' if len(df.columns) > 8 else table_html


def _meta_table(items: list[tuple[str, Any]]) -> str:
    """A header table of label and value. A mapping (the searcher, the scheduler, the data set) shows as one
    ``key: value`` line per key, and every value wraps (a long searcher configuration once kept its cell on
    one line and squashed the labels beside it to a letter per line); the labels never wrap."""
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{_cell(v)}</td></tr>" for k, v in items
                   if v not in (None, "", {}))
    return f'<table class="meta">{rows}</table>'


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return "".join(f'<span class="kv">{html.escape(str(k))}: {html.escape(_inline(v))}</span>'
                       for k, v in value.items())
    return html.escape(str(value))


def _inline(value: Any) -> str:
    """A value on a line of its own: text as it is, anything else as JSON (a space after each comma, where
    the line can wrap)."""
    return value if isinstance(value, str) else json.dumps(value, separators=(", ", ": "), default=str)


def _page(title: str, body: list[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{html.escape(title)}</h1>\n" + "\n".join(body) + "\n</body></html>\n")


# ------------------------------------------------------------------------------------------ a sweep


def _learning_curves(exp: Experiment):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
    from hwk4tune.model.pictures import STOP_COLOURS

    h = exp.history
    reasons = dict(zip(exp.trials["trial_id"], exp.trials["stop_reason"])) if "stop_reason" in exp.trials else {}
    if not h.empty and exp.metric in h:
        seen: set[str] = set()
        for trial_id, g in h.groupby("trial_id", sort=True):
            reason = str(reasons.get(trial_id) or "other")
            ax1.plot(g["epoch"], g[exp.metric], marker=".", lw=1, alpha=0.7, color=STOP_COLOURS.get(reason, "tab:gray"),
                     label=None if reason in seen else reason)
            seen.add(reason)
        if seen:
            ax1.legend(title="stopped by", fontsize=8)
    ax1.set_xlabel("epoch")
    ax1.set_ylabel(exp.metric)
    ax1.set_title(f"{exp.metric} per trial, coloured by why it stopped")
    ax1.grid(alpha=0.3)
    curve = exp.curve()
    if len(curve):
        ax2.step(curve["epochs"], curve["best"], where="post")
    ax2.set_xlabel("epochs consumed (all trials)")
    ax2.set_ylabel(f"best {exp.metric} so far")
    ax2.set_title("best so far")
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    return fig


LOG_DISTRIBUTIONS = ("loguniform", "qloguniform", "lograndint")


def log_scaled(space: Any, prefix: str = "") -> set[str]:
    """The parameters (flat names, ``/`` between levels, as the ``config/`` columns) drawn on a log scale:
    their axes are logarithmic, every other axis linear."""
    out: set[str] = set()
    for name, value in (space.items() if isinstance(space, dict) else ()):
        if not isinstance(value, dict):
            continue
        if any(k in LOG_DISTRIBUTIONS for k in value):
            out.add(prefix + str(name))
        elif not any(k in ("uniform", "quniform", "randint", "qrandint", "normal", "choice", "grid") for k in value):
            out |= log_scaled(value, f"{prefix}{name}/")
    return out


def _param_scatter(exp: Experiment):
    """Best metric of each trial against each tuned numeric hyperparameter: a log axis for a parameter drawn
    on a log scale (loguniform, qloguniform, lograndint), a linear one for the rest."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = exp.trials
    col = exp.best_column
    if t.empty or col not in t:
        return None
    params = []
    for c in t.columns:
        if isinstance(c, str) and c.startswith("config/") and t[c].nunique(dropna=True) > 1:
            params.append(c)
    params = params[:8]
    if not params:
        return None
    log_params = log_scaled(exp.record.space.get("space", {}) if exp.record else {})
    n = len(params)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax, p in zip(axes.flat, params):
        x, y = t[p], t[col]
        if pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x):
            ax.scatter(x, y, s=14)
            if p.removeprefix("config/") in log_params:
                ax.set_xscale("log")
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
            if p.removeprefix("config/") in log_params:
                ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(numticks=4))
            ax.tick_params(axis="x", labelsize=7)
        else:
            cats = sorted(map(str, x.dropna().unique()))
            ax.scatter([cats.index(str(v)) if pd.notna(v) else -1 for v in x], y, s=14)
            ax.set_xticks(range(len(cats)), cats, fontsize=7)
        name = p.removeprefix("config/")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(f"{name} (log scale)" if name in log_params else name, fontsize=8)
        ax.set_ylabel(col, fontsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(f"{col} of each trial against each hyperparameter it was given", fontsize=10)
    fig.tight_layout()
    return fig


def _config_block(exp: Experiment) -> str:
    """The best trial's configuration at its best epoch, as YAML (what ``best.yaml``'s ``config`` holds)."""
    text = yaml.safe_dump(exp.best_config(), sort_keys=False).rstrip()
    return f'<pre class="config">{html.escape(text)}</pre>'


def _sweep_body(exp: Experiment) -> list[str]:
    r = exp.record
    counts = exp.counts()
    body = [_meta_table([
        ("folder", exp.path),
        ("strategy", r.label if r else None),
        ("searcher", r.searcher if r else None),
        ("scheduler", r.scheduler if r else None),
        ("trainable", r.trainable if r else None),
        ("data set", r.dataset.model_dump(mode="json", exclude_none=True) if r and r.dataset else None),
        ("objective", f"{exp.mode} {exp.metric}"),
        ("budget", f"{r.num_samples} trials x up to {r.max_epochs} epochs" if r else None),
        ("created", r.created if r else None),
        ("trials", ", ".join(f"{v} {k.lower().replace('_', ' ')}" for k, v in counts.items() if v)),
        ("epochs consumed", int(exp.trials["epochs"].sum()) if len(exp.trials) else 0),
        ("warm start", warm_note(exp.path)),  # earlier trials: none of them is a row below
    ])]
    ranked = exp.ranked()
    if not ranked.empty:
        best = ranked.iloc[0]
        body += ["<h2>Best trial</h2>",
                 _meta_table([("trial", best["trial_id"]), (exp.best_column, f"{best[exp.best_column]:.4g}"),
                              ("at epoch", best["best_epoch"]), ("checkpoint", best.get("checkpoint"))]),
                 "<p class=\"note\">Its configuration at that epoch (PBT and PB2 change it while training):</p>",
                 _config_block(exp),
                 f'<p class="note">Train it: <code>hwk4tune best {html.escape(str(exp.path))} -o best.yaml'
                 " &amp;&amp; hwk4tune train best.yaml</code></p>"]
    trials = sort_trials(exp.trials, None, exp.mode, exp.metric)
    shown = trials[display_columns(trials, exp.metric)].drop(columns=["error"], errors="ignore").head(TOP_N)
    body += [f"<h2>Trials (top {min(TOP_N, len(trials))} of {len(trials)} by {exp.best_column})</h2>",
             f'<p class="note">{html.escape(best_rule(exp.metric))}</p>', _fitted(to_html(shown), shown)]
    errors = exp.trials[exp.trials["status"] == "ERROR"] if len(exp.trials) else exp.trials
    if len(errors):
        rows = "".join(f"<tr><td>{html.escape(str(r.trial_id))}</td><td class=\"err\">{html.escape(str(r.error))}"
                       "</td></tr>" for r in errors.itertuples())
        body += [f"<h2>Errors ({len(errors)})</h2>", f"<table><tr><th>trial</th><th>error</th></tr>{rows}</table>"]
    if exp.notes:
        body += ["<h2>Notes</h2>", "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in exp.notes) + "</ul>"]
    body += ["<h2>Learning curves</h2>", _png(_learning_curves(exp))]
    scatter = _param_scatter(exp)
    if scatter is not None:
        body += [f"<h2>{html.escape(exp.best_column)} against each hyperparameter</h2>", _png(scatter)]
    from hwk4tune.results.pareto_plot import plot_front  # several objectives: the front

    front = plot_front(exp)
    if front is not None:
        body += ["<h2>Pareto front</h2>", _png(front)]
    return body


# ------------------------------------------------------------------------------------------ a comparison


def _comparison_body(c) -> list[str]:
    budget = c.record.budget
    body = [_meta_table([
        ("folder", c.out),
        ("compare file", c.record.compare_file),
        ("strategies", ", ".join(c.strategies)),
        ("seeds", c.seeds),
        ("budget per run", f"{budget.get('num_samples')} trials x up to {budget.get('max_epochs')} epochs"),
        ("objective", f"{c.mode} {c.metric}"),
        ("target", f"{c.target:.4g} ({c.target_source})"),
    ])]
    body += ["<h2>Strategies</h2>", _summary_html(summary_table(c.summary, c.metric)),
             f'<p class="note">{html.escape(LEGEND)}</p>']
    seconds = "simulated time (a replay)" if c.replayed else "wall time"
    for x, title in (("epochs", "Best so far against epochs consumed"), ("elapsed_s", f"Best so far against {seconds}")):
        buf = io.BytesIO()
        plot_anytime(c, x, buf)
        body += [f"<h2>{title}</h2>", _img(buf.getvalue(), title)]
    d = decide(c)
    body += ["<h2>Verdicts</h2>", f"<p>{html.escape(d.winner_line)}</p>",
             "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in d.verdicts) + "</ul>",
             f'<p class="note">Reference {html.escape(d.reference)}, target its median final best {d.target:.4g}; '
             "stated only where 95 % bootstrap intervals over seeds support them (docs/replay.md).</p>"]
    try:
        key, exp = c.best()
        best = exp.best()
        body += ["<h2>Overall best trial</h2>",
                 _meta_table([("run", f"{key[0]}, seed {key[1]}"), ("trial", best["trial_id"]),
                              (exp.best_column, f"{best[exp.best_column]:.4g}"), ("at epoch", best["best_epoch"])]),
                 _config_block(exp)]
    except ResultsError:
        pass
    runs = c.runs.drop(columns=["experiment_dir"], errors="ignore")
    body += ["<h2>Runs</h2>", _fitted(to_html(runs), runs)]
    return body


def _summary_html(df: pd.DataFrame) -> str:
    return df.to_html(index=False, border=0, escape=True, classes="hwk4tune-table")


# ------------------------------------------------------------------------------------------ entry points


def build_report(path: str | Path) -> tuple[str, str]:
    """(kind, HTML) for a comparison folder (``comparison.json``) or an experiment folder."""
    p = Path(path).expanduser().resolve()
    if not p.is_dir():
        raise ResultsError(f"{p}: no such folder")
    if is_comparison_dir(p):
        c = load_comparison(p)
        title = f"hwk4tune comparison: {c.record.name or p.name}"
        return "comparison", _page(title, _comparison_body(c))
    if is_experiment_dir(p):
        exp = load_experiment(p)
        return "sweep", _page(f"hwk4tune sweep: {exp.name}", _sweep_body(exp))
    raise ResultsError(f"{p}: neither a comparison folder (no {PLAN_FILE}) nor an experiment folder "
                       f"(no {METADATA_FILE} or {STATE_GLOB})")


def write_report(path: str | Path, out: str | Path | None = None) -> Path:
    """Write the page (default ``DIR/report.html``) and return its path."""
    _, text = build_report(path)
    target = Path(out) if out else Path(path).expanduser().resolve() / REPORT_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target
