"""The ``hwk4tune`` command: a thin table of verbs, each calling one library function.

Heavy imports (torch, ray, matplotlib) happen inside the verb that needs them, so ``--help`` is instant.
Bad input exits 2 with one line per problem (``FILE:LINE: key: what is wrong``), never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

from hwk4tune.cli_data import cmd_data, data_args
from hwk4tune.errors import InputError
from hwk4tune.spec import SpecError

EXIT_BAD_INPUT = 2


class UsageError(InputError):
    """Bad input found outside a spec file (a flag, a folder): one line, exit 2."""


# ------------------------------------------------------------------------------------------- verbs


def cmd_validate(args: argparse.Namespace) -> int:
    """Check spec files (space, sweep or compare) and print a normalized summary of each."""
    from hwk4tune.spec import load_any, parse_overrides
    from hwk4tune.summary import summarize

    overrides = parse_overrides(args.set)
    problems: list[str] = []
    for path in args.files:
        try:
            spec = load_any(path, overrides)
        except SpecError as exc:
            problems.extend(str(p) for p in exc.problems)
            continue
        print(summarize(spec, path))
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
    from hwk4tune.spec import load_sweep, parse_overrides
    from hwk4tune.sweep import run_sweep

    overrides = parse_overrides(args.set)
    if args.num_samples is not None:
        overrides["num_samples"] = args.num_samples
    if args.max_concurrent is not None:
        overrides["max_concurrent_trials"] = args.max_concurrent
    spec = load_sweep(args.file, overrides)
    run_sweep(spec, storage=args.storage, name=args.name, address=args.address, dashboard=args.dashboard,
              dashboard_host=args.dashboard_host, verbose=not args.quiet, storage_shared=args.storage_shared)
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    """Finish an interrupted sweep from its experiment folder: unfinished and errored trials go on from
their last checkpoint; finished ones are kept and never run again."""
    from hwk4tune.sweep import resume_sweep

    if "://" not in args.dir and not Path(args.dir).is_dir():
        raise UsageError(f"{args.dir}: no such experiment folder")
    resume_sweep(args.dir, restart_errored=args.restart_errored, address=args.address, verbose=not args.quiet,
                 storage_shared=args.storage_shared)
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    """Submit a sweep to a Ray cluster as a Ray Job; it runs `hwk4tune run` on the head node.

The sweep file and its space file travel as the job's working_dir. Prints the job id, the dashboard URL
and how to follow the logs. --storage must be a URI or an absolute path on the cluster (default
~/hwk4tune-runs on the head; a cluster of several nodes needs shared storage). The token is read from
$RAY_AUTH_TOKEN, $RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token."""
    from hwk4tune.cluster import submit, wait_for_job
    from hwk4tune.spec import load_sweep, parse_overrides

    overrides = parse_overrides(args.set)
    run_args = [f"--set={item}" for item in args.set]
    if args.num_samples is not None:
        overrides["num_samples"] = args.num_samples
        run_args.append(f"--num-samples={args.num_samples}")
    if args.max_concurrent is not None:
        overrides["max_concurrent_trials"] = args.max_concurrent
        run_args.append(f"--max-concurrent={args.max_concurrent}")
    spec = load_sweep(args.file, overrides)  # refused here, before anything is sent
    job = submit(spec, address=args.address, storage=args.storage, name=args.name,
                 storage_shared=args.storage_shared, run_args=run_args)
    print("\n".join(job.lines()), flush=True)
    if not args.wait:
        return 0
    status = wait_for_job(job)
    print(f"job {job.job_id}: {status}")
    return 0 if status == "SUCCEEDED" else 1


# ------------------------------------------------------------------------------------------- results


def _experiment_dirs(paths: list[str]) -> list[Path]:
    from hwk4tune.results import is_experiment_dir

    dirs = []
    for p in paths:
        path = Path(p).expanduser()
        if not path.is_dir():
            raise UsageError(f"{p}: no such folder")
        if not is_experiment_dir(path):
            raise UsageError(f"{p}: not an experiment folder (no hwk4tune.json or experiment_state-*.json)")
        dirs.append(path)
    return dirs


def cmd_table(args: argparse.Namespace) -> int:
    """Trials of one or more experiment folders as a table: md, csv, html, parquet or json.

