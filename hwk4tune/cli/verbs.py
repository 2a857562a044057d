"""The verbs of the ``hwk4tune`` command, each a thin shell over one library function; its docstring is the
verb's ``--help``. Heavy imports (torch, ray, matplotlib) happen inside the verb that needs them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hwk4tune.cli.presence import local_data_dir, refuse_uri
from hwk4tune.errors import InputError
from hwk4tune.spec import SpecError

EXIT_BAD_INPUT = 2


class UsageError(InputError):
    """Bad input found outside a spec file (a flag, a folder): one line, exit 2."""


SPEC_FILE_HERE = "spec files are read from this machine (the space file beside them too): copy them here first"


def cmd_validate(args: argparse.Namespace) -> int:
    """Check spec files (space, sweep or compare) and print a normalized summary of each.

Each data set a file names must be on this machine (`hwk4tune data list`); --data-dir DIR searches DIR first.
Then its notices: legal choices that waste the budget or do nothing (a scheduler that can stop no trial, a
one-value choice...), each with the numbers and a fix. --strict makes notices errors (exit 2)."""
    from hwk4tune.cli.presence import missing_data, with_data_dir
    from hwk4tune.spec import load_any, parse_overrides
    from hwk4tune.spec.notices import notices_of
    from hwk4tune.spec.summary import summarize

    overrides = with_data_dir(parse_overrides(args.set), args.data_dir)
    problems: list[str] = []
    for path in args.files:
        try:
            spec = load_any(path, overrides)
        except SpecError as exc:
            problems.extend(str(p) for p in exc.problems)
            continue
        missing = missing_data(spec, overrides)
        if missing:  # a file that cannot run here is not "ok"
            problems.extend(str(p) for p in missing)
            continue
        print(summarize(spec, path))
        if getattr(spec, "warm_start", None) is not None:  # how many earlier trials are used, mapped, left out
            from hwk4tune.results.warm_start import plan_warm_start

            try:
                print("\n".join(plan_warm_start(spec).lines()))
            except (SpecError, InputError) as exc:
                problems.extend(str(exc).splitlines())
        for notice in notices_of(spec):
            (problems.append(f"{path}: error (--strict): {notice}") if args.strict
             else print(f"notice: {notice}", file=sys.stderr))
    for line in problems:
        print(line, file=sys.stderr)
    return EXIT_BAD_INPUT if problems else 0


def cmd_schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema of the spec files (for an editor's YAML language server)."""
    from hwk4tune.spec import json_schema

    text = json.dumps(json_schema(), indent=2)
    if args.output:
        Path(args.output).write_text(text + "\n")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(text)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run a sweep: every searcher x scheduler from YAML, on an embedded Ray or a cluster.

The experiment lands in STORAGE/NAME/ (default ./runs/<file stem>-<date>-<time>/), one folder per trial.
Ctrl-C stops it and Tune keeps its state: `hwk4tune resume DIR` finishes it."""
    from hwk4tune.cli.presence import with_data_dir
    from hwk4tune.live import LiveOptions
    from hwk4tune.spec import load_sweep, parse_overrides
    from hwk4tune.sweep import run_sweep

    refuse_uri(args.file, "SWEEP.yaml", SPEC_FILE_HERE + " (--storage takes a URI)")
    overrides = with_data_dir(parse_overrides(args.set), args.data_dir)
    if args.num_samples is not None:
        overrides.given("num_samples", args.num_samples, "--num-samples", str(args.num_samples))
    if args.max_concurrent is not None:
        overrides.given("max_concurrent_trials", args.max_concurrent, "--max-concurrent", str(args.max_concurrent))
    spec = _with_warm_start(load_sweep(args.file, overrides), args.warm_start)
    _check_data(spec, overrides, not args.quiet)
    run_sweep(spec, storage=args.storage, name=args.name, address=args.address, dashboard=args.dashboard,
              dashboard_host=args.dashboard_host, verbose=not args.quiet, storage_shared=args.storage_shared,
              live=LiveOptions(tensorboard=args.tensorboard, dashboard=args.dashboard,
                               dashboard_host=args.dashboard_host))
    return 0


def _with_warm_start(spec, paths: list[str]):
    """``--warm-start PATH`` (repeatable): the sources of the sweep's ``warm_start:``, paths relative to here."""
    if not paths:
        return spec
    from hwk4tune.spec.warm_start import WarmStart

    paths = [p if "://" in p else str(Path(p).expanduser().resolve()) for p in paths]
    ws = spec.warm_start.model_copy(update={"from_": paths}) if spec.warm_start else WarmStart(**{"from": paths})
    return spec.model_copy(update={"warm_start": ws})


