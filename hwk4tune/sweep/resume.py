"""Finish an interrupted sweep from its folder alone (``sweep.yaml`` holds the resolved sweep)."""

from __future__ import annotations

from pathlib import Path

from hwk4tune.spec import Problem, SpecError
from hwk4tune.store.records import RecordError, is_uri, storage_location
from hwk4tune.sweep.lock import experiment_lock
from hwk4tune.sweep.run import SweepInterrupted, fit, load_data, trainable
from hwk4tune.sweep.saved import load_saved_sweep, read_metadata
from hwk4tune.tune.console import say
from hwk4tune.tune.ray_setup import ensure_ray, shutdown


def _experiment_name(exp_dir: str) -> str:
    """The name `run` gave the experiment (its record), else the folder's name."""
    try:
        return read_metadata(exp_dir).name
    except RecordError:
        return exp_dir.rstrip("/").rsplit("/", 1)[-1]


def _files(folder: Path) -> dict[str, Path]:
    return {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}


def _set_aside(d: Path, where: Path) -> tuple[Path, str | None]:
    """Move the trial folder ``d`` into ``where`` (``.interrupted/`` or ``.restarted/``); return where its files
    are now, and a note when an earlier resume (one that failed or was stopped) had set a folder of that name
    aside already.

    A folder that comes back is most often the same trial's files once more: a killed driver's staging folder
    copied back by :func:`~hwk4tune.tune.recover.finish_upload`, or Tune copying a folder back before the
    resume failed. When every one of its files is already set aside, byte for byte, the copy is removed (keeping
    it would pile up one duplicate per retry); otherwise it is kept whole under the next free name
    (``trial_X.2``, ``trial_X.3`` ...) rather than merged, so that no file is overwritten and no folder mixes
    files from two attempts. Either way nothing is lost, and any number of retries finds the way clear."""
    import shutil

    where.mkdir(exist_ok=True)
    for name in [d.name, *(f"{d.name}.{n}" for n in range(2, 10_000))]:
        target = where / name
        if not target.exists():
            d.rename(target)
            return target, (None if name == d.name else f"{where / d.name} was taken (an earlier resume had set "
                            f"{d.name} aside): this copy, which differs, is kept as {target}")
        kept = _files(target)
        if all(rel in kept and _same(f, kept[rel]) for rel, f in _files(d).items()):
            shutil.rmtree(d)
            return target, (f"{d.name} was already set aside by an earlier resume as {target}, every file the "
                            "same: this copy was removed")
    raise OSError(f"{where}: no free name for {d.name}")


def _same(a: Path, b: Path) -> bool:
    import filecmp

    return filecmp.cmp(a, b, shallow=False)


def _set_aside_untracked(exp: Path, verbose: bool) -> list[str]:
    """Move the folders of trials Tune never recorded (started just before a kill) into ``.interrupted/``:
    the restored searcher proposes a new trial in their place, and tables must not count them twice. Their
    staged copies go too, so a later resume does not bring them back. Returns a line per folder, for the
    summary."""
    from hwk4tune.results import untracked_trial_dirs

    lines = []
    for d in untracked_trial_dirs(exp):
        target, again = _set_aside(d, exp / ".interrupted")
        _drop_staged(exp, d.name)  # finish_upload copied what was staged into d before it moved: nothing lost
        lines.append(f"note: {d.name} was never recorded by Tune (started after its last save): set aside in "
                     f"{target}" + (f"; {again}" if again else ""))
        say(verbose, f"note: {d.name} started after Tune last saved its state, so Tune never recorded it; "
                     f"a new trial takes its place; its folder moved to {target}", *([f"note: {again}"] if again else []))
    return lines


def _set_aside_errored(exp: Path, verbose: bool) -> tuple[list[str], list[str]]:
    """``--restart-errored``: Tune starts each errored trial over as a new trial (a new id and folder); the old
    folder moves into ``.restarted/`` (its error.txt kept) so tables do not count the trial twice. Returns the
    folders moved, and a line per folder for the summary."""
    from hwk4tune.store.tune_files import experiment_state

    state, _ = experiment_state(exp)
    moved, lines = [], []
    for info in state.values():
        d = exp / (info.get("dir") or "")
        if info.get("status") == "ERROR" and info.get("dir") and d.is_dir():
            target, again = _set_aside(d, exp / ".restarted")
            _drop_staged(exp, d.name)
            moved.append(d.name)
            lines.append(f"note: {d.name} errored and started over: set aside in {target}"
                         + (f"; {again}" if again else ""))
            say(verbose, f"note: {d.name} errored and starts over as a new trial; its folder moved to {target}",
                *([f"note: {again}"] if again else []))
    return moved, lines


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

    from hwk4tune.tune.recover import ray_temp_dir, staging_folders

    temp = ray_temp_dir()
    for staging in staging_folders(exp, temp) if temp is not None else []:
        shutil.rmtree(staging / trial_dir, ignore_errors=True)


def _finish_upload(exp: Path, verbose: bool) -> None:
    """Copy what the killed driver staged but never uploaded (:mod:`hwk4tune.tune.recover`)."""
    from hwk4tune.tune.recover import finish_upload, ray_temp_dir, release_finished_trials, repair_state

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
    set_aside: list[str] = []
    if not is_uri(exp_dir):
        set_aside = _set_aside_untracked(Path(exp_dir), verbose)
        if restart_errored:
            restarted, lines = _set_aside_errored(Path(exp_dir), verbose)
            set_aside += lines
    tuner = tune.Tuner.restore(
        exp_dir,
        trainable=trainable(spec, data, name),
        resume_unfinished=True,
        resume_errored=not restart_errored,
        restart_errored=restart_errored,
    )
    say(verbose, f"resuming {exp_dir}")
    after = (lambda: _drop_copied_back(Path(exp_dir), restarted)) if restarted else None
    text, interrupted = fit(tuner, exp_dir, spec, after)
    return "\n".join([text, *set_aside]), interrupted  # said before Tune's table too; repeated under the summary