One row per trial: status, epochs, best and last metric, wall time, error, config/* columns. Reads the
files only (no Ray): works on finished, interrupted and errored experiments, and on copied folders.
md and html show the main columns; csv, parquet and json hold them all (--history: one row per epoch)."""
    import pandas as pd

    from hwk4tune.results import display_columns, format_table, load_experiment, sort_trials

    if args.format == "parquet" and not args.output:
        raise UsageError("--format parquet is binary: give -o FILE")
    exps = [load_experiment(d) for d in _experiment_dirs(args.dirs)]
    metric, mode = exps[0].metric, exps[0].mode
    if args.history:
        df = pd.concat([e.history.drop(columns=["_order"], errors="ignore") for e in exps], ignore_index=True)
    else:
        df = pd.concat([e.trials for e in exps], ignore_index=True)
        df = sort_trials(df, args.sort, mode, metric)
        if args.top:
            df = df.head(args.top)
        if args.format in ("md", "html"):
            df = df[display_columns(df, metric)]
    if args.top and args.history:
        df = df.head(args.top)
    data = format_table(df, args.format)
    for e in exps:
        for note in e.notes:
            print(f"note: {e.name}: {note}", file=sys.stderr)
    if args.output:
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data) if isinstance(data, bytes) else out.write_text(data)
        print(f"wrote {out}")
    else:
        sys.stdout.write(data)
    return 0


def cmd_best(args: argparse.Namespace) -> int:
    """Write the best trial of an experiment as best.yaml, a file `hwk4tune train` takes as it is.

It holds trainable, dataset, config (the hyperparameters at the best epoch), metric, mode, epochs and
best: {value, epoch, trial_id, checkpoint}. Ties are broken by fewer epochs to the best, then trial id."""
    from hwk4tune.results import load_experiment, write_best

    (exp_dir,) = _experiment_dirs([args.dir])
    exp = load_experiment(exp_dir)
    out = write_best(exp, args.output)
    best = exp.best()
    print(f"best trial {best['trial_id']}: {exp.metric} {best[exp.best_column]:.4f} at epoch {best['best_epoch']}")
    print(f"wrote {out}")
    print(f"train it:  hwk4tune train {out}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Strategies head to head: every strategy x seed of COMPARE.yaml under the same budget.

Each (strategy, seed) is one sweep in OUT/runs/<strategy>-seed<seed>/ with its metadata (run.json). Then
per strategy: best metric over seeds (mean ± std, IQM), epochs consumed, wall time, trials started /
stopped early / errored, epochs and seconds to the target, mean rank. Writes comparison.md,
comparison.csv, runs.csv and anytime curves (anytime_epochs.png, anytime_wall.png). --resume continues an
interrupted comparison: finished runs are kept, an interrupted run is run again from scratch."""
    from hwk4tune.compare import run_compare
    from hwk4tune.spec import load_compare, parse_overrides

    spec = load_compare(args.file, parse_overrides(args.set))
    comparison = run_compare(spec, args.out, resume=args.resume, address=args.address)
    print()
    print((Path(comparison.out) / "comparison.md").read_text())
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """One self-contained HTML page (tables, plots embedded) for an experiment or a comparison folder."""
    from hwk4tune.report import write_report

    if not Path(args.dir).is_dir():
        raise UsageError(f"{args.dir}: no such folder")
    out = write_report(args.dir, args.output)
    print(f"wrote {out}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The demo: random+fifo, random+asha, optuna+asha, hyperopt+hyperband and random+pbt on digits, 2 seeds.

Runs the comparison of launch/demo.yaml into OUT (about 2 minutes on 2 cores, offline), prints its table
and the report's path, then trains the overall best config and prints its test accuracy."""
    from hwk4tune.demo import run_demo

    run_demo(args.out, address=args.address, train=not args.no_train)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Train one configuration for real: on train + validation, then evaluated on test.

CONFIG is a best.yaml written by `hwk4tune best`, or a space file whose space holds only fixed values.
Writes OUT/model.pt, OUT/config.yaml and OUT/metrics.json (test_accuracy, per-epoch history)."""
    from hwk4tune.train import train_config

    train_config(args.config, args.epochs, args.out, data_dir=args.data_dir, progress=not args.quiet, seed=args.seed)
    return 0


def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", metavar="CONFIG.yaml", help="best.yaml, or a space file of fixed values")
    p.add_argument("--epochs", type=int, metavar="N",
                   help="epochs to train (default: the file's epochs, else the best trial's epoch, else max_epochs)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for model.pt, config.yaml, metrics.json")
    p.add_argument("--data-dir", metavar="DIR", help="folder holding the data set (else HWK4TUNE_DATA, else download)")
    p.add_argument("--seed", type=int, metavar="N", help="training seed (default: the config's seed, else 0)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _table_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dirs", nargs="+", metavar="EXP_DIR", help="experiment folders (STORAGE/NAME)")
    p.add_argument("--format", choices=("md", "csv", "html", "parquet", "json"), default="md")
    p.add_argument("--top", type=int, metavar="N", help="only the first N rows")
    p.add_argument("--sort", metavar="METRIC",
                   help="column or metric to sort by (default best_<metric> of the experiment), "
                        "optionally :asc or :desc, e.g. --sort val_loss or --sort wall_s:desc")
    p.add_argument("--history", action="store_true", help="one row per trial-epoch instead of per trial")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")


def _best_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", metavar="EXP_DIR", help="experiment folder")
    p.add_argument("-o", "--output", metavar="FILE", default="best.yaml", help="default: best.yaml")


def _compare_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="COMPARE.yaml")
    p.add_argument("--out", required=True, metavar="DIR", help="folder of the comparison (runs, tables, plots)")
    p.add_argument("--resume", action="store_true", help="continue a comparison in DIR, keeping finished runs")
    p.add_argument("--address", metavar="ADDR", help="Ray cluster (auto, ray://host:10001); default: embedded")
    _add_set(p)


def _report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", metavar="DIR", help="an experiment folder or a comparison folder")
    p.add_argument("-o", "--output", metavar="FILE", help="default: DIR/report.html")


def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--address", metavar="ADDR", help="Ray cluster; default: embedded")
    p.add_argument("--no-train", action="store_true", help="skip training the best config at the end")


# ------------------------------------------------------------------------------------------- table

Verb = tuple[Callable[[argparse.Namespace], int], Callable[[argparse.ArgumentParser], None]]


def _validate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="space, sweep or compare YAML files")
    _add_set(p)


def _schema_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", metavar="FILE", help="write the schema here instead of stdout")


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="SWEEP.yaml", help="a sweep file")
    p.add_argument("--storage", metavar="DIR_OR_URI", help="where experiments go (default: the file's "
                   "storage, else ./runs); s3://, gs:// work where Ray's storage does")
    p.add_argument("--name", help="experiment name (default: the file's name, else <file stem>-<date>-<time>)")
    _add_address(p)
    p.add_argument("--num-samples", type=int, metavar="N", help="trials to run (same as --set num_samples=N)")
    p.add_argument("--max-concurrent", type=int, metavar="N", help="trials at a time "
                   "(same as --set max_concurrent_trials=N)")
    p.add_argument("--dashboard", action="store_true", help="start Ray's dashboard with the embedded Ray")
    p.add_argument("--dashboard-host", default="127.0.0.1", metavar="HOST",
                   help="address the dashboard listens on (default 127.0.0.1; never expose it unprotected)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress table or summary")
    _add_storage_shared(p)
    _add_set(p)


def _resume_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", metavar="EXPERIMENT_DIR", help="the folder `hwk4tune run` printed")
    p.add_argument("--restart-errored", action="store_true",
                   help="start errored trials over instead of resuming them from their last checkpoint")
    _add_address(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress table or summary")
    _add_storage_shared(p)


def _submit_args(p: argparse.ArgumentParser) -> None:
    import os

    p.add_argument("file", metavar="SWEEP.yaml", help="a sweep file")
    p.add_argument("--address", metavar="URL",
                   default=os.environ.get("RAY_API_SERVER_ADDRESS") or "http://127.0.0.1:8265",
                   help="the cluster's dashboard (default $RAY_API_SERVER_ADDRESS, else http://127.0.0.1:8265; "
                        "for a remote head prefer an SSH tunnel: `ray dashboard cluster.yaml`)")
    p.add_argument("--storage", metavar="DIR_OR_URI", help="where the experiment goes, as the cluster sees it: "
                   "s3://…, gs://…, or an absolute path (default ~/hwk4tune-runs on the head)")
    p.add_argument("--name", help="experiment name, also the job id hwk4tune-NAME (default <file stem>-<date>-<time>)")
    p.add_argument("--num-samples", type=int, metavar="N", help="trials to run (same as --set num_samples=N)")
    p.add_argument("--max-concurrent", type=int, metavar="N", help="trials at a time")
    p.add_argument("--wait", action="store_true", help="follow the job's logs until it ends; exit 1 unless it succeeded")
    _add_storage_shared(p)
    _add_set(p)


def _add_storage_shared(p: argparse.ArgumentParser) -> None:
    p.add_argument("--storage-shared", action="store_true",
                   help="the storage folder is mounted at the same path on every node (NFS…): allow it on a "
                        "multi-node cluster (URIs and detected network file systems need no flag; "
                        "env HWK4TUNE_STORAGE_SHARED=1 does the same)")


def _add_address(p: argparse.ArgumentParser) -> None:
    p.add_argument("--address", metavar="ADDR", help="Ray to use: none starts an embedded local Ray; "
                   "`auto` or ray://host:10001 joins an existing cluster")


def _add_set(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="override a value of the file, or of its space file where the file has no such key "
             "(repeatable): --set num_samples=10 --set max_epochs=3 --set space.lr=0.01",
    )


COMMANDS: dict[str, Verb] = {
    "validate": (cmd_validate, _validate_args),
    "schema": (cmd_schema, _schema_args),
    "run": (cmd_run, _run_args),
    "submit": (cmd_submit, _submit_args),
    "resume": (cmd_resume, _resume_args),
    "table": (cmd_table, _table_args),
    "best": (cmd_best, _best_args),
    "train": (cmd_train, _train_args),
    "compare": (cmd_compare, _compare_args),
    "report": (cmd_report, _report_args),
    "demo": (cmd_demo, _demo_args),
    "data": (cmd_data, data_args),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hwk4tune",
        description="Tune vision models from YAML with Ray Tune: validate, run, compare, train.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (fn, add_args) in COMMANDS.items():
        doc = (fn.__doc__ or "").strip()
        p = sub.add_parser(name, help=doc.splitlines()[0] if doc else None, description=doc,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        add_args(p)
        p.set_defaults(func=fn)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SpecError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_BAD_INPUT
    except InputError as exc:
        print(f"hwk4tune {args.command}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
