"""The live view of a sweep: every trial mirrored into an Optuna journal, optuna-dashboard over it,
and Ray's TensorBoard logger kept on request.

- :mod:`~hwk4tune.live.mirror`: the Ray Tune callback that writes the journal (any searcher, any scheduler);
- :mod:`~hwk4tune.live.distributions`: space parameters -> Optuna distributions;
- :mod:`~hwk4tune.live.server`: serve optuna-dashboard over a journal (``hwk4tune dashboard DIR``);
- :mod:`~hwk4tune.live.reopen`: the line ``run --dashboard`` prints when the sweep ends (how to reopen it);
- :mod:`~hwk4tune.live.options`: what a sweep turns on (journal, label, TensorBoard, dashboard) and the listeners
  for it (the Ray side of each, and every other callback of the sweep, is in :mod:`hwk4tune.tune`).

Nothing here sits on a trial's path: the callback runs in the driver, after Tune has the result.
"""

from hwk4tune.live.options import JOURNAL_FILE, LiveOptions

__all__ = ["JOURNAL_FILE", "LiveOptions"]
