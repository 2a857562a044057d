"""``hwk4tune demo``: the comparison of ``launch/demo.yaml``, its report, and the winner trained for real;
then the same five strategies x 10 seeds replayed on the shipped Fashion-MNIST table (``launch/demo_replay.yaml``).

Runs five strategies x one seed on digits (ships with scikit-learn, so it works offline on a fresh
machine), prints the comparison table and the report's path, writes the overall best trial's ``best.yaml``
and trains it with :func:`hwk4tune.model.train.train_config`, printing its test accuracy. The replayed comparison
(only in a source checkout: the table lives in ``benchmarks/tables/``) prints its table, the winner and the
verdicts, and how much faster than real time it ran (simulated seconds / wall seconds).

The compare file is ``launch/demo.yaml`` in a source checkout; an installed package without the checkout
uses the copy below (a test keeps the two identical).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

__all__ = ["run_demo", "demo_yaml", "DEMO_FILE", "DEMO_YAML"]

DEMO_FILE = Path(__file__).resolve().parent.parent / "launch" / "demo.yaml"
REPLAY_FILE = DEMO_FILE.with_name("demo_replay.yaml")
DEMO_YAML = "# The demo (`hwk4tune demo`, `make demo`): five strategies head to head on scikit-learn's digits with the\n# seed's CNN, live, one seed each, the same budget for every run (8 trials of up to 4 epochs). Works offline;\n# about 1 minute on 2 cores. One seed decides nothing: the demo's replayed half (demo_replay.yaml) does, at 10.\nname: demo\nspace:\n  trainable: cnn\n  dataset: {name: digits, subset: 1000}\n  metric: val_accuracy\n  mode: max\n  max_epochs: 4\n  space:\n    optimizer: {choice: [momentum, adam]}\n    lr: {loguniform: [1.0e-4, 0.1]}\n    momentum: {uniform: [0.5, 0.95]}\n    dropout: {uniform: [0.0, 0.5]}\n    hidden: {choice: [32, 64, 128]}\n    batch_size: {choice: [32, 64]}\nbudget: {num_samples: 8}\nseeds: [0]\nmax_concurrent_trials: 2\nresources_per_trial: {cpu: 1}\nstrategies:\n  random+fifo: {searcher: random, scheduler: fifo}\n  random+asha: {searcher: random, scheduler: {name: asha, grace_period: 1, reduction_factor: 3}}\n  optuna+asha: {searcher: optuna, scheduler: {name: asha, grace_period: 1, reduction_factor: 3}}\n  hyperopt+hyperband: {searcher: {name: hyperopt, n_initial_points: 4}, scheduler: hyperband}\n  # PBT mutates only what keeps the weights loadable (not hidden: a copied checkpoint must fit the model)\n  random+pbt:\n    searcher: random\n    scheduler:\n      name: pbt\n      perturbation_interval: 2\n      hyperparam_mutations: {lr: {loguniform: [1.0e-4, 0.1]}, momentum: {uniform: [0.5, 0.95]}, dropout: {uniform: [0.0, 0.5]}}\n"


def demo_yaml() -> str:
    """The demo's compare file: ``launch/demo.yaml`` where there is a checkout, else the embedded copy."""
    return DEMO_FILE.read_text() if DEMO_FILE.is_file() else DEMO_YAML


def quick_yaml(text: str, base: Path) -> str:
    """A demo compare file cut to a smoke test's budget (``demo --quick``): one seed (two for a replay), 3
    trials of 2 epochs, 300 digits; relative paths made absolute from ``base``."""
    import yaml

    data = yaml.safe_load(text)
    data["budget"] = {**data.get("budget", {}), "num_samples": 3}
    data["seeds"] = data["seeds"][:2] if "replay" in data else data["seeds"][:1]
    if "replay" in data:
        data["budget"]["max_epochs"] = 2
        data["replay"] = str((base / data["replay"]).resolve())
        data["space"] = str((base / data["space"]).resolve())
    else:
        data["space"].update(max_epochs=2, dataset={**data["space"]["dataset"], "subset": 300})
    return "# `hwk4tune demo --quick`: the demo's file at a smoke test's budget\n" + yaml.safe_dump(data, sort_keys=False)


