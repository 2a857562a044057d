"""An experiment folder (or a ResultGrid) as tidy pandas tables — without starting Ray.

- :mod:`~hwk4tune.store.tune_files`: what Ray Tune leaves in the folder, read without trusting paths;
- :mod:`~hwk4tune.results.load`: the folder -> :class:`Experiment` (``trials`` and ``history`` tables);
- :mod:`~hwk4tune.results.experiment`: :class:`Experiment`, its best trial and best config;
- :mod:`~hwk4tune.results.best`: ``best.yaml`` for ``hwk4tune train``;
- :mod:`~hwk4tune.results.tables`: sorting and md / html / csv / json / parquet output.
"""

from hwk4tune.results.best import best_yaml, write_best
from hwk4tune.results.experiment import STATUSES, Experiment, ResultsError
from hwk4tune.results.load import load_experiment
from hwk4tune.results.tables import (
    TABLE_FORMATS,
    display_columns,
    format_table,
    sort_trials,
    to_html,
    to_markdown,
)
from hwk4tune.store.records import is_experiment_dir
from hwk4tune.store.tune_files import untracked_trial_dirs

__all__ = ["Experiment", "ResultsError", "load_experiment", "is_experiment_dir",
           "best_yaml", "write_best", "format_table", "display_columns", "sort_trials",
           "to_markdown", "to_html", "untracked_trial_dirs", "STATUSES", "TABLE_FORMATS"]
