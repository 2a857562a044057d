"""Finish an interrupted sweep from its folder alone (``sweep.yaml`` holds the resolved sweep), through
:func:`hwk4tune.sweep.driver.drive`: the Tuner is restored from the state Tune saved there."""

from __future__ import annotations

from pathlib import Path

from hwk4tune.store.records import RecordError, is_uri, storage_location
from hwk4tune.sweep.driver import Started, SweepRun, drive, load_data
from hwk4tune.sweep.saved import load_saved_sweep, read_metadata
from hwk4tune.tune.console import say


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

    from hwk4tune.tune import recover

    temp = recover.ray_temp_dir()
    for staging in recover.staging_folders(exp, temp) if temp is not None else []:
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
    experiment's lock (:mod:`hwk4tune.sweep.lock`); Ctrl-C raises :class:`~hwk4tune.sweep.driver.SweepInterrupted`
    after Tune saved its state."""
    exp_dir = storage_location(experiment_dir)
    spec = load_saved_sweep(exp_dir)
    name = _experiment_name(exp_dir)
    data = load_data(spec)
    run = SweepRun(spec, exp_dir, name, storage=exp_dir.rstrip("/").rsplit("/", 1)[0], address=address,
                   verbose=verbose, storage_shared=storage_shared)
    return drive(run, lambda: _restart(run, data, restart_errored))


def _restart(run: SweepRun, data, restart_errored: bool) -> Started:
    """The Tuner restored from the folder, once the folder is put right: files the killed driver staged are
    copied in, trials Tune never recorded (and, with ``restart_errored``, errored ones) are set aside."""
    from hwk4tune.tune.tuner import check_restorable, restored_tuner

    exp_dir, verbose = run.exp_dir, run.verbose
    if not is_uri(exp_dir):
        _finish_upload(Path(exp_dir), verbose)  # before anything reads Tune's state there
    check_restorable(exp_dir)
    restarted: list[str] = []
    set_aside: list[str] = []
    if not is_uri(exp_dir):
        set_aside = _set_aside_untracked(Path(exp_dir), verbose)
        if restart_errored:
            restarted, lines = _set_aside_errored(Path(exp_dir), verbose)
            set_aside += lines
    tuner = restored_tuner(exp_dir, run.spec, run.name, data=data, restart_errored=restart_errored)
    after = (lambda: _drop_copied_back(Path(exp_dir), restarted)) if restarted else None
    # the set-aside lines were said before Tune's table too; repeated under the summary
    return Started(tuner, f"resuming {exp_dir}", after, set_aside)
