"""Trial banks (hwk4tune.learn.bank): a member trained in a bank equals the same trial trained alone.

CNN tolerance: one epoch of 6 steps, every weight and batch-norm statistic within 1e-4 without batch norm and
2e-3 with it, the epoch's training loss within 1e-5 (1e-4), the validation loss within 1e-3 (5e-3). Batch
norm amplifies the rounding of batched kernels: running the same trial alone on 1 CPU thread and on 2 moves
its weights as far (1e-3 after two epochs, measured on this data). One exception: a bias that feeds a batch
norm has a gradient of zero up to rounding, which Adam and AdaGrad divide by its own tiny magnitude into
lr-sized steps; that bias, and the running mean it shifts, are noise in both runs (the training output does
not depend on them) and are not compared; evaluation, which uses the running mean, then differs by up to
2e-2 in loss and 2 of the 20 validation images.

Head-only ResNet (a head, dropout + linear, on the frozen backbone's cached features; no batch norm): two epochs
of 6 steps, every weight within 1e-6 (measured: 5e-8 at most), training and validation losses within 1e-5
(measured: 7e-7), the same validation accuracy.
"""

from __future__ import annotations

import math

import pytest
import torch

from hwk4tune.learn.bank import Bank, bank_key
from hwk4tune.learn.data import load_dataset
from hwk4tune.learn.feature_cache import FeatureLearner, build_features
from hwk4tune.learn.training import Learner
from hwk4tune.registry.hyperparams import CnnHyperparameters, ResNetHyperparameters

SHAPE = (1, 28, 28)
# (lr, dropout, l1, weight_decay, momentum, lr_schedule): every continuous knob differs between members
MEMBERS = [(0.01, 0.0, 0.0, 0.0, 0.9, "constant"), (0.003, 0.3, 1e-4, 1e-3, 0.5, "cosine"),
           (0.02, 0.5, 0.0, 1e-2, 0.8, "constant")]


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", subset=200)  # 180 training images: 5 batches of 32 and one of 20


def _learners(optimizer: str, batch_norm: bool, members=MEMBERS) -> list[Learner]:
    cfgs = [CnnHyperparameters(optimizer=optimizer, batch_norm=batch_norm, hidden=32, batch_size=32, lr=lr,
                               dropout=dropout, l1=l1, weight_decay=wd, momentum=mom, lr_schedule=schedule)
            for lr, dropout, l1, wd, mom, schedule in members]
    return [Learner("cnn", cfg, SHAPE, 10, seed=100 + i, epochs=3) for i, cfg in enumerate(cfgs)]


def _noise_only(name: str, optimizer: str, batch_norm: bool) -> bool:
    """Biases feeding a batch norm (and the running means they shift) under Adam/AdaGrad: see the docstring."""
    pre_bn = name in ("features.0.bias", "features.4.bias", "classifier.2.bias") or name.endswith("running_mean")
    return batch_norm and optimizer in ("adam", "adagrad") and pre_bn


@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "batch_norm"])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "adagrad"])
def test_a_bank_member_trains_as_it_would_alone(digits, optimizer, batch_norm):
    torch.set_num_threads(1)
    alone, banked = _learners(optimizer, batch_norm), _learners(optimizer, batch_norm)
    # member 1 starts at its epoch 2 (a trial that joins the bank later): its shuffling, dropout and cosine lr
    # follow its own epoch
    epochs = [1, 2, 1]
    alone_stats = [m.train_epoch(digits.train_x, digits.train_y, e) for m, e in zip(alone, epochs)]
    bank = Bank(banked)
    bank_stats = bank.train_epoch(digits.train_x, digits.train_y, epochs)

    weights_tol, loss_tol, val_tol = (2e-3, 1e-4, 5e-3) if batch_norm else (1e-4, 1e-5, 1e-3)
    val_tol, images_tol = (2e-2, 2) if _noise_only("features.0.bias", optimizer, batch_norm) else (val_tol, 1)
    compared = 0
    for a, b in zip(alone, banked):
        for (name, wa), wb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
            if wa.is_floating_point() and not _noise_only(name, optimizer, batch_norm):
                assert torch.allclose(wa, wb, atol=weights_tol, rtol=0), (name, (wa - wb).abs().max().item())
                compared += 1
            elif not wa.is_floating_point():
                assert torch.equal(wa, wb), name  # batch norm's num_batches_tracked
        assert b.optimizer.state_dict()["state"].keys() == a.optimizer.state_dict()["state"].keys()
    assert compared >= 3 * 6
    for sa, sb in zip(alone_stats, bank_stats):
        assert sb.images == sa.images == len(digits.train_y) and not sb.diverged
        assert math.isclose(sa.train_loss, sb.train_loss, abs_tol=loss_tol), (sa.train_loss, sb.train_loss)
    for (la, aa), (lb, ab) in zip([m.evaluate(digits.val_x, digits.val_y) for m in alone],
                                  bank.evaluate(digits.val_x, digits.val_y)):
        assert abs(la - lb) < val_tol and abs(aa - ab) <= images_tol / len(digits.val_y) + 1e-9, (la, lb, aa, ab)