def _check_data(spec, overrides: dict | None = None, verbose: bool = True) -> None:
    """Before Ray starts: a data set that is not here is refused in one line where no download will be tried
    (HWK4TUNE_OFFLINE=1); else the loader tries it, and its failure names the same fixes."""
    from hwk4tune.cli.presence import missing_data, spaces_of
    from hwk4tune.learn.datasets.roots import offline

    missing = missing_data(spec, overrides)
    if missing and offline():
        raise SpecError(missing)
    if missing and verbose:
        names = ", ".join(repr(space.dataset.name) for space in spaces_of(spec))
        print(f"notice: data set {names} is not on this machine: trying to download it before the sweep starts "
              "(HWK4TUNE_OFFLINE=1 refuses at once instead)", file=sys.stderr)


def cmd_resume(args: argparse.Namespace) -> int:
    """Finish an interrupted sweep from its experiment folder: unfinished and errored trials go on from
their last checkpoint; finished ones are kept and never run again."""
    from hwk4tune.store.records import is_uri, storage_location
    from hwk4tune.sweep import resume_sweep

    if not is_uri(args.dir) and not Path(storage_location(args.dir)).is_dir():  # file:///PATH is PATH
        raise UsageError(f"{args.dir}: no such experiment folder")
    if local_data_dir(args.data_dir) is not None:  # searched after the saved dataset.data_dir, as $HWK4TUNE_DATA is
        import os

        os.environ["HWK4TUNE_DATA"] = str(Path(args.data_dir).expanduser().resolve())
    resume_sweep(args.dir, restart_errored=args.restart_errored, address=args.address, verbose=not args.quiet,
                 storage_shared=args.storage_shared)
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    """Submit a sweep to a Ray cluster as a Ray Job; it runs `hwk4tune run` on the head node.

The sweep file and its space file travel as the job's working_dir, and this hwk4tune package as its
py_modules (unless --no-ship): the cluster needs hwk4tune's dependencies (Ray, torch, optuna…) in the Python
that runs Ray, not hwk4tune itself; the job checks them before the sweep starts. Prints the job id, what was
shipped, the dashboard URL and how to follow the logs. --storage must be a URI or an absolute path on the
cluster (default ~/hwk4tune-runs on the head; a cluster of several nodes needs shared storage); with
--storage s3://bucket/prefix, `table`, `best` and `report` read the printed results folder from any machine.
SWEEP.yaml is a file on this machine, not a URI: it travels with the job. The token is read from
$RAY_AUTH_TOKEN, $RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token."""
    from hwk4tune.cluster import submit, wait_for_job
    from hwk4tune.spec import load_sweep, parse_overrides

    refuse_uri(args.file, "SWEEP.yaml", "submit sends the sweep file and its space file from this machine as the "
               "job's working_dir: copy them here first (--storage takes a URI)")
    overrides = parse_overrides(args.set)
    run_args = [f"--set={item}" for item in args.set]
    if args.num_samples is not None:
        overrides.given("num_samples", args.num_samples, "--num-samples", str(args.num_samples))
        run_args.append(f"--num-samples={args.num_samples}")
    if args.max_concurrent is not None:
        overrides.given("max_concurrent_trials", args.max_concurrent, "--max-concurrent", str(args.max_concurrent))
        run_args.append(f"--max-concurrent={args.max_concurrent}")
    spec = load_sweep(args.file, overrides)  # refused here, before anything is sent
    job = submit(spec, address=args.address, storage=args.storage, name=args.name,
                 storage_shared=args.storage_shared, run_args=run_args, ship=not args.no_ship)
    print("\n".join(job.lines()), flush=True)
    if not args.wait:
        return 0
    status = wait_for_job(job)
    print(f"job {job.job_id}: {status}")
    return 0 if status == "SUCCEEDED" else 1


# ------------------------------------------------------------------------------------------- results


def _experiment_dirs(paths: list[str]) -> list[Path]:
    from hwk4tune.store.records import METADATA_FILE, is_experiment_dir
    from hwk4tune.store.remote import readable
    from hwk4tune.store.tune_files import STATE_GLOB

    dirs = []
    for p in paths:
        path = readable(p)  # s3://…: its local mirror (hwk4tune.store.remote)
        if not path.is_dir():
            raise UsageError(f"{p}: no such folder")
        if not is_experiment_dir(path):
            raise UsageError(f"{p}: not an experiment folder (no {METADATA_FILE} or {STATE_GLOB})")
        dirs.append(path)
    return dirs


