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

from hwk4tune.spec import SpecError

EXIT_BAD_INPUT = 2


class UsageError(Exception):
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
              dashboard_host=args.dashboard_host, verbose=not args.quiet)
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    """Finish an interrupted sweep from its experiment folder: unfinished and errored trials go on from
their last checkpoint; finished ones are kept and never run again."""
    from hwk4tune.sweep import resume_sweep

    if "://" not in args.dir and not Path(args.dir).is_dir():
        raise UsageError(f"{args.dir}: no such experiment folder")
    resume_sweep(args.dir, restart_errored=args.restart_errored, address=args.address, verbose=not args.quiet)
    return 0


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
    _add_set(p)


def _resume_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", metavar="EXPERIMENT_DIR", help="the folder `hwk4tune run` printed")
    p.add_argument("--restart-errored", action="store_true",
                   help="start errored trials over instead of resuming them from their last checkpoint")
    _add_address(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress table or summary")


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
    "resume": (cmd_resume, _resume_args),
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
    except UsageError as exc:
        print(f"hwk4tune {args.command}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