@pytest.fixture(scope="module")
def head_features(tmp_path_factory):
    """A tiny data set's features through the random-init ResNet18 backbone (90 training, 30 validation)."""
    data = load_dataset("fake", shape=(3, 32, 32), size=120, seed=0, val_fraction=0.25)
    return data, build_features(data, {"pretrained": "none"}, directory=tmp_path_factory.mktemp("features"))


def _heads(data, optimizer: str, members=MEMBERS) -> list[FeatureLearner]:
    cfgs = [ResNetHyperparameters(optimizer=optimizer, finetune="head", augment=False, pretrained="none",
                                  batch_size=16, lr=lr, dropout=dropout, l1=l1, weight_decay=wd, momentum=mom,
                                  lr_schedule=schedule)
            for lr, dropout, l1, wd, mom, schedule in members]
    return [FeatureLearner("resnet", cfg, data.input_shape, data.num_classes, seed=100 + i, epochs=3)
            for i, cfg in enumerate(cfgs)]


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "adagrad"])
def test_a_head_only_resnet_member_trains_as_it_would_alone(head_features, optimizer):
    torch.set_num_threads(1)
    data, feats = head_features
    alone, banked = _heads(data, optimizer), _heads(data, optimizer)
    before = [m.model.backbone.fc[1].weight.detach().clone() for m in alone]
    bank = Bank(banked)
    for epochs in ([1, 2, 1], [2, 3, 2]):  # member 1 joined later: its shuffling, dropout and cosine lr are its own
        alone_stats = [m.train_epoch(feats.train_x, feats.train_y, e) for m, e in zip(alone, epochs)]
        bank_stats = bank.train_epoch(feats.train_x, feats.train_y, epochs)
        for sa, sb in zip(alone_stats, bank_stats):
            assert sb.images == sa.images == len(feats.train_y) and not sb.diverged
            assert math.isclose(sa.train_loss, sb.train_loss, abs_tol=1e-5), (sa.train_loss, sb.train_loss)
    for a, b, w0 in zip(alone, banked, before):
        assert not torch.allclose(a.model.backbone.fc[1].weight, w0, atol=1e-3)  # the head did train
        for name, wa in a.model.state_dict().items():
            wb = b.model.state_dict()[name]
            if wa.is_floating_point():
                assert torch.allclose(wa, wb, atol=1e-6, rtol=0), (name, (wa - wb).abs().max().item())
            else:
                assert torch.equal(wa, wb), name
        assert b.optimizer.state_dict()["state"].keys() == a.optimizer.state_dict()["state"].keys()
    for (la, aa), (lb, ab) in zip([m.evaluate(feats.val_x, feats.val_y) for m in alone],
                                  bank.evaluate(feats.val_x, feats.val_y)):
        assert abs(la - lb) < 1e-5 and aa == ab, (la, lb, aa, ab)


def test_a_bank_takes_heads_on_features_not_whole_resnets(head_features):
    data, _ = head_features
    cfg = ResNetHyperparameters(finetune="head", augment=False, pretrained="none")
    with pytest.raises(ValueError, match="dropout masks are inputs"):  # a whole ResNet on images: no bank
        Bank([Learner("resnet", cfg, data.input_shape, data.num_classes, seed=0)])
    with pytest.raises(ValueError, match="must share"):
        Bank([FeatureLearner("resnet", cfg.model_copy(update={"finetune": "layer4"}), data.input_shape,
                             data.num_classes, seed=0)])


