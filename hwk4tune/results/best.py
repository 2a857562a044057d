"""``best.yaml``: the best trial of an experiment as a :class:`~hwk4tune.store.records.BestConfig` that
``hwk4tune train`` takes as it is."""

from __future__ import annotations

from pathlib import Path

from hwk4tune.results.experiment import Experiment, ResultsError
from hwk4tune.store.records import METADATA_FILE, BestConfig, BestTrial, plain
from hwk4tune.store.tune_files import finite


def best_yaml(exp: Experiment) -> BestConfig:
    """What ``hwk4tune best`` writes: ``trainable``, ``dataset``, ``config`` (:meth:`Experiment.best_config`:
    the best trial's hyperparameters at its best epoch), ``metric``, ``mode``, ``epochs`` (= the best epoch),
    ``best: {value, epoch, trial_id, checkpoint}`` (checkpoint: the best epoch's, where Tune kept it, else
    null), ``experiment`` (the folder) and ``label``."""
    if exp.record is None:
        raise ResultsError(f"{exp.path}: no {METADATA_FILE} (not an experiment of `hwk4tune run`?): cannot "
                           "write a file that `hwk4tune train` takes")
    row = exp.best()
    epoch = int(row["best_epoch"]) if finite(row["best_epoch"]) else None
    return BestConfig(
        trainable=exp.record.trainable,
        dataset=exp.record.dataset,
        config=exp.best_config(),
        metric=exp.metric,
        mode=exp.mode,
        epochs=epoch,
        best=BestTrial(value=plain(row[exp.best_column]), epoch=epoch, trial_id=str(row["trial_id"]),
                       checkpoint=row["checkpoint"] if isinstance(row["checkpoint"], str) else None),
        experiment=str(exp.path),
        label=exp.record.label,
    )


def write_best(exp: Experiment, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = (f"# Best trial of {exp.path} by {exp.metric} ({exp.mode}); ties: fewer epochs, then trial id.\n"
              f"# Train it for real:  hwk4tune train {out}\n")
    out.write_text(best_yaml(exp).to_yaml(header))
    return out
