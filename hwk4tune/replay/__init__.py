"""Recorded learning curves, replayed through the real Ray Tune searchers and schedulers.

- :mod:`~hwk4tune.replay.table`: a recorded table (one row per configuration x epoch, metadata in the parquet
  schema), the nearest recorded configuration of any configuration, and what a compare file's space may ask;
- :mod:`~hwk4tune.tune.replay_trainable`: the ``replay`` function trainable (a trainable, not a second engine);
- :mod:`~hwk4tune.replay.timeline`: simulated seconds of a replayed run (recorded seconds, slots).

No Ray and no torch at import time.
"""

from hwk4tune.replay.table import TABLE_KEY, ReplayTable, read_table, table_problems, write_table
from hwk4tune.replay.timeline import simulate

__all__ = ["TABLE_KEY", "ReplayTable", "read_table", "write_table", "table_problems", "simulate"]
