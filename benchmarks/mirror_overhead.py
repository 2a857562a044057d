"""What the Optuna journal mirror costs a sweep: the driver's time inside the mirror per trial and per
result, and the wall time of the same sweep with and without it (runs alternated, one Ray for all).

    PYTHONPATH=. python benchmarks/mirror_overhead.py [--trials 24] [--epochs 4] [--repeats 2]

Prints a table. The mirror runs in the driver after Tune has each result, never in a trial's process, so
the wall-time ratio is the whole cost a user sees.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

SPACE = """\
trainable: cnn
dataset: {{name: digits, subset: 300}}
max_epochs: {epochs}
space:
  optimizer: {{choice: [sgd, adam]}}
  lr: {{loguniform: [1.0e-3, 0.1]}}
  dropout: {{uniform: [0.0, 0.5]}}
  hidden: 32
"""
SWEEP = "space: space.yaml\nsearcher: {{name: random, seed: 0}}\nscheduler: fifo\nnum_samples: {trials}\n" \
        "max_concurrent_trials: 2\n"


class Timer:
    """Wraps OptunaMirror._guard (every hook goes through it) and sums the time spent inside."""

    def __init__(self):
        from hwk4tune.live.mirror import OptunaMirror

        self.seconds, self.calls = 0.0, 0
        original = OptunaMirror._guard
        timer = self

        def timed(mirror, fn, *args):
            t0 = time.perf_counter()
            try:
                return original(mirror, fn, *args)
            finally:
                timer.seconds += time.perf_counter() - t0
                timer.calls += 1

        OptunaMirror._guard = timed

    def reset(self) -> None:
        self.seconds, self.calls = 0.0, 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    import ray

    from hwk4tune.live import LiveOptions
    from hwk4tune.spec import load_sweep
    from hwk4tune.sweep import run_sweep

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    timer = Timer()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "space.yaml").write_text(SPACE.format(epochs=args.epochs))
        (tmp / "sweep.yaml").write_text(SWEEP.format(trials=args.trials))
        spec = load_sweep(tmp / "sweep.yaml")
        run_sweep(spec, storage=str(tmp / "runs"), name="warmup", verbose=False)  # imports, data, actors
        for r in range(args.repeats):
            for mirror in (False, True):
                timer.reset()
                t0 = time.perf_counter()
                run_sweep(spec, storage=str(tmp / "runs"), name=f"r{r}-{int(mirror)}", verbose=False,
                          live=LiveOptions(mirror=mirror))
                rows.append((r, mirror, time.perf_counter() - t0, timer.seconds, timer.calls))
    ray.shutdown()

    results = args.trials * args.epochs
    print(f"\n{args.trials} trials x {args.epochs} epochs (digits 300, 2 at a time), {args.repeats} repeats, "
          "wall time of the whole sweep\n")
    print("| repeat | wall s without mirror | wall s with mirror | ratio | mirror ms / trial | mirror ms / result |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in range(args.repeats):
        off = next(x for x in rows if x[0] == r and not x[1])
        on = next(x for x in rows if x[0] == r and x[1])
        print(f"| {r} | {off[2]:.1f} | {on[2]:.1f} | {on[2] / off[2]:.3f} | {1000 * on[3] / args.trials:.1f} | "
              f"{1000 * on[3] / results:.2f} |")


if __name__ == "__main__":
    main()