def test_dropout_masks_are_each_members_own(digits):
    """Two members alike but for their seed draw different masks; the same seed draws the same ones."""
    torch.set_num_threads(1)
    cfg = CnnHyperparameters(hidden=32, batch_size=32, dropout=0.5)
    members = [Learner("cnn", cfg, SHAPE, 10, seed=s, epochs=1) for s in (1, 2, 1)]
    for m in members:
        m._seed_epoch(1)
    masks = [m.model.dropout_masks(32, m.dropout_generator, m.device) for m in members]
    assert torch.equal(masks[0][1], masks[2][1]) and not torch.equal(masks[0][1], masks[1][1])
    kept = masks[1][1].ne(0).float().mean().item()
    assert 0.4 < kept < 0.6 and set(masks[1][1].unique().tolist()) == {0.0, 2.0}


def test_a_member_whose_loss_is_not_finite_stops_alone(digits):
    torch.set_num_threads(1)
    members = MEMBERS[:2] + [(1e30, 0.0, 0.0, 0.0, 0.9, "constant")]  # the third explodes at once
    alone, banked = _learners("sgd", False, members), _learners("sgd", False, members)
    bank_stats = Bank(banked).train_epoch(digits.train_x, digits.train_y, [1, 1, 1])
    assert [s.diverged for s in bank_stats] == [False, False, True]
    for a, b in zip(alone[:2], banked[:2]):
        a.train_epoch(digits.train_x, digits.train_y, 1)
        for wa, wb in zip(a.model.state_dict().values(), b.model.state_dict().values()):
            assert torch.allclose(wa, wb, atol=1e-5, rtol=0)


def test_only_trials_of_one_structure_share_a_bank():
    a = CnnHyperparameters(hidden=32, lr=0.1, l1=1e-3, dropout=0.2, weight_decay=1e-4, momentum=0.5)
    assert bank_key("cnn", a) == bank_key("cnn", CnnHyperparameters(hidden=32, lr=1e-4))
    for other in (dict(hidden=64), dict(batch_norm=True), dict(batch_size=128), dict(optimizer="sgd"),
                  dict(precision="bf16")):
        assert bank_key("cnn", CnnHyperparameters(**({"hidden": 32} | other))) != bank_key("cnn", a), other
    with pytest.raises(ValueError, match="must share"):
        Bank([Learner("cnn", a, SHAPE, 10, seed=0), Learner("cnn", CnnHyperparameters(hidden=64), SHAPE, 10, seed=0)])

    head = ResNetHyperparameters(finetune="head", augment=False, lr=0.1, l1=1e-3, dropout=0.2, weight_decay=1e-4,
                                 momentum=0.5, lr_schedule="cosine")
    assert bank_key("resnet", head) == bank_key("resnet", ResNetHyperparameters(finetune="head", augment=False))
    for other in (dict(weights_path="w.pt"), dict(pretrained="none"), dict(batch_size=128), dict(optimizer="sgd"),
                  dict(precision="bf16")):
        assert bank_key("resnet", ResNetHyperparameters(finetune="head", augment=False, **other)) != \
            bank_key("resnet", head), other
    # a ResNet that trains more than its head, or augments its images, has no cached features: no bank
    for other in (dict(finetune="layer4", augment=False), dict(finetune="all", augment=False), dict(augment=True)):
        assert bank_key("resnet", ResNetHyperparameters(**other)) is None, other


def test_bf16_trains_and_reports_its_precision(digits):
    torch.set_num_threads(1)
    cfg = CnnHyperparameters(hidden=32, batch_size=32, precision="bf16", lr=0.01)
    alone = Learner("cnn", cfg, SHAPE, 10, seed=3, epochs=2)
    before = alone.evaluate(digits.val_x, digits.val_y)
    stats = [alone.train_epoch(digits.train_x, digits.train_y, e) for e in (1, 2)]
    after = alone.evaluate(digits.val_x, digits.val_y)
    assert alone.precision == "bf16" and not stats[-1].diverged
    assert after[0] < before[0] and all(p.dtype == torch.float32 for p in alone.model.parameters())
    bank = Bank([Learner("cnn", cfg, SHAPE, 10, seed=3, epochs=2)])
    assert not bank.train_epoch(digits.train_x, digits.train_y, [1])[0].diverged


