"""The trainables inside real Ray Tune runs (one Ray for the session: the ``ray_local`` fixture)."""

from __future__ import annotations

import math

import pytest

from hwk4tune.learn.data import load_dataset
from hwk4tune.registry import RegistryError
from hwk4tune.tune.trainables import METRICS, build_trainable, cnn_trainable

pytestmark = pytest.mark.usefixtures("ray_local")


def fit(trainable, param_space, tmp_path, *, cpu=1, num_samples=1, max_concurrent=None, search_alg=None,
        max_failures=0, name="t"):
    from ray import tune

    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": cpu}),
        param_space=param_space,
        tune_config=tune.TuneConfig(metric="val_accuracy", mode="max", num_samples=num_samples,
                                    reuse_actors=True, max_concurrent_trials=max_concurrent,
                                    search_alg=search_alg),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name=name, verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=max_failures)),
    )
    return tuner.fit()


def history(result):
    return result.metrics_dataframe.sort_values("training_iteration")


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_unknown_trainable_and_bad_max_epochs_refused():
    with pytest.raises(RegistryError, match=r"unknown trainable 'cnm'; did you mean 'cnn'\?"):
        build_trainable("cnm", None, 1)
    with pytest.raises(ValueError, match="max_epochs must be an integer >= 1, but got 0"):
        build_trainable("cnn", None, 0)


def test_cnn_learns_digits_and_reports_every_epoch(digits, tmp_path):
    """The real learning check: Adam on digits reaches >= 90 % validation accuracy within 5 epochs."""
    results = fit(build_trainable("cnn", digits, 5), {"optimizer": "adam", "lr": 1e-3, "seed": 0}, tmp_path, cpu=2)
    assert results.num_errors == 0
    result = results[0]
    h = history(result)
    assert h["epoch"].tolist() == [1, 2, 3, 4, 5] == h["training_iteration"].tolist()
    for m in METRICS:
        assert h[m].notna().all(), m
    # images_per_second counts the training images over the training time, which the epoch's time includes
    n_train, n_val = len(digits.train_x), len(digits.val_x)
    assert (h["images_per_second"] * h["epoch_seconds"] >= n_train * (1 - 1e-9)).all(), (n_train, h)
    assert ((h["val_accuracy"] * n_val).round(6) % 1 == 0).all()  # a count of the validation images, over them
    assert set(h["train_status"]) == {"ok"} and set(h["weights"]) == {"random init"}
    assert set(h["threads"]) == {2}  # torch threads = the CPUs the trial got
    assert h["val_accuracy"].max() >= 0.90
    assert result.checkpoint is not None and (result.checkpoint.path.endswith("checkpoint_000004"))
    assert len(result.best_checkpoints) == 5


def test_resnet_runs_in_tune(tmp_path):
    data = load_dataset("fake", size=48, shape=(1, 28, 28))
    results = fit(build_trainable("resnet", data, 2),
                  {"optimizer": "sgd", "lr": 0.01, "finetune": "head", "batch_size": 16, "pretrained": "none"},
                  tmp_path)
    assert results.num_errors == 0
    h = history(results[0])
    assert h["epoch"].tolist() == [1, 2]
    for m in METRICS:
        assert h[m].notna().all(), m
    assert set(h["weights"]) == {"random init"} and set(h["threads"]) == {1}
    assert ((h["val_accuracy"] * len(data.val_x)).round(6) % 1 == 0).all()
    # a checkpoint each epoch: the second (and last) is the result's
    assert results[0].checkpoint.path.endswith("checkpoint_000001") and len(results[0].best_checkpoints) == 2


def test_restore_continues_at_the_next_epoch(tmp_path):
    from ray import tune

    def crash_once(config, data=None, max_epochs=4):
        """Dies after epoch 2 on its first attempt when ``crash`` is set, as a lost node would.
        (Defined here, not at module level, so Ray pickles it by value: workers cannot import tests.)"""
        hyperparameters = {k: v for k, v in config.items() if k != "crash"}  # cnn refuses unknown keys
        if config["crash"] and tune.get_checkpoint() is None:
            cnn_trainable(hyperparameters, data=data, max_epochs=2)
            raise RuntimeError("simulated crash after epoch 2")
        cnn_trainable(hyperparameters, data=data, max_epochs=max_epochs)

    data = load_dataset("digits", subset=300)
    trainable = tune.with_parameters(crash_once, data=data, max_epochs=4)
    results = fit(trainable, {"crash": tune.grid_search([True, False]), "seed": 3, "dropout": 0.2},
                  tmp_path, max_failures=1)
    assert results.num_errors == 0
    by_crash = {r.config["crash"]: r for r in results}
    restored, straight = history(by_crash[True]), history(by_crash[False])
    # The restored attempt reported epochs 3 and 4 only: it started from the epoch-2 checkpoint, not 0
    # (a restart from scratch would report 4 results since the restore, epochs 1 to 4).
    assert by_crash[True].metrics["epoch"] == 4 and by_crash[True].metrics["iterations_since_restore"] == 2
    assert by_crash[False].metrics["iterations_since_restore"] == 4
    # Ray keeps the rows of the first attempt or not; those of the second are epochs 3 and 4
    assert restored["epoch"].tolist() in ([1, 2, 3, 4], [3, 4])
    # Per-epoch seeding: the resumed run repeats the uninterrupted one.
    by_epoch = dict(zip(straight["epoch"], straight["val_loss"]))
    assert restored["val_loss"].tolist() == pytest.approx([by_epoch[e] for e in restored["epoch"]], rel=1e-4)


