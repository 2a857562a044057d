"""What a sweep turns on for its live view, and the Ray Tune callbacks that do it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = 8080

    def journal_path(self, experiment_dir: str) -> Path | None:
        """The journal of an experiment; on remote storage only the one given (a journal needs a local file)."""
        if not self.mirror or (self.journal is None and "://" in experiment_dir):
            return None
        return Path(self.journal) if self.journal else Path(experiment_dir) / JOURNAL_FILE


def callbacks(options: LiveOptions, *, experiment_dir: str, study_name: str, space_spec, label: str,
              fresh: bool) -> list:
    """The callbacks of one sweep: the Optuna mirror (unless off or remote); with ``dashboard``, the line
    printed when the sweep ends saying how to reopen it; and, unless asked for, a stand-in that keeps Ray
    from adding its TensorBoard logger (Ray adds one whenever tensorboardX is installed, and it writes every
    result of every trial to an event file)."""
    from hwk4tune.live.mirror import OptunaMirror, reset_study
    from hwk4tune.tune.tensorboard import NoTensorBoard

    out: list = []
    journal = options.journal_path(experiment_dir)
    if journal is not None:
        if fresh:
            reset_study(journal, study_name)  # never raises: a broken journal is the mirror's to report
        mirror = OptunaMirror(journal, study_name, space_spec.space, metric=space_spec.metric,
                              mode=space_spec.mode, max_epochs=space_spec.max_epochs, label=options.label or label)
        mirror.create_study()  # before the dashboard opens the journal, so the study is there at once
        out.append(mirror)
        if options.dashboard:
            from hwk4tune.live.reopen import ReopenHint
            from hwk4tune.live.server import start_in_background

            start_in_background(journal, options.dashboard_host, options.dashboard_port)
            out.append(ReopenHint(journal))
    if not options.tensorboard:
        out.append(NoTensorBoard())
    return out
