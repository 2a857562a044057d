"""The shared loop: optimizers, L1, augmentation, divergence, checkpoints."""

from __future__ import annotations

import pytest
import torch

from hwk4tune.learn import training
from hwk4tune.learn.data import load_dataset
from hwk4tune.learn.training import Learner, make_optimizer, random_crop_flip
from hwk4tune.registry.hyperparams import CnnHyperparameters as Cnn


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", subset=300)


def test_optimizers():
    params = [torch.nn.Parameter(torch.zeros(2))]
    kinds = {name: type(make_optimizer(Cnn(optimizer=name, lr=0.1, momentum=0.7), params)).__name__
             for name in ("sgd", "momentum", "adam", "adagrad")}
    assert kinds == {"sgd": "SGD", "momentum": "SGD", "adam": "Adam", "adagrad": "Adagrad"}
    assert make_optimizer(Cnn(optimizer="momentum", momentum=0.7), params).param_groups[0]["momentum"] == 0.7
    assert make_optimizer(Cnn(optimizer="sgd"), params).param_groups[0]["momentum"] == 0


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
        learner = Learner("cnn", Cnn(l1=l1, lr=1e-3), digits.input_shape, 10, seed=0)
        learner.train_epoch(digits.train_x, digits.train_y, 1)
        return sum(p.abs().sum().item() for p in learner.params)

    assert norm(1e-3) < 0.9 * norm(0.0)


def test_divergence_is_reported_not_raised(digits):
    learner = Learner("cnn", Cnn(optimizer="sgd", lr=1e6), digits.input_shape, 10, seed=0)
    stats = learner.train_epoch(digits.train_x, digits.train_y, 1)
    assert stats.diverged and stats.images < len(digits.train_y)


def test_cosine_schedule_is_torchs_cosine_annealing_stepped_per_epoch(digits):
    cfg = Cnn(lr=0.05, optimizer="momentum", lr_schedule="cosine")
    learner = Learner("cnn", cfg, digits.input_shape, 10, seed=0, epochs=4)
    reference = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.05)
    annealing = torch.optim.lr_scheduler.CosineAnnealingLR(reference, T_max=4)
    for epoch in range(1, 5):
        learner.train_epoch(digits.train_x[:32], digits.train_y[:32], epoch)
        assert learner.optimizer.param_groups[0]["lr"] == pytest.approx(reference.param_groups[0]["lr"], rel=1e-12)
        annealing.step()
    assert 0 < learner.optimizer.param_groups[0]["lr"] < 0.2 * 0.05  # 0.05 * (1 + cos(3π/4)) / 2
    constant = Learner("cnn", Cnn(lr=0.05), digits.input_shape, 10, seed=0, epochs=4)
    constant.train_epoch(digits.train_x[:32], digits.train_y[:32], 3)
    assert constant.optimizer.param_groups[0]["lr"] == 0.05
    with pytest.raises(ValueError, match="number of epochs"):
        Learner("cnn", cfg, digits.input_shape, 10, seed=0).train_epoch(digits.train_x[:32], digits.train_y[:32], 1)


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_resume_repeats_the_uninterrupted_run(digits, tmp_path, schedule):
    cfg = Cnn(dropout=0.3, lr=1e-2, optimizer="momentum", lr_schedule=schedule)
    straight = Learner("cnn", cfg, digits.input_shape, 10, seed=5, epochs=3)
    straight.train_epoch(digits.train_x, digits.train_y, 1)
    want = straight.train_epoch(digits.train_x, digits.train_y, 2).train_loss

    first = Learner("cnn", cfg, digits.input_shape, 10, seed=5, epochs=3)
    first.train_epoch(digits.train_x, digits.train_y, 1)
    first.save(tmp_path / "c.pt", 1)
    second = Learner("cnn", cfg, digits.input_shape, 10, seed=5, epochs=3)
    assert second.load(tmp_path / "c.pt") == 1
    got = second.train_epoch(digits.train_x, digits.train_y, 2).train_loss
    assert got == pytest.approx(want, rel=1e-5)
    # the resumed epoch ran at the schedule's lr for epoch 2, not at the restored cfg.lr
    assert second.optimizer.param_groups[0]["lr"] == pytest.approx(training.scheduled_lr(cfg, 2, 3))


def test_restore_with_new_hyperparameters_keeps_them(digits, tmp_path):
    """PBT exploit: another trial's checkpoint, this trial's lr."""
    a = Learner("cnn", Cnn(optimizer="momentum", lr=0.1, momentum=0.5), digits.input_shape, 10, seed=0)
    a.train_epoch(digits.train_x[:64], digits.train_y[:64], 1)
    a.save(tmp_path / "a.pt", 1)
    b = Learner("cnn", Cnn(optimizer="momentum", lr=0.02, momentum=0.8), digits.input_shape, 10, seed=1)
    b.load(tmp_path / "a.pt")
    assert b.optimizer.param_groups[0]["lr"] == 0.02 and b.optimizer.param_groups[0]["momentum"] == 0.8
    assert len(b.optimizer.state) > 0  # momentum buffers came along
    c = Learner("cnn", Cnn(hidden=32), digits.input_shape, 10, seed=1)
    with pytest.raises(ValueError, match="hidden"):
        c.load(tmp_path / "a.pt")


def test_evaluate_matches_a_direct_computation_over_batches(digits, monkeypatch):
    monkeypatch.setattr(training, "EVAL_BATCH_SIZE", 7)  # several batches, the last one short
    learner = Learner("cnn", Cnn(), digits.input_shape, 10, seed=0)
    learner.train_epoch(digits.train_x, digits.train_y, 1)
    loss, acc = learner.evaluate(digits.val_x, digits.val_y)
    learner.model.eval()
    with torch.no_grad():
        out = learner.model(digits.val_x)
    assert loss == pytest.approx(torch.nn.functional.cross_entropy(out, digits.val_y).item(), rel=1e-5)
    assert acc == (out.argmax(1) == digits.val_y).sum().item() / len(digits.val_y)
    assert len(digits.val_y) % 7 != 0

