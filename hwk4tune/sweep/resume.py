"""Finish an interrupted sweep from its folder alone (``sweep.yaml`` holds the resolved sweep)."""

from __future__ import annotations

from pathlib import Path

from hwk4tune.records import RecordError, is_uri, storage_location
from hwk4tune.spec import Problem, SpecError
from hwk4tune.sweep.console import say
from hwk4tune.sweep.lock import experiment_lock
from hwk4tune.sweep.ray_setup import ensure_ray, shutdown
from hwk4tune.sweep.run import SweepInterrupted, fit, load_data, trainable
from hwk4tune.sweep.saved import load_saved_sweep, read_metadata


def _experiment_name(exp_dir: str) -> str:
    """The name `run` gave the experiment (its record), else the folder's name."""
    try:
        return read_metadata(exp_dir).name
    except RecordError:
        return exp_dir.rstrip("/").rsplit("/", 1)[-1]


def _set_aside_untracked(exp: Path, verbose: bool) -> None:
    """Move the folders of trials Tune never recorded (started just before a kill) into ``.interrupted/``:
    the restored searcher proposes a new trial in their place, and tables must not count them twice."""
    from hwk4tune.results import untracked_trial_dirs

    for d in untracked_trial_dirs(exp):
        target = exp / ".interrupted" / d.name
        target.parent.mkdir(exist_ok=True)
        d.rename(target)
        say(verbose, f"note: {d.name} started after Tune last saved its state, so Tune never recorded it; "
                     f"a new trial takes its place; its folder moved to {target}")


def _set_aside_errored(exp: Path, verbose: bool) -> list[str]:
    """``--restart-errored``: Tune starts each errored trial over as a new trial (a new id and folder); the old
    folder moves into ``.restarted/`` (its error.txt kept) so tables do not count the trial twice."""
    from hwk4tune.results.tune_files import experiment_state

    state, _ = experiment_state(exp)
    moved = []
    for info in state.values():
        d = exp / (info.get("dir") or "")
        if info.get("status") == "ERROR" and info.get("dir") and d.is_dir():
            target = exp / ".restarted" / d.name
            target.parent.mkdir(exist_ok=True)
            d.rename(target)
            _drop_staged(exp, d.name)
            moved.append(d.name)
            say(verbose, f"note: {d.name} errored and starts over as a new trial; its folder moved to {target}")
    return moved


def _drop_copied_back(exp: Path, names: list[str]) -> None:
    """Tune, resumed in the Python session that ran the sweep, copies an errored trial's folder back from its
    staging folder: the copy goes (the folder itself is in ``.restarted/``)."""
    import shutil

    for name in names:
        if (exp / ".restarted" / name).is_dir() and (exp / name).is_dir():
            shutil.rmtree(exp / name)


def _drop_staged(exp: Path, trial_dir: str) -> None:
    """A resume in the Python session that ran the sweep reuses its staging folder, and Tune would copy the
    old trial's staged files back into ``exp``: remove them there (a copy; ``exp`` keeps the moved folder)."""
    import shutil

    from hwk4tune.sweep.recover import ray_temp_dir, staging_folders

    temp = ray_temp_dir()
    for staging in staging_folders(exp, temp) if temp is not None else []:
        shutil.rmtree(staging / trial_dir, ignore_errors=True)


def _finish_upload(exp: Path, verbose: bool) -> None:
    """Copy what the killed driver staged but never uploaded (:mod:`hwk4tune.sweep.recover`)."""
    from hwk4tune.sweep.recover import finish_upload, ray_temp_dir, release_finished_trials, repair_state

    temp = ray_temp_dir()
    copied = finish_upload(exp, temp) if temp is not None else []
    if copied:
        say(verbose, f"note: {len(copied)} files the interrupted driver saved but had not copied into {exp} "
                     "were copied now")
    say(verbose, *(f"note: {line}" for line in repair_state(exp)))
    say(verbose, *(f"note: {line}" for line in release_finished_trials(exp)))


def resume_sweep(experiment_dir: str | Path, *, restart_errored: bool = False, address: str | None = None,
                 verbose: bool = True, storage_shared: bool = False) -> Path:
    """Finish an interrupted sweep: unfinished trials go on from their last checkpoint; errored ones are
    resumed (or, with ``restart_errored``, started over); finished ones are kept as they are. Holds the
    experiment's lock (:mod:`hwk4tune.sweep.lock`); Ctrl-C raises :class:`~hwk4tune.sweep.run.SweepInterrupted`
    after Tune saved its state."""
    exp_dir = storage_location(experiment_dir)
    spec = load_saved_sweep(exp_dir)
    name = _experiment_name(exp_dir)
    data = load_data(spec)
    with experiment_lock(exp_dir, lambda text: say(verbose, text)):
        started = ensure_ray(address, job_name=name)
        try:
            text, interrupted = _resume(exp_dir, spec, data, name, restart_errored, verbose, address, storage_shared)
        finally:
            shutdown(started)
    say(verbose, text)
    if interrupted:
        raise SweepInterrupted(exp_dir)
    return Path(exp_dir)


def _resume(exp_dir: str, spec, data, name: str, restart_errored: bool, verbose: bool, address: str | None,
            storage_shared: bool) -> tuple[str, bool]:
    from ray import tune

    from hwk4tune.cluster import check_storage

    check_storage(exp_dir.rstrip("/").rsplit("/", 1)[0], shared=storage_shared, on_cluster=address is not None)
    if not is_uri(exp_dir):
        _finish_upload(Path(exp_dir), verbose)  # before anything reads Tune's state there
    if not tune.Tuner.can_restore(exp_dir):
        raise SpecError([Problem(exp_dir, None, "(folder)", "Tune saved no state here yet: nothing to resume")])
    restarted: list[str] = []
    if not is_uri(exp_dir):
        _set_aside_untracked(Path(exp_dir), verbose)
        restarted = _set_aside_errored(Path(exp_dir), verbose) if restart_errored else []
    tuner = tune.Tuner.restore(
        exp_dir,
        trainable=trainable(spec, data, name),
        resume_unfinished=True,
        resume_errored=not restart_errored,
        restart_errored=restart_errored,
    )
    say(verbose, f"resuming {exp_dir}")
    after = (lambda: _drop_copied_back(Path(exp_dir), restarted)) if restarted else None
    return fit(tuner, exp_dir, spec, after)
