"""How much of the machine goes into learning inside Tune: the CNN trainable in a one-trial Tune run vs the
same loop called bare, same data, same threads, same seed, side by side in one process.

    python benchmarks/trainable_overhead.py [--dataset fashion_mnist|digits] [--epochs 3] [--threads 2]

Order: bare (before Ray starts), Tune, bare again (Ray still up, idle); the baseline is both bare runs,
so drift of a shared machine shows up as their spread. The first epoch of each run is a warm-up and is left out of the steady-state figures.
"train loop" is images/s over the training pass only (what the trainable reports); "end to end" divides
the training images by the whole epoch: training, validation, and in Tune also the report and the
checkpoint. Target: ratio >= 0.95.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def bare(data, cfg_dict: dict, epochs: int, threads: int) -> list[dict]:
    import torch

    from hwk4tune.learn.training import Learner, TrainConfig

    torch.set_num_threads(threads)
    learner = Learner("cnn", TrainConfig.from_config(cfg_dict), data.input_shape, data.num_classes, seed=0)
    rows = []
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        stats = learner.train_epoch(data.train_x, data.train_y, epoch)
        learner.evaluate(data.val_x, data.val_y)
        rows.append({"loop": stats.images_per_second, "e2e": stats.images / (time.perf_counter() - t0),
                     "seconds": time.perf_counter() - t0})
    return rows


def in_tune(data, cfg_dict: dict, epochs: int, threads: int) -> tuple[list[dict], float]:
    from ray import tune

    from hwk4tune.tune.trainables import build_trainable

    storage = tempfile.mkdtemp(prefix="hwk4tune-bench-")
    t0 = time.perf_counter()
    results = tune.Tuner(
        tune.with_resources(build_trainable("cnn", data, epochs), {"cpu": threads}),
        param_space=cfg_dict,
        tune_config=tune.TuneConfig(metric="val_accuracy", mode="max", reuse_actors=True),
        run_config=tune.RunConfig(storage_path=storage, name="overhead", verbose=0),
    ).fit()
    wall = time.perf_counter() - t0
    if results.num_errors:
        raise SystemExit(f"the Tune trial failed: {results[0].error}")
    h = results[0].metrics_dataframe.sort_values("epoch")
    n = len(data.train_y)
    rows = [{"loop": r.images_per_second, "e2e": n / r.time_this_iter_s, "seconds": r.time_this_iter_s}
            for r in h.itertuples()]
    return rows, wall


def steady(rows: list[dict], key: str) -> float:
    values = [r[key] for r in rows[1:]] or [r[key] for r in rows]
    return statistics.median(values)


def main() -> None:
    from hwk4tune.learn.data import DataNotFoundError, load_dataset

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default=None, help="default: fashion_mnist when installed, else digits")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--subset", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=64)
    args = p.parse_args()
    if args.epochs < 2:
        p.error("--epochs must be >= 2 (the first epoch is a warm-up)")

    os.environ["HWK4TUNE_OFFLINE"] = "1"
    name = args.dataset
    if name is None:
        try:
            data = load_dataset("fashion_mnist", subset=args.subset)
        except DataNotFoundError:
            data = load_dataset("digits", subset=args.subset)
    else:
        data = load_dataset(name, subset=args.subset)
    cfg = {"optimizer": "adam", "lr": 1e-3, "l1": 1e-6, "batch_size": args.batch_size, "seed": 0}
    print(f"data: {data}\nconfig: {cfg}, {args.epochs} epochs, {args.threads} threads, "
          f"{os.cpu_count()} CPUs on this machine", flush=True)

    import ray

    first = bare(data, cfg, args.epochs, args.threads)  # before Ray starts: nothing else running
    ray.init(num_cpus=args.threads, include_dashboard=False, configure_logging=False, log_to_driver=False,
             address="local")
    try:
        tuned, wall = in_tune(data, cfg, args.epochs, args.threads)
        second = bare(data, cfg, args.epochs, args.threads)
    finally:
        ray.shutdown()

    base = first[1:] + second[1:]
    table = [
        ("bare loop (run 1)", steady(first, "loop"), steady(first, "e2e"), steady(first, "seconds")),
        ("inside Tune", steady(tuned, "loop"), steady(tuned, "e2e"), steady(tuned, "seconds")),
        ("bare loop (run 2)", steady(second, "loop"), steady(second, "e2e"), steady(second, "seconds")),
    ]
    print()
    print(f"| {'run':<18} | {'train loop img/s':>16} | {'end to end img/s':>16} | {'s/epoch':>8} |")
    print(f"|{'-' * 20}|{'-' * 18}|{'-' * 18}|{'-' * 10}|")
    for label, loop, e2e, sec in table:
        print(f"| {label:<18} | {loop:>16,.0f} | {e2e:>16,.0f} | {sec:>8.2f} |")
    print()
    for label, ref in (("bare run 1 (before Ray)", first[1:]), ("both bare runs", base)):
        loop = steady(tuned, "loop") / statistics.median(r["loop"] for r in ref)
        e2e = steady(tuned, "e2e") / statistics.median(r["e2e"] for r in ref)
        print(f"ratio Tune / {label:<24}: train loop {loop:.3f}, end to end {e2e:.3f}   (target >= 0.95)")
    n_img = len(data.train_y) * args.epochs
    print(f"whole Tune run incl. start-up: {wall:.1f} s for {args.epochs} epochs "
          f"({n_img / wall:,.0f} img/s; bare run 1 took {sum(r['seconds'] for r in first):.1f} s)")


if __name__ == "__main__":
    main()
