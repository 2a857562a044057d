"""The arguments of each verb of the ``hwk4tune`` command (``--help`` lists them)."""

from __future__ import annotations

import argparse

from hwk4tune.cli.presence import add_data_dir
from hwk4tune.cluster.hosts import LOCAL_HOST


def train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", metavar="CONFIG.yaml", help="best.yaml, or a space file of fixed values; a path or a "
                   "storage URI (s3://bucket/prefix/best.yaml)")
    p.add_argument("--epochs", type=int, metavar="N",
                   help="epochs to train (default: the file's epochs, else the best trial's epoch, else max_epochs)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for model.pt, config.yaml, metrics.json, "
                   "or a storage URI: s3://bucket/prefix (written in its local mirror, copied there at the end)")
    p.add_argument("--data-dir", metavar="DIR", help="folder on this machine holding the data set, searched first "
                   "(overrides the file's dataset.data_dir; then $HWK4TUNE_DATA, the cache, else a download)")
    p.add_argument("--subset", type=_subset, metavar="N|all", help="train on N images of the data set's training "
                   "pool (train + validation), or all of them, instead of the file's dataset.subset (a config tuned "
                   "on a subset can be trained on the whole set); the test set is limited to N images too")
    p.add_argument("--seed", type=int, metavar="N", help="training seed (default: the config's seed, else 0)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--early-stop", action="store_true",
                   help="train on the training split only and stop once val_accuracy on the validation split has "
                        "not improved by --min-delta for --patience epochs; keeps the best epoch's weights")
    p.add_argument("--min-delta", type=float, default=0.01, metavar="D",
                   help="with --early-stop: the smallest gain that counts as an improvement (default 0.01)")
    p.add_argument("--patience", type=int, default=5, metavar="N",
                   help="with --early-stop: epochs without improvement before stopping (default 5)")


def table_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dirs", nargs="+", metavar="EXP_DIR", help="experiment folders (STORAGE/NAME), local or "
                   "storage URIs (s3://bucket/prefix/NAME)")
    p.add_argument("--format", choices=("md", "csv", "html", "parquet", "json"), default="md")
    p.add_argument("--top", type=int, metavar="N", help="only the first N rows")
    p.add_argument("--sort", metavar="METRIC",
                   help="column or metric to sort by (default best_<metric> of the experiment), "
                        "optionally :asc or :desc, e.g. --sort val_loss or --sort wall_s:desc")
    p.add_argument("--last", action="store_true", help="rank by the last epoch's value (last_<metric>) instead "
                   "of each trial's best epoch (best_<metric>, the default everywhere)")
    p.add_argument("--history", action="store_true", help="one row per trial-epoch instead of per trial")
    p.add_argument("--pareto", action="store_true", help="several objectives: only the Pareto front (each trial "
                   "at its last epoch), best first by the first objective")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout (a path, or a storage URI "
                   "s3://bucket/prefix/FILE: written in its local mirror, then copied there)")


def best_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", metavar="EXP_DIR", help="experiment folder, or a storage URI (s3://bucket/prefix/NAME)")
    p.add_argument("-o", "--output", metavar="FILE", default="best.yaml", help="default: best.yaml; a storage URI "
                   "(s3://bucket/prefix/best.yaml) is written in its local mirror, then copied there")
    p.add_argument("--pick", metavar="METRIC", help="several objectives: the Pareto front's best trial by this "
                   "objective (default: the first)")
    p.add_argument("--where", metavar="COND", action="append", default=[],
                   help='several objectives: only front trials meeting METRIC OP NUMBER (OP: >= <= > < ==), '
                        'e.g. --where "val_accuracy>=0.98"; repeatable')


def compare_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="COMPARE.yaml")
    p.add_argument("--out", required=True, metavar="DIR", help="folder of the comparison (runs, tables, plots), "
                   "or a storage URI: s3://bucket/prefix (file:///PATH is the folder PATH)")
    p.add_argument("--resume", action="store_true", help="continue a comparison in DIR, keeping finished runs")
    p.add_argument("--address", metavar="ADDR", help="Ray cluster (auto, ray://host:10001); default: embedded")
    add_data_dir(p)
    _add_set(p)


def record_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="SPACE.yaml", help="the space to record (its max_epochs, data set, metric)")
    p.add_argument("--configs", type=int, required=True, metavar="N", help="configurations drawn (a grid: all)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seeds the draws and every trial (default 0)")
    p.add_argument("--out", required=True, metavar="TABLE.parquet", help="the table, a path or a storage URI "
                   "(s3://bucket/prefix/TABLE.parquet); the sweep goes to TABLE.sweep/ beside it")
    p.add_argument("--max-concurrent", type=int, metavar="K", help="trials at once (default: as many as fit)")
    p.add_argument("--cpu", type=float, default=1, metavar="C", help="CPUs per trial (default 1)")
    p.add_argument("--resume", action="store_true", help="finish an interrupted recording in TABLE.sweep/ (the same "
                   "--out, a URI too)")
    p.add_argument("--address", metavar="ADDR", help="Ray cluster; default: embedded")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress table")
    add_data_dir(p)
    _add_set(p)


