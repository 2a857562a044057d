"""What a sweep turns on for its live view, and the trial listeners that do it (the Ray side of a listener is
:class:`hwk4tune.tune.callbacks.TrialListener`; :func:`hwk4tune.tune.tuner.new_tuner` adds them to the sweep's
other callbacks)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hwk4tune.cluster.hosts import LOCAL_HOST
from hwk4tune.store.records import JOURNAL_FILE


@dataclass(frozen=True)
class LiveOptions:
    """``journal``: the Optuna journal file (default ``EXPERIMENT/optuna.journal``; a comparison gives its
    own, one study per run); ``label``: the strategy label the user gave (default ``searcher+scheduler``);
    ``mirror``: write the journal at all; ``tensorboard``: keep Ray's TensorBoard logger; ``dashboard``:
    serve optuna-dashboard over the journal from this process while the sweep runs."""

    journal: str | None = None
    label: str | None = None
    mirror: bool = True
    tensorboard: bool = False
    dashboard: bool = False
    dashboard_host: str = LOCAL_HOST
    dashboard_port: int = 8080

    def journal_path(self, experiment_dir: str) -> Path | None:
        """The journal of an experiment; on remote storage only the one given (a journal needs a local file)."""
        if not self.mirror or (self.journal is None and "://" in experiment_dir):
            return None
        return Path(self.journal) if self.journal else Path(experiment_dir) / JOURNAL_FILE

    def listeners(self, *, experiment_dir: str, study_name: str, space_spec, label: str) -> list:
        """The listeners of a new sweep: the Optuna mirror (unless off or remote), its study emptied first, and
        with ``dashboard`` optuna-dashboard served over the journal and the line printed when the sweep ends
        saying how to reopen it. ``label`` names the strategy where the options give none."""
        from hwk4tune.live.mirror import OptunaMirror, reset_study

        journal = self.journal_path(experiment_dir)
        if journal is None:
            return []
        reset_study(journal, study_name)  # never raises: a broken journal is the mirror's to report
        mirror = OptunaMirror(journal, study_name, space_spec.space, metric=space_spec.metric, mode=space_spec.mode,
                              max_epochs=space_spec.max_epochs, label=self.label or label)
        mirror.create_study()  # before the dashboard opens the journal, so the study is there at once
        if not self.dashboard:
            return [mirror]
        from hwk4tune.live.reopen import ReopenHint
        from hwk4tune.live.server import start_in_background

        start_in_background(journal, self.dashboard_host, self.dashboard_port)
        return [mirror, ReopenHint(journal)]
