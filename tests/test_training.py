"""The shared loop: config validation, optimizers, L1, augmentation, divergence, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hwk4tune.data import load_dataset
from hwk4tune.training import ConfigError, Learner, TrainConfig, make_optimizer, random_crop_flip


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", subset=300)


def test_defaults_follow_the_architecture_table():
    c = TrainConfig.from_config({})
    assert (c.optimizer, c.lr, c.momentum, c.weight_decay, c.l1, c.dropout) == ("adam", 1e-3, 0.9, 0, 0, 0)
    assert (c.hidden, c.batch_norm, c.batch_size, c.finetune, c.augment, c.seed) == (256, False, 64, "head", True, None)


@pytest.mark.parametrize("config, words", [
    ({"lr": -0.1}, ["lr = -0.1", "greater than 0"]),
    ({"optimizer": "rmsprop"}, ["optimizer = 'rmsprop'", "'sgd', 'momentum', 'adam' or 'adagrad'"]),
    ({"dropout": 1.0}, ["dropout = 1.0", "less than 1"]),
    ({"batch_size": 0}, ["batch_size = 0"]),
    ({"lr": float("nan")}, ["lr = nan"]),
    ({"finetune": "layer3"}, ["finetune = 'layer3'"]),
])
def test_bad_values_are_named(config, words):
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_config(config)
    for w in words:
        assert w in str(info.value)


def test_every_bad_key_in_one_message():
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_config({"lr": 0, "dropout": -1, "optimizer": "adam"})
    assert "lr = 0" in str(info.value) and "dropout = -1" in str(info.value)


def test_numpy_values_and_unknown_keys():
    config = {"lr": np.float64(0.01), "hidden": np.int64(128), "__trial_index__": 3, "lr_typo": 1}
    c = TrainConfig.from_config(config)
    assert c.lr == 0.01 and c.hidden == 128 and isinstance(c.hidden, int)
    assert TrainConfig.unknown_keys(config) == ["__trial_index__", "lr_typo"]


def test_optimizers():
    params = [torch.nn.Parameter(torch.zeros(2))]
    kinds = {name: type(make_optimizer(TrainConfig(optimizer=name, lr=0.1, momentum=0.7), params)).__name__
             for name in ("sgd", "momentum", "adam", "adagrad")}
    assert kinds == {"sgd": "SGD", "momentum": "SGD", "adam": "Adam", "adagrad": "Adagrad"}
    assert make_optimizer(TrainConfig(optimizer="momentum", momentum=0.7), params).param_groups[0]["momentum"] == 0.7
    assert make_optimizer(TrainConfig(optimizer="sgd"), params).param_groups[0]["momentum"] == 0


def test_random_crop_flip_is_a_shifted_window():
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).reshape(2, 3, 6, 6)
    g = torch.Generator().manual_seed(0)
    out = random_crop_flip(x, g, padding=2)
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(2):
        windows = [padded[i, :, r:r + 6, c:c + 6] for r in range(5) for c in range(5)]
        candidates = windows + [w.flip(-1) for w in windows]
        assert any(torch.equal(out[i], w) for w in candidates)


def test_l1_shrinks_weights(digits):
    def norm(l1: float) -> float:
        learner = Learner("cnn", TrainConfig(l1=l1, lr=1e-3), digits.input_shape, 10, seed=0)
        learner.train_epoch(digits.train_x, digits.train_y, 1)
        return sum(p.abs().sum().item() for p in learner.params)

    assert norm(1e-3) < 0.9 * norm(0.0)


def test_divergence_is_reported_not_raised(digits):
    learner = Learner("cnn", TrainConfig(optimizer="sgd", lr=1e6), digits.input_shape, 10, seed=0)
    stats = learner.train_epoch(digits.train_x, digits.train_y, 1)
    assert stats.diverged and stats.images < len(digits.train_y)


def test_resume_repeats_the_uninterrupted_run(digits, tmp_path):
    cfg = TrainConfig(dropout=0.3, lr=1e-3)
    straight = Learner("cnn", cfg, digits.input_shape, 10, seed=5)
    straight.train_epoch(digits.train_x, digits.train_y, 1)
    want = straight.train_epoch(digits.train_x, digits.train_y, 2).train_loss

    first = Learner("cnn", cfg, digits.input_shape, 10, seed=5)
    first.train_epoch(digits.train_x, digits.train_y, 1)
    first.save(tmp_path / "c.pt", 1)
    second = Learner("cnn", cfg, digits.input_shape, 10, seed=5)
    assert second.load(tmp_path / "c.pt") == 1
    got = second.train_epoch(digits.train_x, digits.train_y, 2).train_loss
    assert got == pytest.approx(want, rel=1e-5)


def test_restore_with_new_hyperparameters_keeps_them(digits, tmp_path):
    """PBT exploit: another trial's checkpoint, this trial's lr."""
    a = Learner("cnn", TrainConfig(optimizer="momentum", lr=0.1, momentum=0.5), digits.input_shape, 10, seed=0)
    a.train_epoch(digits.train_x[:64], digits.train_y[:64], 1)
    a.save(tmp_path / "a.pt", 1)
    b = Learner("cnn", TrainConfig(optimizer="momentum", lr=0.02, momentum=0.8), digits.input_shape, 10, seed=1)
    b.load(tmp_path / "a.pt")
    assert b.optimizer.param_groups[0]["lr"] == 0.02 and b.optimizer.param_groups[0]["momentum"] == 0.8
    assert len(b.optimizer.state) > 0  # momentum buffers came along
    c = Learner("cnn", TrainConfig(hidden=32), digits.input_shape, 10, seed=1)
    with pytest.raises(ValueError, match="hidden"):
        c.load(tmp_path / "a.pt")


def test_evaluate(digits):
    learner = Learner("cnn", TrainConfig(), digits.input_shape, 10, seed=0)
    loss, acc = learner.evaluate(digits.val_x, digits.val_y)
    assert loss > 0 and 0 <= acc <= 1