def report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", metavar="DIR", help="an experiment folder or a comparison folder (or its s3:// URI)")
    p.add_argument("-o", "--output", metavar="FILE", help="default: DIR/report.html (for a URI: in its local mirror); "
                   "a storage URI (s3://bucket/prefix/report.html) is written in its mirror, then copied there")


def demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--address", metavar="ADDR", help="Ray cluster; default: embedded")
    p.add_argument("--no-train", action="store_true", help="skip training the best config at the end")
    p.add_argument("--no-replay", action="store_true", help="skip the replayed Fashion-MNIST comparison")
    p.add_argument("--quick", action="store_true",
                   help="every step and file at a smoke test's budget (1 seed, 3 trials of 2 epochs; replay: 2 seeds)")


def validate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="space, sweep or compare YAML files")
    p.add_argument("--strict", action="store_true", help="notices are errors: exit 2 when there is one")
    add_data_dir(p)
    _add_set(p)


def schema_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", metavar="FILE", help="write the schema here instead of stdout")


def run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="SWEEP.yaml", help="a sweep file")
    p.add_argument("--storage", metavar="DIR_OR_URI", help="where experiments go (default: the file's "
                   "storage, else ./runs); s3://, gs:// work where Ray's storage does")
    p.add_argument("--name", help="experiment name (default: the file's name, else <file stem>-<date>-<time>)")
    _add_address(p)
    p.add_argument("--num-samples", type=int, metavar="N", help="trials to run (same as --set num_samples=N)")
    p.add_argument("--max-concurrent", type=int, metavar="N", help="trials at a time "
                   "(same as --set max_concurrent_trials=N)")
    p.add_argument("--dashboard", action="store_true", help="start Ray's dashboard with the embedded Ray, and "
                   "optuna-dashboard over the sweep's trials (port 8080, else a free one); both URLs are printed")
    p.add_argument("--dashboard-host", default=LOCAL_HOST, metavar="HOST",
                   help=f"address the dashboards listen on (default {LOCAL_HOST}; never expose them unprotected)")
    p.add_argument("--tensorboard", action="store_true", help="keep Ray's TensorBoard logger: per-trial scalars "
                   "and hyperparameters in STORAGE/NAME/trial_*/events.out.tfevents.* (`tensorboard --logdir DIR`)")
    p.add_argument("--warm-start", action="append", default=[], metavar="PATH",
                   help="an earlier experiment folder (or s3://… URI) or recorded table (.parquet) whose finished "
                        "trials seed the searcher before its first suggestion (repeatable; replaces the file's "
                        "warm_start: from, keeping its mode and top); see docs/warm_start.md")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress table or summary")
    add_data_dir(p)
    _add_storage_shared(p)
    _add_set(p)


def resume_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", metavar="EXPERIMENT_DIR", help="the folder `hwk4tune run` printed")
    p.add_argument("--restart-errored", action="store_true",
                   help="start errored trials over instead of resuming them from their last checkpoint")
    _add_address(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress table or summary")
    p.add_argument("--data-dir", metavar="DIR", help="where the data set is now, if it moved since the sweep "
                   "started: searched after the sweep's own dataset.data_dir (as $HWK4TUNE_DATA is)")
    _add_storage_shared(p)


def submit_args(p: argparse.ArgumentParser) -> None:
    import os

    p.add_argument("file", metavar="SWEEP.yaml", help="a sweep file on this machine (not a URI: it and its space "
                   "file travel with the job)")
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
    p.add_argument("--no-ship", action="store_true",
                   help="do not send this hwk4tune with the job (by default it goes as the job's py_modules, so the "
                        "cluster needs only hwk4tune's dependencies): the cluster's own installed hwk4tune runs it")
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


def params_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("trainable", metavar="TRAINABLE", help="cnn, resnet, or your own file.py:function")


def evaluate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_dir", metavar="MODEL_DIR", help="the --out folder of `hwk4tune train` (or its model.pt); a "
                   "path or a storage URI (s3://bucket/prefix, copied to a local mirror first)")
    p.add_argument("--dataset", metavar="NAME", help="evaluate on this data set's test split instead")
    p.add_argument("--data-dir", metavar="DIR", help="folder on this machine holding the data set, searched first "
                   "(overrides the one config.yaml names; then $HWK4TUNE_DATA, the cache, else a download)")
    p.add_argument("--subset", type=_subset, metavar="N|all", help="evaluate on the first N test images, or all of "
                   "them (default: as config.yaml's dataset.subset says)")


def _subset(text: str) -> int | str:
    """``--subset N`` (at least 2) or ``--subset all``."""
    if text.strip().lower() in ("all", "none", "full"):
        return "all"
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of images (at least 2) or all, got {text!r}") from None
    if n < 2:
        raise argparse.ArgumentTypeError(f"expected at least 2 images (or all), got {n}")
    return n
