"""Banked sweeps (``bank: {size: N}``, hwk4tune.tune.banks) on the session Ray: Tune sees every member as a
trial; ASHA stops members one by one, PBT clones a member's checkpoint into another, a killed sweep resumes, and
a member's results are the results of the same trial trained alone."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
import torch
from test_resume import HWK4TUNE, finished, rows, run_and_kill

from hwk4tune.learn.data import load_dataset
from hwk4tune.learn.feature_cache import FeatureLearner, build_features
from hwk4tune.learn.training import Learner, derive_seed
from hwk4tune.registry.hyperparams import CnnHyperparameters, ResNetHyperparameters
from hwk4tune.spec import load_sweep
from hwk4tune.sweep import run_sweep

SPACE = """\
trainable: cnn
dataset: {name: digits, subset: 300}
max_epochs: %(epochs)d
space:
  optimizer: adam
  lr: {loguniform: [1.0e-4, 0.05]}
  dropout: {uniform: [0.0, 0.5]}
  hidden: 32
  batch_size: 32
"""


def banked(tmp_path: Path, body: str, epochs: int = 3) -> Path:
    (tmp_path / "space.yaml").write_text(SPACE % {"epochs": epochs})
    (tmp_path / "sweep.yaml").write_text("space: space.yaml\n" + textwrap.dedent(body))
    return tmp_path / "sweep.yaml"


def results(exp: Path) -> dict[str, list[dict]]:
    return {d.name.removeprefix("trial_"): rows(d) for d in sorted(exp.glob("trial_*"))}


@pytest.mark.oldest_ray  # named, detached actors outside the trial's placement group: Ray 2.55's API too
def test_asha_stops_members_one_by_one_and_each_trains_as_it_would_alone(ray_local, tmp_path):
    sweep = banked(tmp_path, """\
        searcher: {name: random, seed: 0}
        scheduler: {name: asha, grace_period: 1, reduction_factor: 2}
        num_samples: 6
        bank: {size: 4}
        """)
    exp = run_sweep(load_sweep(sweep), storage=str(tmp_path / "runs"), name="bank")
    deadline = time.monotonic() + 30  # the registry and its servers end with the fit (Ray reaps them shortly)
    while (left := [n for n in ray_local.util.list_named_actors() if n.startswith("hwk4tune-bank:")]) \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, left
    trials = results(exp)
    assert len(trials) == 6 and all(t and t[-1]["done"] for t in trials.values())
    lengths = sorted(len(t) for t in trials.values())
    assert lengths[0] < 3 and lengths[-1] == 3, lengths  # ASHA stopped some members and let others finish
    assert max(r["bank_size"] for t in trials.values() for r in t) >= 2  # members did train together
    for t in trials.values():
        assert [r["epoch"] for r in t] == list(range(1, len(t) + 1))
        assert t[-1]["checkpoint_dir_name"] and t[-1]["train_status"] == "ok"

    # the best member, retrained alone from its config and seed, reaches the same numbers
    trial_id, best = max(trials.items(), key=lambda kv: kv[1][-1]["val_accuracy"])
    config = best[0]["config"]
    data = load_dataset("digits", subset=300)
    torch.set_num_threads(1)  # the bank's server has 1 CPU
    alone = Learner("cnn", CnnHyperparameters.from_config(config), data.input_shape, 10,
                    seed=derive_seed(trial_id), epochs=3)
    # rounding of the batched kernels (about 1e-7 a step) grows with every step: 1e-4 after epoch 1, then x10
    # an epoch (one run in four differed by 8.5e-4 at epoch 3)
    for row in best:
        stats = alone.train_epoch(data.train_x, data.train_y, row["epoch"])
        val_loss, val_accuracy = alone.evaluate(data.val_x, data.val_y)
        tol = 1e-4 * 10 ** (row["epoch"] - 1)
        assert abs(stats.train_loss - row["train_loss"]) < tol, (row["epoch"], stats.train_loss, row["train_loss"])
        assert abs(val_loss - row["val_loss"]) < 10 * tol, (row["epoch"], val_loss, row["val_loss"])
        assert abs(val_accuracy - row["val_accuracy"]) <= 2 / 30 + 1e-9, (row["epoch"], val_accuracy, row)


def test_pbt_clones_a_members_checkpoint_into_another(ray_local, tmp_path):
    sweep = banked(tmp_path, """\
        searcher: {name: random, seed: 0}
        scheduler: {name: pbt, perturbation_interval: 1, quantile_fraction: 0.5, synch: true, seed: 0}
        num_samples: 4
        bank: {size: 4}
        """)
    exp = run_sweep(load_sweep(sweep), storage=str(tmp_path / "runs"), name="pbt")
    trials = results(exp)
    assert len(trials) == 4 and all(len(t) == 3 and t[-1]["done"] for t in trials.values())
    clones = [json.loads(line) for line in (exp / "pbt_global.txt").read_text().splitlines()]
    assert clones, "PBT cloned no member"
    # a clone rejoins its bank from the source's checkpoint and goes on at the next epoch, with its new config
    for trial_id, t in trials.items():
        assert [r["epoch"] for r in t] == [1, 2, 3] and all(r["train_status"] == "ok" for r in t), trial_id
    new_configs = [clone[-1] for clone in clones]  # PBT's record ends with the clone's new config
    assert any(t[-1]["config"] in new_configs for t in trials.values()), "no member went on with a new config"
    assert max(r["bank_size"] for t in trials.values() for r in t) >= 2


@pytest.mark.slow
def test_a_killed_banked_sweep_resumes_and_loses_nothing(tmp_path):
    banked(tmp_path, """\
        searcher: {name: random, seed: 0}
        scheduler: fifo
        num_samples: 4
        bank: {size: 2}
        """, epochs=4)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}
    exp = run_and_kill(tmp_path, "killed", env, 3, 0.0)
    before = finished(exp)
    assert len(before) < 4, "the kill came too late to test anything"
    done = subprocess.run(HWK4TUNE + ["resume", str(exp), "-q"], env=env, capture_output=True, text=True,
                          timeout=600, start_new_session=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    trials = results(exp)
    assert len(trials) == 4
    for trial_id, t in trials.items():
        epochs = [r["epoch"] for r in t]
        assert set(epochs) == {1, 2, 3, 4} and t[-1]["done"], (trial_id, epochs)
        if f"trial_{trial_id}" in before:
            continue
        assert epochs == sorted(epochs)  # a resumed member went on from its checkpoint, never backwards


HEAD_SPACE = """\
trainable: resnet
dataset: {name: fake, subset: 64}
max_epochs: 2
space:
  finetune: head
  augment: false
  pretrained: none
  optimizer: momentum
  batch_size: 16
  lr: {loguniform: [1.0e-3, 0.1]}
  dropout: {uniform: [0.0, 0.5]}