def _output(path: str | None):
    """``-o FILE``: ``(where to write it, its workspace)``. A path is as given (no workspace); a storage URI is
    the file's place in the local mirror of its folder, whose :class:`~hwk4tune.store.remote.Workspace` pushes it
    there once written (:func:`_written`)."""
    from hwk4tune.store.records import is_uri
    from hwk4tune.store.remote import Workspace

    if path is None or not is_uri(path):
        return path, None
    place, name = Workspace.of_file(path)
    return place.local / name, place


def _written(place, *files: Path) -> list[str]:
    """Where these files written for :func:`_output` are now: pushed to its URI, else their own paths."""
    return place.push(*(f.relative_to(place.local) for f in files)) if place else [str(f) for f in files]


def cmd_table(args: argparse.Namespace) -> int:
    """Trials of one or more experiment folders as a table: md, csv, html, parquet or json.

One row per trial: status, epochs, best and last metric, wall time, error, config/* columns. Reads the
files only (no Ray): works on finished, interrupted and errored experiments, and on copied folders.
md and html show the main columns; csv, parquet and json hold them all (--history: one row per epoch).
"Best" is each trial's best epoch (best_<metric>, at best_epoch), as run, best, report and compare use it;
--last ranks by the last epoch's value (last_<metric>) instead."""
    import pandas as pd

    from hwk4tune.results import display_columns, format_table, load_experiment, sort_trials
    from hwk4tune.results.experiment import best_rule

    if args.format == "parquet" and not args.output:
        raise UsageError("--format parquet is binary: give -o FILE")
    exps = [load_experiment(d) for d in _experiment_dirs(args.dirs)]
    metric, mode = exps[0].metric, exps[0].mode
    if args.pareto:  # several objectives: the non-dominated trials (hwk4tune.results.pareto)
        from hwk4tune.results.pareto import pareto_front

        if args.history or args.sort:
            raise UsageError("--pareto orders the front by its objectives: no --history or --sort with it")
        df = pd.concat([pareto_front(e) for e in exps], ignore_index=True)
        df = df.head(args.top) if args.top else df
    elif args.history:
        df = pd.concat([e.history.drop(columns=["_order"], errors="ignore") for e in exps], ignore_index=True)
    else:
        df = pd.concat([e.trials for e in exps], ignore_index=True)
        if args.last and args.sort:
            raise UsageError("give --last or --sort, not both")
        df = sort_trials(df, f"last_{metric}" if args.last else args.sort, mode, metric)
        if args.format in ("md", "html"):
            print(f"ranked by {'last' if args.last else 'best'}_{metric}; {best_rule(metric)}", file=sys.stderr)
        if args.top:
            df = df.head(args.top)
        if args.format in ("md", "html"):
            df = df[display_columns(df, metric)]
    if args.top and args.history:
        df = df.head(args.top)
    data = format_table(df, args.format)
    from hwk4tune.results.warm_start import warm_note

    for e in exps:
        for note in e.notes + [n for n in [warm_note(e.path)] if n]:  # earlier trials are no rows here
            print(f"note: {e.name}: {note}", file=sys.stderr)
    if args.output:
        target, place = _output(args.output)  # s3://…: written in the mirror, then copied there
        out = Path(target)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data) if isinstance(data, bytes) else out.write_text(data)
        print(f"wrote {_written(place, out)[0]}")
    else:
        sys.stdout.write(data)
    return 0


