"""A comparison for people: the strategies table, anytime plots (PNG) and the files ``compare`` writes
(``comparison.md``, ``comparison.csv``, ``runs.csv``, two PNGs). matplotlib is imported when plotting."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from hwk4tune.compare.comparison import Comparison
from hwk4tune.compare.decide import Decision, decide
from hwk4tune.compare.statistics import estimate_text, interval_text, seeds_text
from hwk4tune.results import to_markdown

FILES = {"md": "comparison.md", "csv": "comparison.csv", "runs_csv": "runs.csv",
         "epochs_png": "anytime_epochs.png", "wall_png": "anytime_wall.png"}
LEGEND = ("best: final best over seeds, mean ± std (IQM: interquartile mean); 95 % CI: percentile bootstrap of "
          "the mean over seeds; epochs: consumed per run, mean (total over seeds); s/run: seconds per run "
          "(simulated in a replay); trials: over all seeds; to target: mean over the runs that reached it; "
          "rank: mean over seeds of the final best's rank (1 = best), and averaged over the epoch budget.")


def summary_table(summary: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The per-strategy summary as people read it (``mean ± std``, counts, ranks), one row per strategy."""
    if summary.empty:
        return summary

    def pm(m, s):
        return "" if not math.isfinite(m) else f"{m:.4f} ± {s:.4f}"

    def num(v, f="{:.1f}"):
        return "" if v is None or not math.isfinite(v) else f.format(v)

    return pd.DataFrame({
        "strategy": summary["strategy"],
        f"best {metric}": [pm(m, s) for m, s in zip(summary["best_mean"], summary["best_std"])],
        "95 % CI": [interval_text(lo, hi, "{:.4f}") if math.isfinite(lo) else "" for lo, hi in
                    zip(summary["best_ci_low"], summary["best_ci_high"])],
        "IQM": [num(v, "{:.4f}") for v in summary["best_iqm"]],
        "epochs/run (total)": [f"{num(m)} ({int(t)})" for m, t in zip(summary["epochs_mean"], summary["epochs_total"])],
        "wall s/run": [num(v) for v in summary["wall_s_mean"]],
        "s/run": [num(v) for v in summary["seconds_mean"]],
        "trials": summary["trials_started"].astype(int),
        "stopped early": summary["trials_stopped_early"].astype(int),
        "errored": summary["trials_errored"].astype(int),
        "epochs to target": [num(v) for v in summary["epochs_to_target"]],
        "s to target": [num(v) for v in summary["seconds_to_target"]],
        "reached": [f"{int(r)}/{int(n)}" for r, n in zip(summary["reached_target"], summary["runs"])],
        "mean rank": [num(v, "{:.2f}") for v in summary["mean_rank"]],
        "rank over budget": [num(v, "{:.2f}") for v in summary["mean_rank_anytime"]],
    })