def test_an_unbankable_trainable_is_one_line_before_any_trial(tmp_path, capsys):
    from hwk4tune.cli import main

    (tmp_path / "own.py").write_text("def train(config):\n    pass\n")
    resnet = "trainable: resnet\ndataset: {name: fake, subset: 40}\nmax_epochs: 1\nspace:\n  lr: {loguniform: [1.0e-4, 0.1]}\n"
    head = "fix {}: {} (it has {})"
    for space, bank, problem in (
            (resnet, "{size: 4}", head.format("augment", "false", "true, its default")),
            (resnet + "  augment: false\n  finetune: {choice: [head, layer4]}\n", "{size: 4}",
             head.format("finetune", "head", "choice ['head', 'layer4']")),
            (resnet + "  augment: false\n  finetune: all\n", "{size: 4}", head.format("finetune", "head", "all")),
            (resnet + "  augment: false\n", "{size: 4, sise: 2}", "bank.sise"),
            ("trainable: own.py:train\nmax_epochs: 1\nspace:\n  lr: 0.1\n", "{size: 4}",
             "trains the built-in cnn and head-only resnet trainables only, not ")):
        (tmp_path / "space.yaml").write_text(space)
        (tmp_path / "sweep.yaml").write_text(f"space: space.yaml\nsearcher: random\nbank: {bank}\n")
        assert main(["validate", str(tmp_path / "sweep.yaml")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"{tmp_path / 'sweep.yaml'}:3: ") and problem in err[0], err
    # a head-only resnet without augmentation trains in banks
    (tmp_path / "space.yaml").write_text(resnet + "  augment: false\n  finetune: {choice: [head]}\n")
    (tmp_path / "sweep.yaml").write_text("space: space.yaml\nsearcher: random\nbank: {size: 4}\n")
    assert main(["validate", str(tmp_path / "sweep.yaml")]) == 0


def test_a_bank_runs_its_size_at_once_unless_told(tmp_path):
    from hwk4tune.spec import load_sweep

    (tmp_path / "space.yaml").write_text("trainable: cnn\ndataset: {name: digits}\nmax_epochs: 1\n"
                                         "space:\n  lr: {loguniform: [1.0e-4, 0.1]}\n")
    (tmp_path / "sweep.yaml").write_text("space: space.yaml\nsearcher: random\nbank: {size: 8}\n")
    assert load_sweep(tmp_path / "sweep.yaml").concurrent_trials == 8
    (tmp_path / "sweep.yaml").write_text("space: space.yaml\nsearcher: random\nbank: {size: 8}\n"
                                         "max_concurrent_trials: 16\n")
    assert load_sweep(tmp_path / "sweep.yaml").concurrent_trials == 16
    (tmp_path / "sweep.yaml").write_text("space: space.yaml\nsearcher: random\nbank: {size: 8}\n"
                                         "resources_per_trial: {cpu: 1, gpu: 0.25}\n")
    assert any("give it gpu: 1" in n for n in load_sweep(tmp_path / "sweep.yaml").notices())


# on a GPU machine the same check runs on CUDA too (here, only on the CPU: no test is skipped)
@pytest.mark.parametrize("device", ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
def test_a_bank_on_the_device_of_its_trials(digits, device):
    # TF32 rounds to 10 bits: alone and banked convolutions may pick different kernels, so compare in full fp32
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        _bank_on(digits, device)
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


def _bank_on(digits, device: str) -> None:
    alone = [Learner("cnn", CnnHyperparameters(hidden=32, batch_size=32, lr=lr, dropout=0.3), SHAPE, 10, seed=s,
                     device=device, epochs=2) for s, lr in ((1, 0.01), (2, 0.003))]
    banked = [Learner("cnn", m.cfg, SHAPE, 10, seed=m.seed, device=device, epochs=2) for m in alone]
    for m in alone:
        m.train_epoch(digits.train_x, digits.train_y, 1)
    stats = Bank(banked).train_epoch(digits.train_x, digits.train_y, [1, 1])
    assert {m.device.type for m in banked} == {device} and not any(s.diverged for s in stats)
    for a, b in zip(alone, banked):
        for wa, wb in zip(a.model.state_dict().values(), b.model.state_dict().values()):
            assert torch.allclose(wa, wb, atol=1e-4, rtol=0)