def cmd_best(args: argparse.Namespace) -> int:
    """Write the best trial of an experiment as best.yaml, a file `hwk4tune train` takes as it is.

It holds trainable, dataset, config (the hyperparameters at the best epoch), metric, mode, epochs and
best: {value, epoch, trial_id, checkpoint}. Ties are broken by fewer epochs to the best, then trial id.
With several objectives it also writes the Pareto front (pareto.md, pareto.csv beside the output) and picks
one trial of it: the best by --pick METRIC among those meeting every --where, at its last epoch."""
    from hwk4tune.results import load_experiment, write_best

    (exp_dir,) = _experiment_dirs([args.dir])
    exp = load_experiment(exp_dir)
    from hwk4tune.results.pareto import objectives_of, write_picked

    target, place = _output(args.output)  # s3://…: written in the mirror, then copied there
    if args.pick or args.where or objectives_of(exp):  # several objectives: the front, and one trial of it
        row, front, out = write_picked(exp, target, args.pick, args.where)
        md, csv, out_at = _written(place, out.parent / "pareto.md", out.parent / "pareto.csv", out)
        metric = args.pick or objectives_of(exp)[0][0]
        print(f"Pareto front: {len(front)} trials -> {md}, {csv}")
        print(f"picked trial {row['trial_id']}: {metric} {row[metric]:.4g} at epoch {row['epoch']}")
        print(f"wrote {out_at}")
        print(f"train it:  hwk4tune train {out_at}")
        return 0
    (out_at,) = _written(place, write_best(exp, target))
    best = exp.best()
    print(f"best trial {best['trial_id']}: {exp.metric} {best[exp.best_column]:.4f} at epoch {best['best_epoch']}")
    print(f"wrote {out_at}")
    print(f"train it:  hwk4tune train {out_at}")
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    """Record learning curves: train N configurations of SPACE.yaml to max_epochs (no early stopping) and write
one row per configuration x epoch (configuration, every metric, the epoch's seconds) to TABLE.parquet.

A normal sweep (random searcher seeded with --seed, FIFO) in TABLE.sweep/, with its progress table; a grid
space records every point of its grid. A compare file with `replay: TABLE.parquet` then replays it.

--out may be a storage URI (s3://bucket/prefix/TABLE.parquet): Tune writes the sweep to
s3://bucket/prefix/TABLE.sweep/, the table is written in the local mirror ($HWK4TUNE_CACHE/remote/…) and copied
to the URI at the end; --resume takes the same URI. A replay reads a local table: copy it here first."""
    from hwk4tune.cli.presence import with_data_dir
    from hwk4tune.spec import load_space, parse_overrides
    from hwk4tune.sweep.record import record

    refuse_uri(args.file, "SPACE.yaml", SPEC_FILE_HERE)
    if args.configs < 1:
        raise UsageError(f"--configs must be at least 1, got {args.configs}")
    overrides = with_data_dir(parse_overrides(args.set), args.data_dir)
    spec = load_space(args.file, overrides)
    _check_data(spec, overrides, not args.quiet)
    out = record(spec, args.configs, args.seed, args.out, resume=args.resume, max_concurrent=args.max_concurrent,
                 cpu=args.cpu, address=args.address, verbose=not args.quiet)
    print(f"wrote {out}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Strategies head to head: every strategy x seed of COMPARE.yaml under the same budget.

Each (strategy, seed) is one sweep in OUT/runs/<strategy>-seed<seed>/ with its metadata (run.json). Then
per strategy: best metric over seeds (mean ± std, IQM), epochs consumed, wall time, trials started /
stopped early / errored, epochs and seconds to the target, mean rank. Writes comparison.md,
comparison.csv, runs.csv and anytime curves (anytime_epochs.png, anytime_wall.png). --resume continues an
interrupted comparison: finished runs are kept, an interrupted run is run again from scratch.

OUT may be a storage URI (s3://bucket/prefix): the runs go to URI/runs/ as `run --storage` would write them,
the comparison's files are written in its local mirror ($HWK4TUNE_CACHE/remote/…) and copied to the URI after
each run and at the end; `--resume` and `report` take the same URI."""
    from hwk4tune.cli.presence import with_data_dir
    from hwk4tune.compare import markdown, run_compare
    from hwk4tune.spec import load_compare, parse_overrides

    refuse_uri(args.file, "COMPARE.yaml", SPEC_FILE_HERE + " (--out takes a URI)")
    overrides = with_data_dir(parse_overrides(args.set), args.data_dir)
    spec = load_compare(args.file, overrides)
    _check_data(spec, overrides)
    try:
        comparison = run_compare(spec, args.out, resume=args.resume, address=args.address)
    except KeyboardInterrupt:  # the interrupted run's own line names `hwk4tune resume RUN`, which no comparison reads
        print(f"\ncomparison interrupted; resume it with:  {_compare_resume_command(args)}", file=sys.stderr)
        raise
    print()
    print(markdown(comparison))
    return 0


def _compare_resume_command(args: argparse.Namespace) -> str:
    """The command that continues this comparison: the same file, --out and overrides, with --resume."""
    import shlex

    words = ["hwk4tune", "compare", args.file, "--out", args.out, "--resume"]
    for value in args.set:
        words += ["--set", value]
    if args.data_dir:
        words += ["--data-dir", str(args.data_dir)]
    if args.address:
        words += ["--address", args.address]
    return shlex.join(words)


def cmd_report(args: argparse.Namespace) -> int:
    """One self-contained HTML page (tables, plots embedded) for an experiment or a comparison folder."""
    from hwk4tune.report.page import write_report
    from hwk4tune.store.remote import readable

    folder = readable(args.dir)  # s3://…: its local mirror, where the report is written unless -o says
    if not folder.is_dir():
        raise UsageError(f"{args.dir}: no such folder")
    target, place = _output(args.output)  # -o s3://…: written in the mirror, then copied there
    print(f"wrote {_written(place, write_report(folder, target))[0]}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The demo: random+fifo, random+asha, optuna+asha, hyperopt+hyperband and random+pbt on digits, then replayed.

Runs the comparison of launch/demo.yaml into OUT (one seed each, about 1 minute on 2 cores, offline), prints its table
and the report's path, then trains the overall best config and prints its test accuracy. Then (in a source
checkout) replays the five strategies x 10 seeds on the recorded Fashion-MNIST table (launch/demo_replay.yaml)
into OUT/replay and prints the winner, the verdicts and the replay's speed (a simulation: seconds more;
the whole demo took 109 s on 2 cores)."""
    from hwk4tune.demo import run_demo

    run_demo(args.out, address=args.address, train=not args.no_train, replay=not args.no_replay, quick=args.quick)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Train one configuration for real: on train + validation, then evaluated on test.

CONFIG is a best.yaml written by `hwk4tune best`, or a space file whose space holds only fixed values.
Writes OUT/model.pt, OUT/config.yaml and OUT/metrics.json (test_accuracy, per-epoch history).
With --early-stop it trains on the training split only (the validation split decides when to stop) and
keeps the weights of the best epoch; metrics.json's early_stop names that epoch. --subset N|all and
--data-dir DIR replace the data the file carries (a config tuned on 540 images trains on all of them with
--subset all).

CONFIG and OUT may be storage URIs: `hwk4tune train s3://bucket/best.yaml --out s3://bucket/model` reads the
file through a local copy, writes the three files in OUT's local mirror ($HWK4TUNE_CACHE/remote/…; the
bucket is checked writable before training) and copies them to OUT at the end, printing each file's URI."""
    from hwk4tune.model.train import train_config

    local_data_dir(args.data_dir)
    if args.early_stop and (args.patience < 1 or args.min_delta < 0):
        print("hwk4tune train: --patience must be >= 1 and --min-delta >= 0", file=sys.stderr)
        return EXIT_BAD_INPUT
    train_config(args.config, args.epochs, args.out, data_dir=args.data_dir, progress=not args.quiet,
                 early_stop=args.early_stop, min_delta=args.min_delta, patience=args.patience, seed=args.seed,
                 subset=args.subset)
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    """List the hyperparameters a trainable takes: name, type, default, bounds and what each does.

TRAINABLE is a built-in (cnn, resnet) or your own as file.py:function (relative to the current folder) or
package.module:function. These are the keys a space file's `space:` may hold."""
    from hwk4tune.registry.params import params_text

    print(params_text(args.trainable, Path.cwd()))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Test accuracy and confusion matrix of a model that `hwk4tune train` wrote (its --out folder).

It is evaluated on the test split of the data set it was trained on (config.yaml beside model.pt names it),
or of --dataset NAME (--subset N|all: its first N test images, or all of them; --data-dir DIR: where the
data set is). In Python: `m = hwk4tune.load_model(DIR)`; `m.predict(images)`.

MODEL_DIR may be a storage URI (s3://bucket/prefix, or its model.pt): it is copied to a local mirror
($HWK4TUNE_CACHE/remote/…) first, as `load_model` does with one."""
    from hwk4tune.model.trained import confusion_text, evaluate

    local_data_dir(args.data_dir)
    result = evaluate(args.model_dir, args.dataset, args.data_dir, subset=args.subset)
    print(f"test accuracy {result['test_accuracy']:.4f} on {result['images']} images of {result['dataset']}"
          + (f" (train reported {result['trained_test_accuracy']:.4f})"
             if result["trained_test_accuracy"] is not None else ""))
    print("confusion matrix (rows: true class, columns: predicted):")
    print(confusion_text(result["confusion"]))
    return 0
