"""The ``hwk4tune`` command: a thin table of verbs, each calling one library function.

Heavy imports (torch, ray, matplotlib) happen inside the verb that needs them, so ``--help`` is instant.
Bad input exits 2 with one line per problem (``FILE:LINE: key: what is wrong``), never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable

from hwk4tune.cli import arguments as a
from hwk4tune.cli import data, live
from hwk4tune.cli import pictures as pic
from hwk4tune.cli import verbs as v
from hwk4tune.cli.verbs import EXIT_BAD_INPUT
from hwk4tune.errors import InputError
from hwk4tune.spec import SpecError

__all__ = ["main", "build_parser", "COMMANDS", "EXIT_BAD_INPUT"]

Verb = tuple[Callable[[argparse.Namespace], int], Callable[[argparse.ArgumentParser], None]]

COMMANDS: dict[str, Verb] = {
    "validate": (v.cmd_validate, a.validate_args),
    "schema": (v.cmd_schema, a.schema_args),
    "run": (v.cmd_run, a.run_args),
    "submit": (v.cmd_submit, a.submit_args),
    "resume": (v.cmd_resume, a.resume_args),
    "table": (v.cmd_table, a.table_args),
    "best": (v.cmd_best, a.best_args),
    "train": (v.cmd_train, a.train_args),
    "evaluate": (v.cmd_evaluate, a.evaluate_args),
    "params": (v.cmd_params, a.params_args),
    "filters": (pic.cmd_filters, pic.filters_args),
    "record": (v.cmd_record, a.record_args),
    "compare": (v.cmd_compare, a.compare_args),
    "report": (v.cmd_report, a.report_args),
    "demo": (v.cmd_demo, a.demo_args),
    "data": (data.cmd_data, data.data_args),
    "dashboard": (live.cmd_dashboard, live.dashboard_args),
    "import": (live.cmd_import, live.import_args),
}


def summary_line(doc: str) -> str | None:
    """A verb's line in the top-level help: the docstring's whole first paragraph (never cut mid-sentence)."""
    first = doc.split("\n\n", 1)[0]
    return " ".join(first.split()) or None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hwk4tune",
        description="Tune vision models from YAML with Ray Tune: validate, run, compare, train.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (fn, add_args) in COMMANDS.items():
        doc = (fn.__doc__ or "").strip()
        p = sub.add_parser(name, help=summary_line(doc), description=doc,
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
