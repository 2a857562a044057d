"""Run a comparison: every (strategy, seed) of the plan as a sweep, on one Ray, then its files. A replayed
comparison (``replay:``) starts no Ray: each run is a discrete-event simulation on the recorded table
(:mod:`hwk4tune.tune.simulated_replay`), the same every time.

Resuming (``--resume``): a run whose ``run.json`` says ``done`` is skipped. A run that was interrupted is
deleted and run again from scratch, not continued with ``resume_sweep``: a comparison is about equal
budgets and comparable wall time, and a continued sweep's timeline (the gap, restarted actors, searcher
state rebuilt from the saved trials) would not be comparable with the runs that went through in one go;
runs are small, so little is lost.

``out`` may be a storage URI (``s3://bucket/prefix``): the runs are sweeps that Tune writes into
``URI/runs/<name>`` (as ``run --storage`` does); the comparison's own files are assembled in the URI's local
mirror and pushed to the URI after each run and at the end (:class:`hwk4tune.store.remote.Workspace`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from hwk4tune.compare.comparison import Comparison, load_comparison
from hwk4tune.compare.plan import RunPlan, plan, plan_record
from hwk4tune.compare.render import write_comparison
from hwk4tune.results import Experiment, ResultsError, load_experiment
from hwk4tune.spec import CompareSpec
from hwk4tune.store.records import (
    JOURNAL_FILE,
    PLAN_FILE,
    RUN_FILE,
    RUNS_DIR,
    ComparisonRecord,
    RecordError,
    RunRecord,
    join,
    now,
    read_record,
    write_record,
)
from hwk4tune.store.remote import Workspace
from hwk4tune.sweep.driver import shared_ray


def run_compare(spec: CompareSpec, out: str | Path, *, resume: bool = False, address: str | None = None,
                verbose: bool = True, say: Callable[[str], None] | None = None) -> Comparison:
    """Run every (strategy, seed) of ``spec`` into ``out`` (a folder or a storage URI) and write the
    comparison files.

    ``resume`` skips runs already ``done`` and re-runs interrupted ones from scratch. Without it, a folder
    that already holds a comparison is refused (:class:`ResultsError`).
    """
    say = say or (lambda text: print(text, flush=True) if verbose else None)
    place = Workspace.of(out)  # a URI: its files are assembled in its local mirror and pushed
    out = place.pull_all()
    storage = join(place.target, RUNS_DIR)  # where the runs' sweeps go (Tune writes a URI itself)
    runs = plan(spec, storage)
    record = _write_plan(spec, runs, place, resume)
    say(f"comparison: {len(spec.strategies)} strategies x {len(spec.seeds)} seeds = {len(runs)} runs of "
        f"{spec.budget.num_samples} trials x up to {spec.max_epochs} epochs -> {place.target}"
        + (f" (replayed from {spec.replay.name}, simulated)" if spec.replay else ""))
    todo = []
    for r in runs:
        if _done(out / RUNS_DIR / r.name / RUN_FILE):
            say(f"  {r.name}: done before, skipped")
        else:
            todo.append(r)
    if todo:  # a replay is simulated: no Ray (hwk4tune.tune.simulated_replay)
        with contextlib.nullcontext() if spec.replay else ray_for_runs(address):
            runner = _Runner(spec, place, storage, address, record.budget, _replay_table(spec, todo), say)
            for i, r in enumerate(todo, start=1):
                runner.run(r, f"[{i}/{len(todo)}]")
    comparison = load_comparison(out)
    for path in place.push(*(p.relative_to(out) for p in write_comparison(comparison))):
        say(f"wrote {path}")
    return comparison


def _write_plan(spec: CompareSpec, runs: list[RunPlan], place: Workspace, resume: bool) -> ComparisonRecord:
    """Write ``comparison.json``; a comparison already there is continued only with ``resume`` and only if
    it was planned the same (space, budget, strategies)."""
    out, where = place.local, place.target
    record = plan_record(spec, runs)
    if (out / PLAN_FILE).is_file():
        if not resume:
            raise ResultsError(f"{where} already holds a comparison: pass --resume to continue it, or choose "
                               "another --out")
        existing = read_record(ComparisonRecord, out / PLAN_FILE)
        if existing.definition != record.definition:
            raise ResultsError(f"{where}: the comparison there was planned with another space, budget or "
                               "strategies; --resume continues only the same comparison (choose another --out)")
        record = record.model_copy(update={"created": existing.created, "resumed": now()})
    out.mkdir(parents=True, exist_ok=True)
    write_record(record, out / PLAN_FILE)
    place.push(PLAN_FILE)
    return record


@dataclass(frozen=True)
class _Runner:
    """What every run of a comparison shares: runs are sweeps (:func:`hwk4tune.sweep.run_sweep`) into
    ``storage``, each with its ``run.json`` and one Optuna journal for all; in a replay (``replay``: the
    table), simulated sweeps (:func:`hwk4tune.tune.simulated_replay.simulate_sweep`) without a journal."""

    spec: CompareSpec
    place: Workspace
    storage: str
    address: str | None
    budget: Any
    replay: Any  # the ReplayTable of a replayed comparison, else None
    say: Callable[[str], None]

    def run(self, r: RunPlan, position: str) -> None:
        """One run from scratch (a folder left by an interrupted one is removed first), its record kept."""
        from hwk4tune.sweep import run_sweep

        out, run_dir = self.place.local, f"{RUNS_DIR}/{r.name}"
        run_file = f"{run_dir}/{RUN_FILE}"
        if (out / run_dir).exists():  # interrupted before: start it over (see the module's docstring)
            self.place.remove(run_dir)
            self.say(f"  {r.name}: interrupted before, running it again from scratch")
        run = RunRecord(label=r.label, seed=r.seed, name=r.name, budget=self.budget, metric=self.spec.space.metric,
                        mode=self.spec.space.mode, status="running", started=now(), started_unix=time.time())
        write_record(run, out / run_file)
        self.place.push(run_file)
        self.say(f"{position} {r.name}: {r.label} ({r.sweep.searcher.name}+{r.sweep.scheduler.name}), "
                 f"seed {r.seed} ...")
        t0 = time.perf_counter()
        # Tune logs each failed trial's traceback on the driver; a comparison reports errors per run (error.txt)
        with _log_levels(logging.CRITICAL, *TUNE_LOGGERS):
            if self.replay is not None:
                self._simulate(r, run.started_unix)
            else:
                run_sweep(r.sweep, storage=self.storage, name=r.name, address=self.address, verbose=False,
                          live=_live(out, r.label))
        wall = time.perf_counter() - t0
        exp = load_experiment(self.place.pull(run_dir))
        run = run.model_copy(update={"status": "done", "finished": now(), "finished_unix": time.time(),
                                     "wall_s": wall})
        write_record(run, out / run_file)
        self.place.push(run_file, JOURNAL_FILE)
        self.say(f"{position} {r.name}: {_run_line(exp)}, {wall:.0f} s")

    def _simulate(self, r: RunPlan, start_unix: float) -> None:
        """One replayed run as a simulation, into the run's folder (in the mirror of a URI, then pushed)."""
        from hwk4tune.sweep.saved import write_saved
        from hwk4tune.tune.simulated_replay import simulate_sweep

        run_dir = f"{RUNS_DIR}/{r.name}"
        exp_dir = self.place.local / run_dir
        exp_dir.mkdir(parents=True, exist_ok=True)
        write_saved(str(exp_dir), r.sweep, r.name)
        simulate_sweep(r.sweep, self.replay, r.name, str(exp_dir), start_unix=float(int(start_unix)))
        if self.place.remote:
            out = self.place.local
            self.place.push(*(p.relative_to(out) for p in sorted(exp_dir.rglob("*")) if p.is_file()))


