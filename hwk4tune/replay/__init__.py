"""Recorded learning curves, replayed through the real Ray Tune searchers and schedulers.

- :mod:`~hwk4tune.replay.table`: a recorded table (one row per configuration x epoch, metadata in the parquet
  schema), the nearest recorded configuration of any configuration, and what a compare file's space may ask;
- :mod:`~hwk4tune.tune.simulated_replay`: a replayed sweep as a discrete-event simulation (a simulated clock, the
  real searcher and scheduler deciding, no Ray actors): what ``compare`` runs for a replay;
- :mod:`~hwk4tune.tune.replay_trainable`: the Ray-actor replay (a function trainable sleeping the recorded
  seconds), the reference the simulation is tested against;
- :mod:`~hwk4tune.replay.timeline`: simulated seconds of a replayed run (the simulation's clock, or for folders
  of the actor replay the recorded seconds on slots).

No Ray and no torch at import time.
"""

from hwk4tune.replay.table import TABLE_KEY, ReplayTable, read_table, table_problems, write_table
from hwk4tune.replay.timeline import simulate

__all__ = ["TABLE_KEY", "ReplayTable", "read_table", "write_table", "table_problems", "simulate"]
