"""Run and resume sweeps: a validated :class:`~hwk4tune.spec.SweepSpec` -> one Ray Tune experiment.

The experiment lands in ``STORAGE/NAME/`` as Ray lays it out (one folder per trial), plus two files of
ours written before any trial starts:

- ``hwk4tune.json``: the metadata analysis reads (kind, strategy, searcher, scheduler, budget, metric,
  mode, trainable, data set, seed, the space) — never parse folder names;
- ``sweep.yaml``: the resolved sweep, space inlined, so ``resume`` needs nothing but the folder (it is a
  valid sweep file: ``hwk4tune validate DIR/sweep.yaml``).

Every Tune call of the project's sweeps is in this module and :mod:`hwk4tune.strategies`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import io
import json
import os
import re
import sys
from pathlib import Path
from typing import Iterator

import yaml

from hwk4tune.errors import InputError
from hwk4tune.space import Param
from hwk4tune.spec import Problem, SpecError, SweepSpec, load_sweep
from hwk4tune.strategies import StrategyArgs, build_scheduler, build_searcher, notices, problems, strategy_name

__all__ = ["run_sweep", "resume_sweep", "ensure_ray", "check_sweep", "read_metadata", "METADATA_FILE",
           "SPEC_FILE", "default_storage", "default_name"]

METADATA_FILE = "hwk4tune.json"
SPEC_FILE = "sweep.yaml"
TOP_K = 5
PROGRESS_METRICS = ("val_accuracy", "val_loss", "train_loss", "epoch", "epoch_seconds")


# ------------------------------------------------------------------------------------------ places


def default_storage() -> str:
    """``./runs``, absolute (Ray needs absolute paths)."""
    return str(Path("runs").resolve())


def _storage(storage: str | None, spec: SweepSpec) -> str:
    value = storage or spec.storage
    if not value:
        return default_storage()
    return value if "://" in value else str(Path(value).expanduser().resolve())


def default_name(spec: SweepSpec) -> str:
    """``<sweep file stem>-<YYYYmmdd-HHMMSS>``."""
    stem = spec.source.stem if spec.source else "sweep"
    return f"{stem}-{_dt.datetime.now():%Y%m%d-%H%M%S}"


def _join(storage: str, name: str) -> str:
    return f"{storage.rstrip('/')}/{name}" if "://" in storage else str(Path(storage) / name)


def _write_text(target: str, text: str) -> None:
    if "://" in target:
        import pyarrow.fs

        fs, path = pyarrow.fs.FileSystem.from_uri(target)
        fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        with fs.open_output_stream(path) as f:
            f.write(text.encode())
    else:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_text(text)


def _read_text(source: str) -> str:
    if "://" in source:
        import pyarrow.fs

        fs, path = pyarrow.fs.FileSystem.from_uri(source)
        with fs.open_input_stream(path) as f:
            return f.read().decode()
    return Path(source).read_text()


# ------------------------------------------------------------------------------------------ metadata


def _dsl(space: dict) -> dict:
    """Params back to the YAML DSL (``{loguniform: [a, b]}``), so the saved sweep is a sweep file again."""
    return {k: _dsl(v) if isinstance(v, dict) else {v.kind: list(v.args)} if isinstance(v, Param) else v
            for k, v in space.items()}


def resolved_sweep(spec: SweepSpec) -> dict:
    """The sweep as a self-contained mapping: the space inlined, paths absolute."""
    data = spec.model_dump(mode="json", exclude_none=True)
    space = spec.space.model_dump(mode="json", exclude_none=True)
    space["space"] = _dsl(spec.space.space)
    if spec.space.dataset.data_dir:
        space["dataset"]["data_dir"] = str(Path(spec.space.dataset.data_dir).resolve())
    data["space"] = space
    return data


def _seed(spec: SweepSpec) -> int | None:
    return getattr(spec.searcher, "seed", None)


def metadata(spec: SweepSpec, name: str) -> dict:
    """What ``hwk4tune.json`` holds (analysis reads this, not folder names)."""
    return {
        "kind": "sweep",
        "name": name,
        "sweep_file": str(spec.source.resolve()) if spec.source else None,
        "space_file": str(spec.space.source.resolve()) if spec.space.source else None,
        "space": spec.space.model_dump(mode="json"),
        "searcher": spec.searcher.model_dump(mode="json"),
        "scheduler": spec.scheduler.model_dump(mode="json"),
        "strategy": strategy_name(spec.searcher, spec.scheduler),
        "num_samples": spec.num_samples,
        "max_concurrent_trials": spec.max_concurrent_trials,
        "max_epochs": spec.space.max_epochs,
        "metric": spec.space.metric,
        "mode": spec.space.mode,
        "trainable": spec.space.trainable,
        "dataset": spec.space.dataset.model_dump(mode="json"),
        "seed": _seed(spec),
        "resources_per_trial": spec.resources_per_trial.model_dump(mode="json"),
        "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "hwk4tune_version": _version(),
    }


def _version() -> str:
    from hwk4tune import __version__

    return __version__


def read_metadata(experiment_dir: str | Path) -> dict:
    """The ``hwk4tune.json`` of an experiment folder."""
    return json.loads(_read_text(_join(str(experiment_dir), METADATA_FILE)))


# ------------------------------------------------------------------------------------------ checks


def check_sweep(spec: SweepSpec) -> list[str]:
    """Refuse a sweep that breaks a pairing rule (:class:`SpecError`, one problem per rule, naming the file
    and the key); return the notices (legal but wasteful choices) otherwise. Starts no Ray."""
    file = str(spec.source or "(sweep)")
    found = problems(spec)
    if found:
        raise SpecError([Problem(file, None, ".".join(str(k) for k in key), message) for key, message in found])
    return notices(spec)


def _check_resources(spec: SweepSpec, address: str | None) -> None:
    """A trial that asks for more than the whole local machine has would wait forever: refuse it."""
    import ray

    if address is not None:  # a cluster may autoscale; Ray tells the user itself
        return
    total = ray.cluster_resources()
    res = spec.resources_per_trial
    for key, want in (("cpu", res.cpu), ("gpu", res.gpu)):
        have = total.get(key.upper(), 0)
        if want > have:
            raise SpecError([Problem(str(spec.source or "(sweep)"), None, f"resources_per_trial.{key}",
                                     f"each trial asks for {want:g} {key}, but this machine's Ray has {have:g}")])


# ------------------------------------------------------------------------------------------ Ray


def ensure_ray(address: str | None = None, dashboard: bool = False, dashboard_host: str = "127.0.0.1",
               num_cpus: int | None = None, job_name: str | None = None, log_to_driver: bool = True) -> bool:
    """Reuse a running Ray (e.g. the tests' session-wide one), else start one: embedded and local when
    ``address`` is None, else connect (``auto``, ``ray://host:10001``). True when this call started it.
    ``log_to_driver=False`` keeps the trials' own output in Ray's log files only."""
    import ray

    from hwk4tune import cluster

    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # forced snapshots when trials checkpoint every (short) epoch are expected here, not a problem
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    job_config = cluster.job_config(job_name)  # the dashboard's Jobs view shows its name
    if address is None:
        if dashboard:
            cluster.warn_dashboard_host(dashboard_host)  # before it binds
        # A bare ray.init() joins the cluster that /tmp/ray/ray_current_cluster names (another user's
        # `ray start`, or a dead one it then waits on): "local" always starts our own. Inside a Ray Job
        # (`hwk4tune submit`) RAY_ADDRESS names the job's cluster, and that one is used.
        local = None if os.environ.get("RAY_ADDRESS") else "local"
        ctx = ray.init(address=local, num_cpus=num_cpus, include_dashboard=dashboard,
                       dashboard_host=dashboard_host, configure_logging=False, job_config=job_config,
                       log_to_driver=log_to_driver)
    else:
        try:
            ctx = ray.init(address=address, configure_logging=False, job_config=job_config,
                           log_to_driver=log_to_driver)
        except ConnectionError as exc:
            raise cluster.ClusterError(cluster.connect_hint(address, exc)) from None
    if dashboard or address is not None:
        try:
            url = getattr(ctx, "dashboard_url", None) or ray.get_runtime_context().dashboard_url
        except Exception:  # noqa: BLE001 - Ray Client contexts may not know it
            url = None
        if url:
            cluster.announce_dashboard(url)
    return True


def _trial_name(prefix: str, trial) -> str:
    """``<sweep name>_<trial id>``: what the progress table and the dashboard show."""
    return f"{prefix}_{trial.trial_id}"


def _trial_dirname(trial) -> str:
    return f"trial_{trial.trial_id}"


class _QuietStream(io.TextIOBase):
    """Passes text through, minus the ``SystemExit`` tracebacks Ray's workers print when a scheduler stops a
    trial early (harmless: the trial ends TERMINATED and the error count stays 0)."""

    _START = re.compile(r"^Traceback \(most recent call last\)")
    _CONTINUED = ("Traceback", "During handling", "The above exception")
    _NOISE = ("Checkpoint successfully created at:",)  # one per trial and epoch, from every worker

    def __init__(self, stream):
        self._stream = stream
        self._held: list[str] = []
        self._prefix = ""
        self._partial = ""
        self.hidden = 0

    def write(self, text: str) -> int:
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            self._line(line + "\n")
        return len(text)

    def _line(self, line: str) -> None:
        # Ray's "(ImplicitFunc pid=123) ", in colour on a terminal
        prefix = re.match(r"^((?:\x1b\[[0-9;]*m)?\([^)]*\)(?:\x1b\[[0-9;]*m)?\s?)?", line).group(0)
        body = line[len(prefix):]
        if not self._held:
            if body.startswith(self._NOISE):
                return
            if self._START.search(body):
                self._held, self._prefix = [line], prefix
            else:
                self._stream.write(line)
            return
        if prefix != self._prefix:  # another process's line, interleaved
            self._stream.write(line)
            return
        self._held.append(line)
        if body[:1] in (" ", "\t") or not body.strip() or body.startswith(self._CONTINUED):
            if len(self._held) > 500:
                self._flush_held()
            return
        # the exception line ends the traceback
        if body.startswith("SystemExit"):
            self._held = []
            self.hidden += 1
        else:
            self._flush_held()

    def _flush_held(self) -> None:
        for held in self._held:
            self._stream.write(held)
        self._held = []

    def flush(self) -> None:
        self._stream.flush()

    def close_out(self) -> None:
        self._flush_held()
        if self._partial:
            self._stream.write(self._partial)
            self._partial = ""
        self._stream.flush()

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextlib.contextmanager
def _quiet_early_stops() -> Iterator[_QuietStream]:
    quiet = _QuietStream(sys.stderr)
    old, sys.stderr = sys.stderr, quiet
    try:
        yield quiet
    finally:
        sys.stderr = old
        quiet.close_out()


# ------------------------------------------------------------------------------------------ run


def _load_data(spec: SweepSpec):
    from hwk4tune.data import load_dataset

    ds = spec.space.dataset
    return load_dataset(ds.name, subset=ds.subset, data_dir=ds.data_dir, val_fraction=ds.val_fraction, seed=ds.seed)


def _trainable(spec: SweepSpec, data, name: str):
    from ray import tune

    from hwk4tune.cluster import name_trainable
    from hwk4tune.feature_cache import features_for_space
    from hwk4tune.trainables import build_trainable

    # issue 11: head-only trials without augmentation train on the backbone's features, computed once
    features = features_for_space(spec.space.trainable, spec.space.space, data, say=lambda t: print(t, flush=True))
    # actors and log lines read `hwk4tune.<sweep>` in the dashboard; resume needs the same name
    fn = name_trainable(build_trainable(spec.space.trainable, data, spec.space.max_epochs, features=features), name)
    res = spec.resources_per_trial
    return tune.with_resources(fn, {"cpu": res.cpu, "gpu": res.gpu})


def _checkpoint_config(spec: SweepSpec):
    """Which checkpoints a trial keeps.

    PBT and PB2 clone other trials' recent checkpoints, which they note as they go: keep the 4 most recent
    (Ray warns, and exploits fail, with 2 or fewer; deleting by score removed noted ones and failed trials).
    Otherwise keep the 2 best by the metric (best.yaml points at one) and, always, the latest (Ray keeps it
    whatever its score: resume starts from it).
    """
    from ray import tune

    if spec.scheduler.name in ("pbt", "pb2"):
        return tune.CheckpointConfig(num_to_keep=4)
    return tune.CheckpointConfig(num_to_keep=2, checkpoint_score_attribute=spec.space.metric,
                                 checkpoint_score_order=spec.space.mode)


def _shutdown(started: bool) -> None:
    """Stop the Ray this sweep started; the worker log lines Ray flushes on the way out are filtered too."""
    if started:
        import ray

        with _quiet_early_stops():
            ray.shutdown()


def _say(verbose: bool, *lines: str) -> None:
    if verbose:
        for line in lines:
            print(line, file=sys.stderr if line.startswith("notice:") else sys.stdout, flush=True)


def run_sweep(spec: SweepSpec, *, storage: str | None = None, name: str | None = None, address: str | None = None,
              dashboard: bool = False, dashboard_host: str = "127.0.0.1", verbose: bool = True,
              storage_shared: bool = False) -> Path:
    """Run one sweep to the end; return its experiment folder ``STORAGE/NAME`` (a str-like Path; for a URI
    storage the returned value is ``Path(uri)``, use ``str()``).

    Pairing rules are checked before Ray starts (:class:`SpecError`). Ctrl-C stops the sweep, Tune saves
    its state, and the resume command is printed. On a cluster of several nodes, storage must be shared
    (a URI, a network file system, or ``storage_shared``): see :func:`hwk4tune.cluster.check_storage`.
    """
    from ray import tune

    from hwk4tune.cluster import check_storage

    found_notices = check_sweep(spec)
    storage = _storage(storage, spec)
    name = name or spec.name or default_name(spec)
    exp_dir = _join(storage, name)
    _refuse_existing(exp_dir)
    _say(verbose, *(f"notice: {n}" for n in found_notices))

    data = _load_data(spec)  # on the driver, once; into the object store with the trainable
    started = ensure_ray(address, dashboard, dashboard_host, job_name=name)
    try:
        check_storage(storage, shared=storage_shared, on_cluster=address is not None)
        _check_resources(spec, address)
        args = StrategyArgs.from_sweep(spec, name)
        search_alg, scheduler = build_searcher(args), build_scheduler(args)
        _write_text(_join(exp_dir, METADATA_FILE), json.dumps(metadata(spec, name), indent=2) + "\n")
        _write_text(_join(exp_dir, SPEC_FILE), _spec_yaml(spec))
        tuner = tune.Tuner(
            _trainable(spec, data, name),
            param_space=_param_space(spec),
            tune_config=tune.TuneConfig(
                metric=spec.space.metric,
                mode=spec.space.mode,
                search_alg=search_alg,
                scheduler=scheduler,
                num_samples=spec.num_samples,
                reuse_actors=spec.reuse_actors,
                trial_name_creator=functools.partial(_trial_name, name),
                trial_dirname_creator=_trial_dirname,
            ),
            run_config=_run_config(spec, name, storage, verbose),
        )
        _say(verbose, f"sweep {name}: {strategy_name(spec.searcher, spec.scheduler)}, {spec.num_samples} trials "
                      f"of up to {spec.space.max_epochs} epochs -> {exp_dir}")
        text = _fit(tuner, exp_dir, spec, verbose)
    finally:
        _shutdown(started)
    _say(verbose, text)
    return Path(exp_dir)


class ExperimentExists(InputError):
    """The experiment folder of a new sweep already holds one: running into it would mix two sweeps."""


def _refuse_existing(exp_dir: str) -> None:
    if "://" in exp_dir:
        return  # remote storage: Tune itself keeps experiments apart there
    path = Path(exp_dir)
    if path.is_dir() and ((path / METADATA_FILE).exists() or any(path.glob("experiment_state-*.json"))):
        raise ExperimentExists(f"--name: {path} already holds an experiment; finish it with "
                               f"`hwk4tune resume {path}`, or give another --name")


def _param_space(spec: SweepSpec) -> dict:
    from hwk4tune.space import to_tune

    return to_tune(spec.space.space)


def _run_config(spec: SweepSpec, name: str, storage: str, verbose: bool):
    from ray import tune

    return tune.RunConfig(
        name=name,
        storage_path=storage,
        # The trainable ends by itself after max_epochs; saying so to Tune makes the last result a STOP
        # rather than a scheduler's decision (Ray's synchronous HyperBand otherwise PAUSEs a trial at its
        # last epoch and can leave it PAUSED when the sweep ends).
        stop={"epoch": spec.space.max_epochs},
        failure_config=tune.FailureConfig(max_failures=spec.max_failures),
        checkpoint_config=_checkpoint_config(spec),
        verbose=1 if verbose else 0,
        progress_reporter=_reporter(spec),
    )


def _reporter(spec: SweepSpec):
    """Tune's classic status table, every 15 s: trials sorted by the metric, with the parameters searched."""
    from ray import tune

    metrics = list(dict.fromkeys([spec.space.metric, *PROGRESS_METRICS]))
    return tune.CLIReporter(
        metric_columns=metrics,
        parameter_columns=list(spec.space.params),
        max_report_frequency=15,
        sort_by_metric=True,  # metric and mode come from TuneConfig
        max_progress_rows=20,
    )


def _spec_yaml(spec: SweepSpec) -> str:
    header = "# The resolved sweep of this experiment (space inlined); `hwk4tune resume` reads it.\n"
    return header + yaml.safe_dump(resolved_sweep(spec), sort_keys=False)


def _fit(tuner, exp_dir: str, spec: SweepSpec, verbose: bool) -> str:
    """Run the Tuner with worker noise filtered; return the end-of-sweep summary."""
    # Tune's newer output engine ignores a CLIReporter and prints a box per trial start and end: too much
    # for sweeps of many short trials. RAY_AIR_NEW_OUTPUT=1 in the environment brings it back.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # forced snapshots when trials checkpoint every (short) epoch are expected here, not a problem
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    with _quiet_early_stops() as quiet:  # -q hides the table and summary, never lets the noise through
        try:
            results = tuner.fit()
        except KeyboardInterrupt:
            print(f"\ninterrupted; resume with:  hwk4tune resume {exp_dir}", file=sys.stderr)
            raise
    return summary(results, exp_dir, planned_trials(spec), hidden_tracebacks=quiet.hidden)


def planned_trials(spec: SweepSpec) -> int:
    """How many trials the sweep runs: ``num_samples``, times the size of the grid when there is one."""
    grid = 1
    for p in spec.space.params.values():
        if p.kind == "grid":
            grid *= len(p.args)
    return spec.num_samples * grid


def summary(results, exp_dir: str, planned: int, hidden_tracebacks: int = 0) -> str:
    """The end-of-sweep text: counts, the top trials, where the experiment is, what to run next.

    Counts come from what Tune saved (as `hwk4tune table` reads it): after Ctrl-C, the trials Tune stopped
    stay RUNNING there, while the in-memory result calls them TERMINATED.
    """
    counts = _saved_counts(exp_dir)
    if counts is None:  # remote storage: the in-memory view
        statuses = [t.status for t in results._experiment_analysis.trials]
        counts = {s: statuses.count(s) for s in ("TERMINATED", "ERROR")}
        counts["unfinished"] = len(statuses) - counts["TERMINATED"] - counts["ERROR"]
    unfinished = counts["unfinished"] + max(0, planned - sum(counts.values()))
    lines = ["", f"{planned} trials planned: {counts['TERMINATED']} finished, {counts['ERROR']} errors"
                 + (f", {unfinished} unfinished (interrupted)" if unfinished else "")]
    table = top_trials(results)
    if table is not None:
        lines += ["", f"top {TOP_K} by {results._experiment_analysis.default_metric}:", table]
    if counts["ERROR"]:
        lines.append(f"errors: see {exp_dir}/trial_*/error.txt")
    if hidden_tracebacks:
        lines.append(f"({hidden_tracebacks} 'SystemExit' tracebacks from trials that schedulers stopped early "
                     "were hidden: they are harmless)")
    lines += ["", f"experiment  {exp_dir}", f"tables      hwk4tune table {exp_dir}"]
    if unfinished:
        lines.append(f"resume      hwk4tune resume {exp_dir}")
    return "\n".join(lines)


def _saved_counts(exp_dir: str) -> dict[str, int] | None:
    if "://" in exp_dir:
        return None
    from hwk4tune.results import load_experiment

    counts = load_experiment(exp_dir).counts()
    return {"TERMINATED": counts["TERMINATED"], "ERROR": counts["ERROR"],
            "unfinished": sum(v for k, v in counts.items() if k in ("RUNNING", "PENDING", "PAUSED"))}


def top_trials(results, k: int = TOP_K) -> str | None:
    analysis = results._experiment_analysis
    metric, mode = analysis.default_metric, analysis.default_mode
    df = results.get_dataframe()
    if df.empty or metric not in df:
        return None
    df = df.dropna(subset=[metric]).sort_values(metric, ascending=(mode == "min")).head(k)
    config_cols = [c for c in df.columns if c.startswith("config/")]
    cols = ["trial_id", metric] + [c for c in ("epoch", "training_iteration") if c in df][:1] + config_cols
    shown = df[cols].rename(columns={c: c.removeprefix("config/") for c in config_cols})
    return shown.to_string(index=False, float_format=lambda v: f"{v:.4g}")


# ------------------------------------------------------------------------------------------ resume


def _experiment_name(exp_dir: str) -> str:
    """The name `run` gave the experiment (its metadata), else the folder's name."""
    try:
        return read_metadata(exp_dir)["name"]
    except (OSError, KeyError, ValueError):
        return exp_dir.rstrip("/").rsplit("/", 1)[-1]


def load_saved_sweep(experiment_dir: str | Path) -> SweepSpec:
    """The sweep an experiment folder was started with (its ``sweep.yaml``)."""
    target = _join(str(experiment_dir), SPEC_FILE)
    if "://" in target:
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            local = Path(d) / SPEC_FILE
            local.write_text(_read_text(target))
            return load_sweep(local)
    if not Path(target).exists():
        raise SpecError([Problem(str(experiment_dir), None, "(folder)",
                                 f"no {SPEC_FILE} here: not an experiment folder of `hwk4tune run`")])
    return load_sweep(target)


def _set_aside_untracked(exp: Path, verbose: bool) -> None:
    """Move the folders of trials Tune never recorded (started just before a kill) into ``.interrupted/``:
    the restored searcher proposes a new trial in their place, and tables must not count them twice."""
    from hwk4tune.results import untracked_trial_dirs

    for d in untracked_trial_dirs(exp):
        target = exp / ".interrupted" / d.name
        target.parent.mkdir(exist_ok=True)
        d.rename(target)
        _say(verbose, f"note: {d.name} started after Tune last saved its state, so Tune never recorded it; "
                      f"a new trial takes its place; its folder moved to {target}")


def resume_sweep(experiment_dir: str | Path, *, restart_errored: bool = False, address: str | None = None,
                 verbose: bool = True, storage_shared: bool = False) -> Path:
    """Finish an interrupted sweep: unfinished trials go on from their last checkpoint; errored ones are
    resumed (or, with ``restart_errored``, started over); finished ones are kept as they are."""
    from ray import tune

    from hwk4tune.cluster import check_storage

    exp_dir = str(experiment_dir)
    if "://" not in exp_dir:
        exp_dir = str(Path(exp_dir).expanduser().resolve())
    spec = load_saved_sweep(exp_dir)
    data = _load_data(spec)
    started = ensure_ray(address, job_name=_experiment_name(exp_dir))
    try:
        check_storage(exp_dir.rstrip("/").rsplit("/", 1)[0], shared=storage_shared, on_cluster=address is not None)
        if not tune.Tuner.can_restore(exp_dir):
            raise SpecError([Problem(exp_dir, None, "(folder)", "Tune saved no state here yet: nothing to resume")])
        if "://" not in exp_dir:
            _set_aside_untracked(Path(exp_dir), verbose)
        tuner = tune.Tuner.restore(
            exp_dir,
            trainable=_trainable(spec, data, _experiment_name(exp_dir)),
            resume_unfinished=True,
            resume_errored=not restart_errored,
            restart_errored=restart_errored,
        )
        _say(verbose, f"resuming {exp_dir}")
        text = _fit(tuner, exp_dir, spec, verbose)
    finally:
        _shutdown(started)
    _say(verbose, text)
    return Path(exp_dir)
