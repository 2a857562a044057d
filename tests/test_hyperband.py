"""HyperBand under max_concurrent_trials (hwk4tune.tune.hyperband): its brackets fill and halve, no more trials run
at once than the cap, and every trial ends TERMINATED in Tune's saved state. Ray's own HyperBandScheduler
behind a ConcurrencyLimiter stops nothing in the same sweep (ray-project/ray#12536): if that test fails, Ray
fixed it and hwk4tune.tune.hyperband may go.

Trials replay the shipped Fashion-MNIST table (hwk4tune.replay): 12 trials x 12 epochs in seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwk4tune.replay import read_table
from hwk4tune.results import load_experiment
from hwk4tune.spec import load_sweep
from hwk4tune.spec.budgets import hyperband_fill
from hwk4tune.tune.replay_trainable import build_replay
from hwk4tune.tune.search_space import tune_param_space
from hwk4tune.tune.strategies import StrategyArgs, build_strategy

TABLES = Path(__file__).resolve().parent.parent / "benchmarks" / "tables"


def _spec(tmp_path: Path, searcher: str, cap: int = 2):
    path = tmp_path / "sweep.yaml"
    path.write_text(f"space: {TABLES / 'cnn_fashion_mnist_12k.yaml'}\nsearcher: {searcher}\n"
                    f"scheduler: {{name: hyperband, reduction_factor: 3}}\nnum_samples: 12\n"
                    f"max_concurrent_trials: {cap}\n")
    return load_sweep(path)


def _fit(spec, tmp_path: Path, name: str, search_alg, scheduler) -> tuple[Path, int]:
    """Run the sweep on the replayed table; return its folder and the most trials RUNNING at one step."""
    from ray import tune

    most = [0]

    class CountRunning(tune.Callback):
        def on_step_begin(self, iteration, trials, **info):
            most[0] = max(most[0], sum(t.status == "RUNNING" for t in trials))

    trainable = build_replay(read_table(TABLES / "fashion_mnist_12k.parquet"), 12, 1000.0, checkpoints=True)
    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 1}),
        param_space=tune_param_space(spec.space.space),
        # actors reused across trials, as hwk4tune's own Tuner does (spec.reuse_actors): a paused trial resumes
        # in a running worker instead of a new process, 12+ worker starts fewer
        tune_config=tune.TuneConfig(metric="val_accuracy", mode="max", search_alg=search_alg, scheduler=scheduler,
                                    num_samples=spec.num_samples, reuse_actors=spec.reuse_actors),
        run_config=tune.RunConfig(name=name, storage_path=str(tmp_path), stop={"epoch": 12}, verbose=0,
                                  callbacks=[CountRunning()]),
    )
    tuner.fit()
    return tmp_path / name, most[0]


@pytest.mark.oldest_ray
@pytest.mark.parametrize("searcher", ["{name: random, seed: 0}", "{name: hyperopt, seed: 0, n_initial_points: 4}"])
def test_hyperband_halves_under_max_concurrent_trials(ray_local, tmp_path, searcher):
    spec = _spec(tmp_path, searcher)
    search_alg, scheduler = build_strategy(StrategyArgs.from_sweep(spec, "hb"))
    exp_dir, most_running = _fit(spec, tmp_path, "hb", search_alg, scheduler)
    exp = load_experiment(exp_dir)
    trials = exp.trials
    assert len(trials) == 12 and set(trials["status"]) == {"TERMINATED"}, trials[["trial_id", "status", "epochs"]]
    assert most_running <= 2
    # brackets as hwk4tune.spec.budgets computes them: 3 trials never halved, 5 halved at epoch 4, 4 at epoch 1
    assert [(b.s, n) for b, n in hyperband_fill(12, 3, 12)] == [(0, 3), (1, 5), (2, 4)]
    epochs = sorted(trials["epochs"])
    assert epochs.count(12) <= 3 + 2 + 1, epochs  # bracket 1 keeps ceil(5/3) = 2 past epoch 4
    assert sum(e <= 4 for e in epochs) >= 3 + 1, epochs  # 3 of bracket 1 end at 4, bracket 2 drops 1 at epoch 1
    assert exp.counts()["TERMINATED"] == 12


def test_rays_own_hyperband_stops_nothing_under_the_same_cap(ray_local, tmp_path):
    """Why hwk4tune.tune.hyperband exists: Ray's scheduler puts every trial into its first bracket, never halved."""
    from ray.tune.schedulers import HyperBandScheduler
    from ray.tune.search import BasicVariantGenerator

    spec = _spec(tmp_path, "{name: random, seed: 0}")
    _, most_running = _fit(spec, tmp_path, "ray", BasicVariantGenerator(max_concurrent=2, random_state=0),
                           HyperBandScheduler(time_attr="epoch", max_t=12, reduction_factor=3))
    trials = load_experiment(tmp_path / "ray").trials
    assert most_running <= 2 and list(trials["epochs"]) == [12] * 12
