"""Head-only fine-tuning on cached backbone features: key, disk hit/miss, equivalence, the sweep path."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import torch
from torchvision.models import resnet18

from hwk4tune.learn.data import load_dataset
from hwk4tune.learn.feature_cache import FeatureLearner, build_features, feature_key, features_for_space
from hwk4tune.learn.models import USER_WEIGHTS, build_model
from hwk4tune.learn.training import Learner
from hwk4tune.registry.hyperparams import ResNetHyperparameters as TrainConfig
from hwk4tune.space import Space


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HWK4TUNE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HWK4TUNE_OFFLINE", "1")


@pytest.fixture(scope="module")
def tiny():
    return load_dataset("fake", shape=(3, 32, 32), size=40, seed=0, val_fraction=0.25)


def _weights_file(path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    torch.save(resnet18(weights=None).state_dict(), path)
    return path


def test_miss_then_hit(tmp_path, tiny):
    first = build_features(tiny, {"pretrained": "none"})
    assert first.origin == "computed" and first.train_x.shape == (len(tiny.train_y), 512)
    assert (tmp_path / "cache" / "features" / f"{first.key}.pt").is_file()
    second = build_features(tiny, {"pretrained": "none"})
    assert second.origin == "disk" and second.key == first.key
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(first, f"{split}_x"), getattr(second, f"{split}_x"))
        assert torch.equal(getattr(first, f"{split}_y"), getattr(tiny, f"{split}_y"))
    # other data (another split seed): another key, a miss
    other = load_dataset("fake", shape=(3, 32, 32), size=40, seed=1, val_fraction=0.25)
    third = build_features(other, {"pretrained": "none"})
    assert third.origin == "computed" and third.key != first.key


def test_key_changes_with_the_weights_not_their_path(tmp_path, tiny):
    a = _weights_file(tmp_path / "a.pt", 1)
    b = _weights_file(tmp_path / "b.pt", 2)
    a_copy = tmp_path / "copy.pt"
    a_copy.write_bytes(a.read_bytes())
    fa = build_features(tiny, {"weights_path": str(a)})
    fb = build_features(tiny, {"weights_path": str(b)})
    fr = build_features(tiny, {"pretrained": "none"})
    assert len({fa.key, fb.key, fr.key}) == 3
    assert not torch.allclose(fa.train_x, fb.train_x)
    assert feature_key(tiny, f"{USER_WEIGHTS}{a_copy}") == fa.key  # identity is the file's content
    assert fa.matches(TrainConfig(finetune="head", augment=False, weights_path=str(a)))
    assert not fa.matches(TrainConfig(finetune="head", augment=False, weights_path=str(b)))
    assert not fa.matches(TrainConfig(finetune="layer4", augment=False, weights_path=str(a)))
    assert not fa.matches(TrainConfig(finetune="head", augment=True, weights_path=str(a)))


def test_random_init_backbone_is_the_same_whatever_the_trial_seed(tiny):
    cfg = TrainConfig(pretrained="none", finetune="head", augment=False)
    torch.manual_seed(11)
    m1, _ = build_model("resnet", cfg, tiny.input_shape, 10)
    torch.manual_seed(12)
    m2, _ = build_model("resnet", cfg, tiny.input_shape, 10)
    s1, s2 = m1.state_dict(), m2.state_dict()
    assert all(torch.equal(s1[k], s2[k]) for k in s1 if not k.startswith("backbone.fc."))
    assert not torch.equal(s1["backbone.fc.1.weight"], s2["backbone.fc.1.weight"])  # the head is the trial's


def test_head_on_features_learns_what_head_on_images_learns(tiny):
    cfg = TrainConfig(pretrained="none", finetune="head", augment=False, batch_size=8, lr=1e-2, dropout=0.2)
    feats = build_features(tiny, {"pretrained": "none"})
    plain = Learner("resnet", cfg, tiny.input_shape, 10, seed=5)
    cached = FeatureLearner("resnet", cfg, tiny.input_shape, 10, seed=5)
    for epoch in (1, 2):
        s_plain = plain.train_epoch(tiny.train_x, tiny.train_y, epoch)
        s_cached = cached.train_epoch(feats.train_x, feats.train_y, epoch)
        assert s_plain.train_loss == pytest.approx(s_cached.train_loss, rel=1e-3, abs=1e-4)
    head_p, head_c = plain.model.backbone.fc[1].weight, cached.model.backbone.fc[1].weight
    assert torch.allclose(head_p, head_c, atol=1e-4)
    assert plain.evaluate(tiny.val_x, tiny.val_y) == pytest.approx(cached.evaluate(feats.val_x, feats.val_y), abs=1e-3)
    # the frozen backbone did not move (batch norm stays in eval mode while the head trains)
    fresh = build_features(tiny, {"pretrained": "none"})
    assert torch.allclose(fresh.train_x, feats.train_x)
    before = {k: v.clone() for k, v in plain.model.state_dict().items() if "running_mean" in k}
    plain.train_epoch(tiny.train_x, tiny.train_y, 3)
    assert all(torch.equal(v, plain.model.state_dict()[k]) for k, v in before.items())


@pytest.mark.parametrize(("space", "expected"), [
    ({"finetune": {"choice": ["head", "layer4"]}, "augment": False, "pretrained": "none"}, True),
    ({"augment": False, "pretrained": "none"}, True),  # finetune defaults to head
    ({"finetune": "head", "pretrained": "none"}, False),  # augment defaults to true
    ({"finetune": "layer4", "augment": False}, False),
    ({"augment": {"choice": [True, False]}, "pretrained": "none"}, True),
    ({"augment": False, "pretrained": {"choice": ["none", "auto"]}}, False),  # two backbones: no single cache
])
def test_which_spaces_use_the_cache(space, expected, tiny):
    found = features_for_space("resnet", Space.parse(space), tiny)
    assert (found is not None) == expected
    assert features_for_space("cnn", Space.parse(space), tiny) is None


def test_mixed_sweep_uses_the_cache_for_head_trials_only(tmp_path, ray_local):
    from hwk4tune.spec import load_sweep
    from hwk4tune.sweep import run_sweep

    (tmp_path / "space.yaml").write_text(textwrap.dedent("""\
        trainable: resnet
        dataset: {name: fake, subset: 48}
        max_epochs: 1
        space:
          finetune: {grid: [head, layer4]}
          augment: false
          pretrained: none
          batch_size: 16
        """))
    (tmp_path / "sweep.yaml").write_text("space: space.yaml\nsearcher: random\nnum_samples: 1\n"
                                         "max_concurrent_trials: 2\nresources_per_trial: {cpu: 1, gpu: 0}\n")
    exp = run_sweep(load_sweep(tmp_path / "sweep.yaml"), storage=str(tmp_path / "runs"), name="mixed", verbose=False)
    rows = {}
    for d in sorted(Path(exp).glob("trial_*")):
        last = [json.loads(line) for line in (d / "result.json").read_text().splitlines() if line.strip()][-1]
        rows[last["config"]["finetune"]] = last
    assert set(rows) == {"head", "layer4"}
    key = rows["head"]["backbone_features"]
    assert len(key) == 32 and (tmp_path / "cache" / "features" / f"{key}.pt").is_file()
    assert rows["layer4"]["backbone_features"] == ""
    assert rows["head"]["train_status"] == rows["layer4"]["train_status"] == "ok"
