"""The seed's CNN and the ResNet18 fine-tune: shapes, adaptation, freezing, and where weights come from."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from hwk4tune.learn import models
from hwk4tune.learn.models import RANDOM_INIT, build_model
from hwk4tune.registry.hyperparams import CnnHyperparameters, ResNetHyperparameters


def cnn(**kw) -> CnnHyperparameters:
    return CnnHyperparameters.from_config(kw)


def resnet(**kw) -> ResNetHyperparameters:
    return ResNetHyperparameters.from_config(kw)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_cnn_shapes_and_hidden(shape):
    model, weights = build_model("cnn", cnn(hidden=64, dropout=0.4), shape, 10)
    assert weights == RANDOM_INIT
    assert model(torch.randn(5, *shape)).shape == (5, 10)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (shape[0], 16, (5, 5)), (16, 32, (5, 5))]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert linears[0].out_features == 64 and linears[-1].out_features == 10
    assert any(isinstance(m, nn.Dropout) and m.p == 0.4 for m in model.modules())


def test_cnn_batch_norm_optional():
    plain, _ = build_model("cnn", cnn(), (1, 28, 28), 10)
    bn, _ = build_model("cnn", cnn(batch_norm=True), (1, 28, 28), 10)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in plain.modules())
    assert sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in bn.modules()) == 3


@pytest.fixture
def no_hub_cache(tmp_path, monkeypatch):
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    monkeypatch.delenv("HWK4TUNE_DOWNLOAD_WEIGHTS", raising=False)
    yield tmp_path / "hub"
    torch.hub.set_dir(old)


@pytest.mark.parametrize("finetune, trainable", [
    ("head", {"fc"}), ("layer4", {"fc", "layer4"}), ("all", {"conv1", "bn1", "layer1", "layer2", "layer3", "layer4", "fc"})])
def test_resnet_finetune_freezes_the_rest(finetune, trainable, no_hub_cache):
    model, weights = build_model("resnet", resnet(finetune=finetune), (3, 32, 32), 10)
    assert weights == RANDOM_INIT  # no cached DEFAULT weights, no download attempted
    live = {n.split(".")[1] for n, p in model.named_parameters() if p.requires_grad}
    assert live == trainable


def test_resnet_adapts_gray_28(no_hub_cache):
    model, _ = build_model("resnet", resnet(), (1, 28, 28), 10)
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_resnet_weights_from_file(tmp_path, no_hub_cache):
    from torchvision.models import resnet18

    ref = resnet18(weights=None)
    path = tmp_path / "r18.pt"
    torch.save(ref.state_dict(), path)
    model, weights = build_model("resnet", resnet(weights_path=str(path)), (3, 32, 32), 10)
    assert weights == f"user weights {path}"
    assert torch.equal(model.backbone.conv1.weight, ref.conv1.weight)
    assert model.backbone.fc[-1].out_features == 10
    with pytest.raises(FileNotFoundError, match="weights_path"):
        build_model("resnet", resnet(weights_path=str(tmp_path / "missing.pt")), (3, 32, 32), 10)


def test_weights_under_torchvision_name_but_another_hash_are_refused(no_hub_cache):
    """A file under torchvision's name (resnet18-f37072fd.pth) is its ImageNet weights only if its SHA-256
    starts with f37072fd: another ResNet18 state dict there is refused with one line, not mislabelled."""
    from torchvision.models import resnet18

    from hwk4tune.errors import InputError

    path, _ = models._default_weights_file()
    path.parent.mkdir(parents=True)
    torch.save(resnet18(weights=None).state_dict(), path)
    with pytest.raises(InputError, match=r"SHA-256 starts [0-9a-f]{8}, not f37072fd as its name says") as err:
        build_model("resnet", resnet(), (3, 32, 32), 10)
    assert "\n" not in str(err.value)
    _, weights = build_model("resnet", resnet(pretrained="none"), (3, 32, 32), 10)
    assert weights == RANDOM_INIT
    # the same file given explicitly is used, as the user's own weights, and labelled so
    _, weights = build_model("resnet", resnet(weights_path=str(path)), (3, 32, 32), 10)
    assert weights == f"user weights {path}"


def test_published_hash_prefix_accepts_a_matching_file(tmp_path):
    import hashlib

    from hwk4tune.errors import InputError

    body = b"weights" * 1000
    good = tmp_path / f"net-{hashlib.sha256(body).hexdigest()[:8]}.pth"
    good.write_bytes(body)
    models.check_published_hash(good)  # no error
    bad = tmp_path / f"net-{'0' * 8}.pth"
    bad.write_bytes(body)
    with pytest.raises(InputError):
        models.check_published_hash(bad)


def test_unknown_trainable():
    with pytest.raises(ValueError, match=r"no model builder for trainable 'vgg' \(built-ins: cnn, resnet\)"):
        build_model("vgg", cnn(), (3, 32, 32), 10)
