"""The two files of ours in an experiment folder, written before any trial starts:

- ``hwk4tune.json``: an :class:`~hwk4tune.store.records.ExperimentRecord` (label, searcher, scheduler, budget,
  metric, mode, trainable, data set, seed, the space) that analysis reads — never folder names;
- ``sweep.yaml``: the resolved sweep, space inlined, so ``resume`` needs nothing but the folder (it is a
  valid sweep file: ``hwk4tune validate DIR/sweep.yaml``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hwk4tune.spec import Problem, SpaceSpec, SpecError, SweepSpec, dump_yaml, load_sweep
from hwk4tune.store.records import (
    METADATA_FILE,
    SPEC_FILE,
    ExperimentRecord,
    is_uri,
    join,
    now,
    read_record,
    read_text,
    write_record,
    write_text,
)


def space_record(space: SpaceSpec) -> dict:
    """The space file's content as a space file holds it: the space in the YAML DSL
    (``{loguniform: [a, b]}``), the data folder absolute."""
    data = space.model_dump(mode="json", exclude_none=True)
    data["space"] = space.space.to_yaml()
    if space.objectives:  # metric/mode are the first objective's; a space file holds one or the other
        data.pop("metric", None), data.pop("mode", None)
    if space.dataset is not None and space.dataset.data_dir:
        data["dataset"]["data_dir"] = str(Path(space.dataset.data_dir).resolve())
    return data


def resolved_sweep(spec: SweepSpec) -> dict:
    """The sweep as a self-contained mapping: the space inlined, paths absolute."""
    data = spec.model_dump(mode="json", exclude_none=True)
    data["space"] = space_record(spec.space)
    return data


def experiment_record(spec: SweepSpec, name: str) -> ExperimentRecord:
    """What ``hwk4tune.json`` holds; its label is the strategy's name in a compare file, else
    ``searcher+scheduler``."""
    from hwk4tune import __version__

    return ExperimentRecord(
        name=name,
        label=spec.strategy_label,
        sweep_file=str(spec.source.resolve()) if spec.source else None,
        space_file=str(spec.space.source.resolve()) if spec.space.source else None,
        space=space_record(spec.space),
        searcher=spec.searcher.model_dump(mode="json"),
        scheduler=spec.scheduler.model_dump(mode="json"),
        seed=getattr(spec.searcher, "seed", None),  # grid has none
        num_samples=spec.num_samples,
        max_concurrent_trials=spec.max_concurrent_trials,
        max_epochs=spec.space.max_epochs,
        metric=spec.space.metric,
        mode=spec.space.mode,
        trainable=spec.space.trainable,
        dataset=spec.space.dataset,
        resources_per_trial=spec.resources_per_trial.model_dump(mode="json"),
        created=now(),
        hwk4tune_version=__version__,
    )


def write_saved(exp_dir: str, spec: SweepSpec, name: str) -> None:
    """Write ``hwk4tune.json`` and ``sweep.yaml`` into the experiment folder (a path or a URI)."""
    write_record(experiment_record(spec, name), join(exp_dir, METADATA_FILE))
    header = "# The resolved sweep of this experiment (space inlined); `hwk4tune resume` reads it.\n"
    write_text(join(exp_dir, SPEC_FILE), header + dump_yaml(resolved_sweep(spec)))


def read_metadata(experiment_dir: str | Path) -> ExperimentRecord:
    """The ``hwk4tune.json`` of an experiment folder (a path or a URI)."""
    return read_record(ExperimentRecord, join(str(experiment_dir), METADATA_FILE))


def load_saved_sweep(experiment_dir: str | Path) -> SweepSpec:
    """The sweep an experiment folder was started with (its ``sweep.yaml``)."""
    target = join(str(experiment_dir), SPEC_FILE)
    if is_uri(target):
        with tempfile.TemporaryDirectory() as d:
            local = Path(d) / SPEC_FILE
            local.write_text(read_text(target))
            return load_sweep(local)
    if not Path(target).exists():
        raise SpecError([Problem(str(experiment_dir), None, "(folder)",
                                 f"no {SPEC_FILE} here: not an experiment folder of `hwk4tune run`")])
    return load_sweep(target)