def plot_anytime(c: Comparison, x: str, path: Any) -> Any:
    """Best-so-far against ``x`` (``epochs`` | ``elapsed_s``): mean over seeds, band = its 95 % bootstrap CI.
    ``path``: a file name or a binary file object (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid, bands = c.band(x)
    seeds = {s: sum(1 for k in c.experiments if k[0] == s) for s in bands}
    extent = c.extent(x)
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for strategy, (mean, lo, hi) in bands.items():
        # a line ends where the strategy's longest run ended: fewer epochs consumed shows as a shorter line
        keep = grid <= extent.get(strategy, grid[-1]) + 1e-9
        g, mean, lo, hi = grid[keep], mean[keep], lo[keep], hi[keep]
        line, = ax.step(g, mean, where="post", label=f"{strategy} ({seeds[strategy]} seeds)")
        ax.fill_between(g, lo, hi, step="post", alpha=0.2, color=line.get_color())
        if g.size:
            ax.plot(g[-1:], mean[-1:], "o", color=line.get_color(), ms=4)
    if math.isfinite(c.target):
        ax.axhline(c.target, color="grey", lw=0.8, ls="--", label=f"target {c.target:.4g}")
    seconds = "simulated time (s)" if c.replayed else "wall time (s)"
    ax.set_xlabel("epochs consumed (all trials)" if x == "epochs" else seconds)
    ax.set_ylabel(f"best {c.metric} so far")
    ax.set_title(f"best-so-far {c.metric}: mean over seeds, 95 % bootstrap CI")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right" if c.mode == "max" else "upper right")
    fig.tight_layout()
    out = path if hasattr(path, "write") else Path(path)
    fig.savefig(out, format="png")
    plt.close(fig)
    return out


def decision_lines(d: Decision) -> list[str]:
    """The decision as markdown: P(A ends better than B), costs to the reference's target, verdicts."""
    prob = d.prob_text.reset_index().rename(columns={"index": "P(row ends better than column)"})
    costs = d.costs.copy()
    costs["ratio to reference (95 % CI)"] = [estimate_text(r, lo, hi) if math.isfinite(r) else "" for r, lo, hi
                                             in zip(costs["ratio to reference"], costs["ci_low"], costs["ci_high"])]
    costs["mean to target"] = [f"{v:.1f}" if math.isfinite(v) else "" for v in costs["mean to target"]]
    costs = costs.drop(columns=["ratio to reference", "ci_low", "ci_high"])
    return [
        "## Which strategy wins",
        "",
        f"Reference: {d.reference}; target: its median final best, {d.target:.4g}. Intervals: 95 % percentile "
        f"bootstrap over the {seeds_text(d.seeds)} (seeds of two strategies resampled independently); a single "
        "value where an interval has no width.",
        "",
        to_markdown(prob, short_config=False),
        "",
        "Cost to reach the target (runs that never reached it count at what they consumed):",
        "",
        to_markdown(costs, short_config=False),
        "",
        "## Verdicts",
        "",
        d.winner_line,
        *[f"- {line}" for line in d.verdicts],
    ]


def markdown(c: Comparison) -> str:
    d = decide(c)
    budget = c.record.budget
    lines = [
        f"# Comparison{': ' + c.record.name if c.record.name else ''}",
        "",
        f"{len(c.strategies)} strategies x {seeds_text(len(c.seeds))} {c.seeds}; budget per run: "
        f"{budget.get('num_samples')} trials of up to {budget.get('max_epochs')} epochs. "
        f"Metric: {c.metric} ({c.mode}); target {c.target:.4g} ({c.target_source})."
        + (f" Hypervolume of each run's Pareto front (trials at their last epoch) to the reference point "
           f"{_reference(c)} ({c.reference_source})." if c.reference_point else "")
        + (f" Replayed from {Path(c.record.definition['replay']['table']).name} on a simulated "
           f"clock: seconds are simulated." if c.replayed else ""),
        "",
        to_markdown(summary_table(c.summary, c.metric).drop(columns=_unstable(c, "wall s/run")), short_config=False),
        "",
        LEGEND,
        "",
        "## Runs",
        "",
        to_markdown(c.runs.drop(columns=["experiment_dir", *_unstable(c, "wall_s")], errors="ignore"),
                    short_config=False),
        "",
        f"Anytime curves: `{FILES['epochs_png']}` (against epochs consumed), `{FILES['wall_png']}` "
        f"(against {'simulated' if c.replayed else 'wall'} time).",
        "",
        *decision_lines(d),
    ]
    return "\n".join(lines) + "\n"


def write_comparison(c: Comparison, out: str | Path | None = None) -> list[Path]:
    """``comparison.md``, ``comparison.csv`` (per strategy), ``runs.csv`` (per run), two PNGs."""
    out = Path(out or c.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / FILES["md"]).write_text(markdown(c))
    c.summary.drop(columns=_unstable(c, "wall_s_mean", "wall_s_total")).to_csv(out / FILES["csv"], index=False)
    c.runs.to_csv(out / FILES["runs_csv"], index=False)
    return [out / FILES["md"], out / FILES["csv"], out / FILES["runs_csv"],
            plot_anytime(c, "epochs", out / FILES["epochs_png"]), plot_anytime(c, "elapsed_s", out / FILES["wall_png"])]


def _unstable(c: Comparison, *columns: str) -> list[str]:
    """Columns left out of a replay's comparison.md and comparison.csv: the wall seconds a simulated run took
    measure the machine, not the strategies, and the same replay writes the same files (runs.csv keeps them)."""
    return list(columns) if c.replayed else []


def _reference(c: Comparison) -> str:
    return "{" + ", ".join(f"{k}: {v:g}" for k, v in (c.reference_point or {}).items()) + "}"
