"""The Pareto front as a picture for the HTML report: every trial (at its last epoch) as a grey point, the
front's trials highlighted and, for two objectives, joined as a staircase; for three or more objectives one
panel per pair of objectives (a point on the front may look dominated in a single pair: the front is judged
on all objectives at once). matplotlib is imported when a figure is drawn."""

from __future__ import annotations

import itertools
import math

from hwk4tune.results.experiment import Experiment
from hwk4tune.results.pareto import Objectives, final_values, objectives_of, pareto_front


def plot_front(exp: Experiment, objectives: Objectives | None = None):
    """A matplotlib figure of the experiment's trials and front; None for a single-objective experiment or
    one without values."""
    objectives = objectives or objectives_of(exp)
    if not objectives:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = final_values(exp, objectives)
    metrics = [m for m, _ in objectives]
    values = values[values[metrics].map(math.isfinite).all(axis=1)]
    if values.empty:
        return None
    front = pareto_front(exp, objectives)
    pairs = list(itertools.combinations(range(len(objectives)), 2))
    cols = min(3, len(pairs))
    rows = math.ceil(len(pairs) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.2 * rows), squeeze=False)
    for ax, (i, j) in zip(axes.flat, pairs):
        (mx, dx), (my, dy) = objectives[i], objectives[j]
        ax.scatter(values[mx], values[my], s=18, color="#bbb", label="trials")
        ax.scatter(front[mx], front[my], s=36, color="#d62728", label="Pareto front", zorder=3)
        if len(objectives) == 2:
            line = front.sort_values(mx)
            ax.step(line[mx], line[my], where="post" if (dx == "max") == (dy == "max") else "pre",
                    color="#d62728", lw=1, alpha=0.6)
        for m, setter in ((mx, ax.set_xscale), (my, ax.set_yscale)):
            if m == "num_params" and values[m].min() > 0 and values[m].max() / values[m].min() > 20:
                setter("log")
        ax.set_xlabel(f"{mx} ({dx})")
        ax.set_ylabel(f"{my} ({dy})")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(pairs):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(f"Pareto front: {len(front)} of {len(values)} trials (each at its last epoch)")
    fig.tight_layout()
    return fig
