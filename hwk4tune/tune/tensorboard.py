"""Ray's TensorBoard logger, off unless asked for.

Ray 2.60 adds ``TBXLoggerCallback`` to every run where tensorboardX is installed, unless a callback of that
class is already there. :class:`NoTensorBoard` is such a callback that writes nothing, so the CSV and JSON
loggers that Tune's own analysis reads stay on (``TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=1`` would turn them off
too, and leave ``ResultGrid.get_dataframe()`` empty).
"""

from __future__ import annotations

from ray.tune.logger import LoggerCallback, TBXLoggerCallback


class NoTensorBoard(TBXLoggerCallback):
    """Takes the TensorBoard logger's place and writes nothing."""

    def __init__(self):
        LoggerCallback.__init__(self)  # not TBXLoggerCallback's: it imports tensorboardX

    def log_trial_start(self, trial) -> None:
        pass

    def log_trial_result(self, iteration, trial, result) -> None:
        pass

    def log_trial_end(self, trial, failed: bool = False) -> None:
        pass