def run_demo(out: str | Path, *, address: str | None = None, train: bool = True, replay: bool = True,
             say: Callable[[str], None] = print, quick: bool = False) -> dict:
    """Compare, report, train the best. Returns ``{comparison, report, best_yaml, model_dir, test_accuracy}``.
    ``quick``: the same steps and files at a smoke test's budget (:func:`quick_yaml`).

    A folder that already holds the demo is continued (finished runs are kept), so running it twice does
    not repeat the work.
    """
    from hwk4tune.compare import run_compare, summary_table
    from hwk4tune.compare.run import ray_for_runs
    from hwk4tune.report.page import write_report
    from hwk4tune.results import to_markdown, write_best
    from hwk4tune.spec import load_compare
    from hwk4tune.store.records import BEST_FILE

    out = Path(out).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    # one Ray for both comparisons: starting and stopping it costs about 5 s each time
    with ray_for_runs(address):
        spec_file = out / "demo.yaml"
        spec_file.write_text(quick_yaml(demo_yaml(), DEMO_FILE.parent) if quick else demo_yaml())
        say(f"wrote {spec_file}")
        spec = load_compare(spec_file)
        comparison = run_compare(spec, out, resume=True, address=address, say=say)
        say("")
        say(to_markdown(summary_table(comparison.summary, comparison.metric), short_config=False))
        say("")
        report = write_report(out)
        say(f"wrote {report}")
        say(f"report: {report}")
        (strategy, seed), exp = comparison.best()
        best_file = write_best(exp, out / BEST_FILE)
        say(f"wrote {best_file}")
        result = {"comparison": comparison, "report": report, "best_yaml": best_file, "model_dir": None,
                  "test_accuracy": None, "replay": None}
        if train:
            from hwk4tune.model.train import train_config

            best = exp.best()
            say(f"training the overall best ({strategy}, seed {seed}, trial {best['trial_id']}, "
                f"{exp.best_column} {best[exp.best_column]:.4f} at epoch {best['best_epoch']}) on train + validation")
            model_dir = out / "best_model"
            metrics = train_config(best_file, None, model_dir, progress=False)
            result.update(model_dir=model_dir, test_accuracy=metrics["test_accuracy"])
            say(f"test accuracy of the best config: {metrics['test_accuracy']:.4f}")
        if replay and REPLAY_FILE.is_file():
            replay_file = REPLAY_FILE
            if quick:
                replay_file = out / REPLAY_FILE.name
                replay_file.write_text(quick_yaml(REPLAY_FILE.read_text(), REPLAY_FILE.parent))
            result["replay"] = run_replay_demo(out / "replay", address=address, say=say, file=replay_file)
    return result


def run_replay_demo(out: Path, *, address: str | None = None, say: Callable[[str], None] = print,
                    file: Path = REPLAY_FILE) -> dict:
    """The five strategies x 10 seeds replayed on the Fashion-MNIST table: table, winner, verdicts, speed."""
    import time

    from hwk4tune.compare import decide, run_compare, summary_table
    from hwk4tune.results import to_markdown
    from hwk4tune.spec import load_compare

    say("")
    say(f"replayed comparison on the recorded Fashion-MNIST table ({file.name}):")
    t0 = time.perf_counter()
    comparison = run_compare(load_compare(file), out, resume=True, address=address, say=say)
    wall = time.perf_counter() - t0
    d = decide(comparison)
    simulated = float(comparison.runs["seconds"].sum())
    run_wall = float(comparison.runs["wall_s"].sum())
    say("")
    say(to_markdown(summary_table(comparison.summary, comparison.metric), short_config=False))
    say("")
    say(d.winner_line)
    for line in d.verdicts:
        say(f"- {line}")
    say(f"replay speed: {simulated:.0f} simulated s in {run_wall:.0f} wall s of runs = {simulated / run_wall:.0f}x "
        f"real time ({wall:.0f} s with setup)")
    return {"comparison": comparison, "decision": d, "simulated_s": simulated, "wall_s": run_wall}