"""


def test_head_only_resnet_trials_train_in_a_bank_on_cached_features(ray_local, tmp_path, monkeypatch):
    monkeypatch.setenv("HWK4TUNE_CACHE", str(tmp_path / "cache"))  # the bank server computes the features there
    monkeypatch.setenv("HWK4TUNE_OFFLINE", "1")
    (tmp_path / "space.yaml").write_text(HEAD_SPACE)
    (tmp_path / "sweep.yaml").write_text("space: space.yaml\nsearcher: {name: random, seed: 0}\nnum_samples: 3\n"
                                         "bank: {size: 3}\n")
    exp = run_sweep(load_sweep(tmp_path / "sweep.yaml"), storage=str(tmp_path / "runs"), name="heads")
    trials = results(exp)
    assert len(trials) == 3 and all(len(t) == 2 and t[-1]["done"] for t in trials.values())
    assert max(r["bank_size"] for t in trials.values() for r in t) >= 2  # members did train together
    keys = {r["backbone_features"] for t in trials.values() for r in t}
    assert len(keys) == 1 and (tmp_path / "cache" / "features" / f"{keys.pop()}.pt").is_file()
    assert all(t[-1]["checkpoint_dir_name"] and t[-1]["train_status"] == "ok" for t in trials.values())

    # each member, retrained alone from its config and seed on the same features, reaches the same numbers
    data = load_dataset("fake", subset=64)
    feats = build_features(data, {"pretrained": "none"})
    assert feats.origin == "disk"  # the bank's own file
    torch.set_num_threads(1)  # the bank's server has 1 CPU
    for trial_id, rows_ in trials.items():
        alone = FeatureLearner("resnet", ResNetHyperparameters.from_config(rows_[0]["config"]), data.input_shape,
                               data.num_classes, seed=derive_seed(trial_id), epochs=2)
        for row in rows_:
            stats = alone.train_epoch(feats.train_x, feats.train_y, row["epoch"])
            val_loss, val_accuracy = alone.evaluate(feats.val_x, feats.val_y)
            assert abs(stats.train_loss - row["train_loss"]) < 1e-5, (trial_id, row["epoch"], stats, row)
            assert abs(val_loss - row["val_loss"]) < 1e-5 and val_accuracy == row["val_accuracy"], (trial_id, row)
