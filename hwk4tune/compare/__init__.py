"""Strategies head to head: every strategy x seed under one budget, then one table and anytime curves.

- :mod:`~hwk4tune.compare.plan`: the cross product of strategies and seeds, one sweep each;
- :mod:`~hwk4tune.compare.run`: run it (``--resume`` keeps finished runs);
- :mod:`~hwk4tune.compare.comparison`: read a comparison folder back and analyse it;
- :mod:`~hwk4tune.compare.statistics`: IQM, curves on a common grid, time to target, bootstrap intervals,
  P(A beats B), verdicts;
- :mod:`~hwk4tune.compare.decide`: what a comparison decides (intervals, matrix, costs, verdicts, winner);
- :mod:`~hwk4tune.compare.render`: the strategies table, anytime plots and the files ``compare`` writes.
"""

from hwk4tune.compare.comparison import Comparison, load_comparison
from hwk4tune.compare.decide import Decision, decide
from hwk4tune.compare.plan import RunPlan, plan, sweep_for
from hwk4tune.compare.render import FILES, LEGEND, markdown, plot_anytime, summary_table, write_comparison
from hwk4tune.compare.run import run_compare
from hwk4tune.compare.statistics import iqm

__all__ = ["Decision", "decide", "RunPlan", "Comparison", "plan", "sweep_for", "run_compare", "load_comparison", "iqm",
           "FILES", "LEGEND", "summary_table", "plot_anytime", "markdown", "write_comparison"]