def _replay_table(spec: CompareSpec, todo: list[RunPlan]):
    """The table of a replayed comparison (read once; the libraries its strategies need imported before
    the runs are timed), else None."""
    if spec.replay is None:
        return None
    from hwk4tune.replay import read_table
    from hwk4tune.tune.simulated_replay import warm_up

    with _log_levels(logging.WARNING, "optuna"):
        warm_up([r.sweep for r in todo])
    return read_table(spec.replay)


def _done(run_file: Path) -> bool:
    try:
        return run_file.is_file() and read_record(RunRecord, run_file).status == "done"
    except RecordError:
        return False


TUNE_LOGGERS = ("ray.tune", "ray.train", "ray.air")


@contextlib.contextmanager
def _log_levels(level: int, *names: str) -> Iterator[None]:
    """These loggers at ``level`` for the block, then at their own levels again."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(level)
    try:
        yield
    finally:
        for lg, old in zip(loggers, levels):
            lg.setLevel(old)


@contextlib.contextmanager
def ray_for_runs(address: str | None) -> Iterator[None]:
    """One Ray for all runs, as `run` starts it, without the trials' output (a comparison prints one line per
    run instead), and Optuna's "A new study created in memory" (once per optuna run) off; both as they were
    after the block. A Ray already running (the demo's, for both its comparisons) is used and left running."""
    with shared_ray(address, trial_output=False), _log_levels(logging.WARNING, "optuna"):  # optuna's verbosity
        yield


def _run_line(exp: Experiment) -> str:
    c = exp.counts()
    best = exp.curve()["best"]
    value = f"{best.iloc[-1]:.4f}" if len(best) and math.isfinite(best.iloc[-1]) else "n/a"
    return (f"{len(exp.trials)} trials ({c['stopped_early']} stopped early, {c['ERROR']} errored), "
            f"{int(exp.trials['epochs'].sum()) if len(exp.trials) else 0} epochs, best {exp.metric} {value}")


def _live(out: Path, label: str):
    """One Optuna journal for the whole comparison, one study per run (``hwk4tune dashboard OUT``); a local
    file, in the mirror of a URI (pushed after each run)."""
    from hwk4tune.live import LiveOptions

    return LiveOptions(journal=str(Path(out) / JOURNAL_FILE), label=label)