def test_bad_values_fail_only_their_trial_and_divergence_ends_cleanly(tmp_path):
    from ray.tune.search.basic_variant import BasicVariantGenerator

    data = load_dataset("digits", subset=200)
    points = [
        {"lr": -0.1, "optimizer": "adam", "dropout": 0.0},
        {"lr": 1e-3, "optimizer": "rmsprop", "dropout": 0.0},
        {"lr": 1e-3, "optimizer": "adam", "dropout": 1.0},
        # diverges: at lr 1e6 seeds 0-5 all gave NaN in epoch 1 (at 1e4 one of them stayed finite, loss 5e32).
        # Seeded: the seed derived from a random trial id kept the loss finite (2e30) for 1 of 46 ids tried.
        {"lr": 1e6, "optimizer": "sgd", "dropout": 0.0},
        {"lr": 1e-3, "optimizer": "adam", "dropout": 0.0},  # fine
    ]
    results = fit(build_trainable("cnn", data, 2), {"lr": 1e-3, "optimizer": "adam", "dropout": 0.0, "seed": 0},
                  tmp_path, num_samples=len(points), search_alg=BasicVariantGenerator(points_to_evaluate=points))
    assert len(results) == 5 and results.num_errors == 3 and {r.config["seed"] for r in results} == {0}
    errors = {(r.config["lr"], r.config["optimizer"], r.config["dropout"]): str(r.error) for r in results if r.error}
    assert "lr = -0.1" in errors[(-0.1, "adam", 0.0)] and "greater than 0" in errors[(-0.1, "adam", 0.0)]
    assert "optimizer = 'rmsprop'" in errors[(1e-3, "rmsprop", 0.0)]
    assert "dropout = 1.0" in errors[(1e-3, "adam", 1.0)]
    ok = {(r.config["lr"], r.config["optimizer"]): r for r in results if not r.error}
    diverged = ok[(1e6, "sgd")].metrics
    assert diverged["train_status"] == "diverged" and diverged["val_accuracy"] == 0.0
    assert math.isinf(diverged["val_loss"]) and diverged["epoch"] <= 2  # ended there, no crash
    assert ok[(1e-3, "adam")].metrics["epoch"] == 2 and ok[(1e-3, "adam")].metrics["train_status"] == "ok"


def test_unknown_key_fails_its_trial_naming_it(tmp_path):
    """A misspelled hyperparameter would otherwise tune nothing: the trial ends in ERROR with the key named."""
    data = load_dataset("digits", subset=100)
    results = fit(build_trainable("cnn", data, 1), {"lr": 1e-3, "learning_rate": 0.1}, tmp_path)
    assert len(results) == 1 and results.num_errors == 1
    error = str(results[0].error)
    assert "ConfigError" in error and "learning_rate = 0.1: unknown hyperparameter" in error, error
    assert "valid: optimizer, lr," in error
    assert results[0].metrics.get("epoch") is None  # it failed before training, not after


def test_reused_actor_leaks_nothing(tmp_path):
    """Two trials with the same seed, one after the other on one reused actor, report the same numbers."""
    data = load_dataset("digits", subset=300)
    results = fit(build_trainable("cnn", data, 2), {"seed": 11, "dropout": 0.3, "batch_norm": True}, tmp_path,
                  num_samples=2, max_concurrent=1)
    a, b = (history(r) for r in results)
    assert a["pid"].iloc[0] == b["pid"].iloc[0]  # the actor really was reused
    assert a["val_loss"].tolist() == pytest.approx(b["val_loss"].tolist(), rel=1e-5)
    assert a["train_loss"].tolist() == pytest.approx(b["train_loss"].tolist(), rel=1e-5)
