"""The verbs of the live view and of import (``hwk4tune dashboard``, ``hwk4tune import``), kept beside
:mod:`hwk4tune.cli`, which lists them in its table. Heavy imports wait inside each verb."""

from __future__ import annotations

import argparse
import sys

from hwk4tune.cluster.hosts import LOCAL_HOST


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Serve optuna-dashboard over the trials of an experiment or a comparison folder (live while it runs).

Every sweep writes its trials, whatever its searcher and scheduler, into DIR/optuna.journal (a comparison:
one study per run in OUT/optuna.journal). Ctrl-C stops the server. It has no authentication: it listens on
127.0.0.1 unless --host says otherwise (then a loud warning)."""
    from hwk4tune.live.server import serve

    serve(args.dir, host=args.host, port=args.port)
    return 0


def dashboard_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", metavar="DIR", help="an experiment folder or a comparison folder")
    p.add_argument("--host", default=LOCAL_HOST, help=f"address to listen on (default {LOCAL_HOST})")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")


def cmd_import(args: argparse.Namespace) -> int:
    """Turn a W&B Sweeps or a Katib Experiment file into a space file and a sweep file of hwk4tune.

Writes OUT/space.yaml and OUT/sweep.yaml (`hwk4tune validate OUT/sweep.yaml` accepts them), and prints one
note per key that could not be mapped exactly, saying why (the notes are also in the files' headers).
Exit 2 only for a file that is not such a sweep."""
    from hwk4tune.importers import import_file

    result = import_file(args.format, args.file, args.output)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {result.space_file}")
    print(f"wrote {result.sweep_file}")
    print(f"check it:  hwk4tune validate {result.sweep_file}")
    return 0


def import_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("format", choices=("wandb", "katib"), help="wandb: a W&B sweep configuration; katib: a Katib "
                   "Experiment (kubeflow.org/v1beta1)")
    p.add_argument("file", metavar="FILE", help="the YAML (or JSON) file")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for space.yaml and sweep.yaml")
