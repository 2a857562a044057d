"""Head-only fine-tuning computes the frozen backbone once.

A ResNet trial with ``finetune: head`` and ``augment: false`` sees every image through the same frozen
function (the backbone, in eval mode: see ``models.ResNetClassifier.train``). Its output, 512 numbers an
image, is computed once per (data set, backbone weights, normalization), saved on disk under a key, put in
Ray's object store with the data, and those trials train only the head (``backbone.fc``) on it:
:class:`FeatureLearner`. Other trials of the same sweep (``finetune: layer4``, augmentation on) train as
before on the images.

The key (:func:`feature_key`) hashes the image and label tensors of the three splits, the normalization
(mean, std), the input shape and the backbone's identity (:func:`weights_identity`): the SHA-256 of a
weights file, torchvision's weights name, or ``random init`` with ``models.RANDOM_INIT_SEED`` and the torch
version. Files: ``$HWK4TUNE_CACHE/features/KEY.pt`` (default ``~/.cache/hwk4tune/features``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from hwk4tune.learn.datasets.roots import cache_root
from hwk4tune.learn.datasets.safe_pickle import sha256_of
from hwk4tune.learn.models import RANDOM_INIT_SEED, USER_WEIGHTS
from hwk4tune.learn.training import Learner
from hwk4tune.registry.hyperparams import ResNetHyperparameters
from hwk4tune.space import Param, Space

FEATURE_VERSION = 1  # bump when the extraction changes (padding, pooling): old files stop matching
EXTRACT_BATCH = 256
SPLITS = ("train", "val", "test")


def feature_dir() -> Path:
    return cache_root().parent / "features"


@dataclass
class FeatureSet:
    """The frozen backbone's features of the three splits, and which trials may use them."""

    key: str
    weights: str  # where the backbone's weights came from, as ``build_resnet`` says
    weights_path: str | None  # the hyperparameters it was built for: a trial matches only these
    pretrained: str
    train_x: torch.Tensor  # N×512 float32
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    origin: str = "computed"  # "computed" now, or "disk" (a cache hit)

    def matches(self, cfg: ResNetHyperparameters) -> bool:
        """True for a head-only trial without augmentation on this backbone."""
        return (cfg.finetune == "head" and not cfg.augment and cfg.weights_path == self.weights_path
                and cfg.pretrained == self.pretrained)


def weights_identity(weights: str) -> str:
    """What makes two backbones the same: a file's SHA-256, torchvision's weights name, or the seed."""
    if weights.startswith(USER_WEIGHTS):
        return "sha256:" + sha256_of(Path(weights.removeprefix(USER_WEIGHTS)))
    if weights.startswith("torchvision DEFAULT"):
        return weights
    return f"random init seed {RANDOM_INIT_SEED} torch {torch.__version__.split('+')[0]}"


def _tensor_digest(tensors: list[torch.Tensor]) -> str:
    h = hashlib.blake2b(digest_size=16)
    for t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(str((tuple(t.shape), str(t.dtype))).encode())
        h.update(t.view(torch.uint8).numpy() if t.numel() else b"")
    return h.hexdigest()


def feature_key(data, weights: str) -> str:
    """Hash of the data set's identity, the backbone's identity and the normalization."""
    ident = {
        "version": FEATURE_VERSION,
        "data": _tensor_digest([data.train_x, data.train_y, data.val_x, data.val_y, data.test_x, data.test_y]),
        "name": data.name,
        "input_shape": list(data.input_shape),
        "mean": [round(m, 7) for m in data.mean],
        "std": [round(s, 7) for s in data.std],
        "weights": weights_identity(weights),
    }
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:32]


@torch.no_grad()
def extract(model: nn.Module, x: torch.Tensor, device: torch.device, batch: int = EXTRACT_BATCH) -> torch.Tensor:
    """The frozen backbone's output (the head's input) for every image of ``x``, N×512 on the CPU."""
    model.eval()
    out = [model.features(x[i:i + batch].to(device)).float().cpu() for i in range(0, len(x), batch)]
    return torch.cat(out) if out else torch.zeros(0, 512)


def build_features(data, hparams: dict[str, Any] | None = None, *, device: str | torch.device | None = None,
                   directory: Path | None = None, say=None) -> FeatureSet:
    """Load the features for ``data`` and the backbone ``hparams`` name (``weights_path``, ``pretrained``)
    from the disk cache, or compute and save them."""
    from hwk4tune.learn.models import build_model

    cfg = ResNetHyperparameters.from_config({**(hparams or {}), "finetune": "head", "augment": False})
    model, weights = build_model("resnet", cfg, data.input_shape, data.num_classes)
    key = feature_key(data, weights)
    path = (directory or feature_dir()) / f"{key}.pt"
    common = dict(key=key, weights=weights, weights_path=cfg.weights_path, pretrained=cfg.pretrained)
    if path.is_file():
        try:
            stored = torch.load(path, map_location="cpu", weights_only=True)
            return FeatureSet(**common, **{k: stored[k] for k in _TENSORS}, origin="disk")
        except (RuntimeError, KeyError, OSError, EOFError) as exc:  # a torn or foreign file: compute again
            print(f"hwk4tune: feature cache {path} unreadable ({type(exc).__name__}); recomputing", file=sys.stderr)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model.to(device)
    n = sum(len(getattr(data, f"{s}_y")) for s in SPLITS)
    if say:
        say(f"feature cache: computing the frozen ResNet18 backbone's features of {n} images once ({weights}, "
            f"on {device.type}) -> {path}")
    tensors = {}
    for split in SPLITS:
        tensors[f"{split}_x"] = extract(model, getattr(data, f"{split}_x"), device)
        tensors[f"{split}_y"] = getattr(data, f"{split}_y").clone()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.partial")
    torch.save(tensors, tmp)
    tmp.replace(path)
    return FeatureSet(**common, **tensors, origin="computed")


_TENSORS = tuple(f"{s}_{xy}" for s in SPLITS for xy in ("x", "y"))


def _values(space: Space, name: str, default: Any) -> list[Any] | None:
    """Every value ``name`` may take in a parsed space: [constant], a choice's values, [default] if
    absent; None when it is a continuous distribution (unknown in advance). A conditional parameter may
    also be absent (its default applies)."""
    value = space.tree.get(name, default)
    if isinstance(value, Param):
        values = list(value.args) if value.is_categorical else None
        return values + [default] if values is not None and value.when else values
    return [value]


def features_for_space(trainable: str, space: Space, data, say=None) -> FeatureSet | None:
    """The feature set a sweep's head-only trials use, or None when no trial of ``space`` is head-only
    without augmentation (or the backbone's weights vary between trials: no single cache applies)."""
    if trainable != "resnet":
        return None
    defaults = ResNetHyperparameters()
    finetunes = _values(space, "finetune", defaults.finetune) or []
    augments = _values(space, "augment", defaults.augment) or []
    if "head" not in finetunes or False not in augments:
        return None
    backbone = {}
    for name in ("weights_path", "pretrained"):
        values = _values(space, name, getattr(defaults, name))
        if values is None or len(values) != 1:
            if say:
                say(f"feature cache: off ({name} varies between trials)")
            return None
        backbone[name] = values[0]
    return build_features(data, backbone, say=say)


class FeatureLearner(Learner):
    """A :class:`Learner` of a ResNet whose inputs are the frozen backbone's features: it trains and
    evaluates the head (``backbone.fc``) only; checkpoints hold the whole model, as :class:`Learner`'s. Several
    of one backbone train together in a :class:`hwk4tune.learn.bank.Bank`."""

    def net(self) -> nn.Module:
        return self.model.backbone.fc
