"""What ``hwk4tune run --dashboard`` says when its sweep ends: the dashboards close with the process, and
``hwk4tune dashboard DIR`` serves the finished experiment's trials again (:func:`hwk4tune.live.server.reopen_line`).

Kept apart from :mod:`hwk4tune.live.server` so that ``hwk4tune dashboard`` does not import Ray Tune (a
:class:`~hwk4tune.tune.callbacks.TrialListener` is a Ray Tune callback)."""

from __future__ import annotations

import sys
from pathlib import Path

from hwk4tune.live.server import reopen_line
from hwk4tune.tune.callbacks import TrialListener


class ReopenHint(TrialListener):
    """A Ray Tune callback of ``run --dashboard``: when the sweep ends (done, or stopped by Ctrl-C), print
    :func:`~hwk4tune.live.server.reopen_line` to stderr, whatever ``-q`` says (the URLs were printed there too)."""

    def __init__(self, journal: str | Path, file=None):
        self.journal = Path(journal)
        self.file = file

    def sweep_ended(self) -> None:
        print(reopen_line(self.journal), file=self.file or sys.stderr, flush=True)
