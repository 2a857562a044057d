"""How much of a sweep's time goes to Tune rather than to training. Run by hand; prints a table.

(a) trivial trials per second (a function that reports once), with reuse_actors on and off;
(b) utilization of a sweep of ~10-s CNN trials on digits = sum of the trials' training time
    / (wall time x concurrent slots). Targets: >= 15 trivial trials/s; utilization >= 0.85.

    .venv/bin/python benchmarks/sweep_overhead.py            # defaults: 200 + 20 trivial trials, 8 CNN trials
    .venv/bin/python benchmarks/sweep_overhead.py --quick    # 50 + 6 trivial, 4 CNN trials

One Ray for everything (started once, 2 CPUs unless --cpus); the machine's load is printed with the table,
since on a shared machine it moves the figures a lot.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import textwrap
import time
from pathlib import Path


def trivial(config):
    from ray import tune

    tune.report({"score": config["x"]})


def trivial_rate(n: int, reuse: bool, storage: str) -> tuple[float, float]:
    """(seconds, trials per second) for n trivial trials."""
    from ray import tune

    tuner = tune.Tuner(
        tune.with_resources(trivial, {"cpu": 1}),
        param_space={"x": tune.uniform(0, 1)},
        tune_config=tune.TuneConfig(metric="score", mode="max", num_samples=n, reuse_actors=reuse),
        run_config=tune.RunConfig(name=f"trivial-{'reuse' if reuse else 'noreuse'}", storage_path=storage,
                                  verbose=0),
    )
    t0 = time.perf_counter()
    results = tuner.fit()
    seconds = time.perf_counter() - t0
    assert len(results) == n and results.num_errors == 0
    return seconds, n / seconds


def cnn_utilization(trials: int, epochs: int, slots: int, storage: str) -> dict:
    """Run a random+fifo sweep of CNN trials on the whole of digits; measure how busy the slots were."""
    from hwk4tune.spec import load_sweep
    from hwk4tune.sweep import run_sweep

    d = Path(tempfile.mkdtemp(prefix="hwk4tune-bench-"))
    (d / "space.yaml").write_text(textwrap.dedent(f"""\
        trainable: cnn
        dataset: {{name: digits}}
        max_epochs: {epochs}
        space:
          optimizer: {{choice: [adam, momentum]}}
          lr: {{loguniform: [1.0e-3, 3.0e-2]}}
          hidden: 128
          batch_size: 32
        """))
    (d / "sweep.yaml").write_text(textwrap.dedent(f"""\
        space: space.yaml
        searcher: {{name: random, seed: 0}}
        scheduler: fifo
        num_samples: {trials}
        max_concurrent_trials: {slots}
        """))
    t0 = time.perf_counter()
    exp = run_sweep(load_sweep(d / "sweep.yaml"), storage=storage, name="cnn", verbose=False)
    wall = time.perf_counter() - t0
    from ray.tune import ExperimentAnalysis

    analysis = ExperimentAnalysis(str(exp))
    busy = sum(t.last_result.get("time_total_s", 0.0) for t in analysis.trials)
    epochs_s = sum(t.last_result.get("time_total_s", 0.0) / max(1, t.last_result.get("epoch", 1))
                   for t in analysis.trials) / len(analysis.trials)
    return {"wall": wall, "busy": busy, "utilization": busy / (wall * slots),
            "trial_s": busy / len(analysis.trials), "epoch_s": epochs_s}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reuse-trials", type=int, default=200, help="trivial trials with reuse_actors=True")
    p.add_argument("--noreuse-trials", type=int, default=20, help="trivial trials with reuse_actors=False")
    p.add_argument("--cnn-trials", type=int, default=8)
    p.add_argument("--cnn-epochs", type=int, default=30, help="about 10 s per trial on 2 idle cores")
    p.add_argument("--cpus", type=int, default=2)
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    if a.quick:
        a.reuse_trials, a.noreuse_trials, a.cnn_trials = 50, 6, 4
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    storage = tempfile.mkdtemp(prefix="hwk4tune-bench-runs-")
    ray.init(address="local", num_cpus=a.cpus, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    load_before = os.getloadavg()[0]
    rows = []
    s, rate = trivial_rate(a.reuse_trials, True, storage)
    rows.append((f"trivial trials, reuse_actors=True ({a.reuse_trials})", f"{s:.1f} s", f"{rate:.1f} trials/s",
                 "target >= 15"))
    s, rate = trivial_rate(a.noreuse_trials, False, storage)
    rows.append((f"trivial trials, reuse_actors=False ({a.noreuse_trials})", f"{s:.1f} s", f"{rate:.2f} trials/s", ""))
    u = cnn_utilization(a.cnn_trials, a.cnn_epochs, a.cpus, storage)
    rows.append((f"CNN sweep, {a.cnn_trials} trials x {a.cnn_epochs} epochs, {a.cpus} slots", f"{u['wall']:.1f} s",
                 f"utilization {u['utilization']:.2f}", "target >= 0.85"))
    rows.append(("  mean trial / epoch time", f"{u['trial_s']:.1f} s", f"{u['epoch_s']:.2f} s/epoch", ""))
    ray.shutdown()
    width = max(len(r[0]) for r in rows)
    print(f"\nsweep overhead (load average {load_before:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    for r in rows:
        print(f"  {r[0]:<{width}}  {r[1]:>8}  {r[2]:<22} {r[3]}")


if __name__ == "__main__":
    main()
