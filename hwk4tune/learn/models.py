"""The seed's CNN and a ResNet18 fine-tune, adapted to the data set's channels and size.

Each builder is ``builder(cfg, input_shape, num_classes) -> (model, weights)`` (the registry names it), where
``weights`` says where the initial weights came from ("random init", "user weights PATH", "torchvision DEFAULT
(IMAGENET1K_V1)").
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from hwk4tune.registry.hyperparams import Hyperparameters

RANDOM_INIT = "random init"
USER_WEIGHTS = "user weights "  # + the file's path: a weights_path the user gave
# A random-init ResNet18 backbone is drawn from this seed, not from the trial's: every trial fine-tunes the
# same network, and a frozen one's features can be computed once and cached (hwk4tune.learn.feature_cache).
RANDOM_INIT_SEED = 0


# ---------------------------------------------------------------------------------------- dropout from masks
# Training draws dropout masks from the trial's own generator and passes them in, so a trial trained alone and
# the same trial in a bank (hwk4tune.learn.bank, where vmap cannot use a generator per member) see the same
# masks. The models that train in banks (SeedCNN, ResNetHead) share this interface (:class:`MaskedDropout`).

def dropout_widths(layers: nn.Sequential) -> tuple[int, ...]:
    """The width of each dropout layer's input in ``layers``: the ``in_features`` of the linear layer after it."""
    widths, pending = [], 0
    for layer in layers:
        if isinstance(layer, nn.Dropout):
            pending += 1
        elif isinstance(layer, nn.Linear):
            widths += [layer.in_features] * pending
            pending = 0
    return tuple(widths)


def draw_dropout_masks(p: float, widths: tuple[int, ...], n: int, generator: torch.Generator,
                       device: torch.device) -> tuple[torch.Tensor, ...] | None:
    """Inverted-dropout masks (0, or 1/(1-p)) n×width for each dropout layer, drawn from ``generator`` (which
    must live on ``device``); None, and no draw, when p is 0."""
    if p == 0:
        return None
    keep = 1.0 - p
    return tuple((torch.rand(n, w, generator=generator, device=device) < keep).float().div_(keep) for w in widths)


def masked(layers: nn.Sequential, x: torch.Tensor, dropout_masks: tuple[torch.Tensor, ...] | None) -> torch.Tensor:
    """``layers`` applied to ``x``, each dropout layer multiplying by its mask from ``dropout_masks`` (as
    :func:`draw_dropout_masks` draws them) instead of drawing its own; without masks the layers as they are."""
    masks = iter(dropout_masks or ())
    for layer in layers:
        x = x * next(masks) if dropout_masks is not None and isinstance(layer, nn.Dropout) else layer(x)
    return x


class MaskedDropout:
    """What a bank (and :meth:`hwk4tune.learn.training.Learner.forward`) needs of a model with dropout:
    ``dropout_widths``, ``dropout_masks(n, generator, device)`` and ``forward(x, dropout_masks=None)``."""

    dropout_p: float

    def _dropout_layers(self) -> nn.Sequential:
        raise NotImplementedError

    @property
    def dropout_widths(self) -> tuple[int, ...]:
        return dropout_widths(self._dropout_layers())

    def dropout_masks(self, n: int, generator: torch.Generator, device: torch.device) -> tuple[torch.Tensor, ...] | None:
        """This model's masks for a batch of ``n`` (:func:`draw_dropout_masks`)."""
        return draw_dropout_masks(self.dropout_p, self.dropout_widths, n, generator, device)


class SeedCNN(MaskedDropout, nn.Module):
    """conv 5×5 (C→16) → ReLU → max-pool 2 → conv 5×5 (16→32) → ReLU → max-pool 2 → dropout → fc hidden →
    ReLU → dropout → fc classes. Optional batch norm after each conv and the hidden layer (the seed's
    batch-norm variant)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: tuple[int, int] = (28, 28),
                 hidden: int = 256, dropout: float = 0.0, batch_norm: bool = False):
        super().__init__()
        self.dropout_p = float(dropout)

        def bn(n: int, two_d: bool = True) -> nn.Module:
            if not batch_norm:
                return nn.Identity()
            return nn.BatchNorm2d(n) if two_d else nn.BatchNorm1d(n)

        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 16, 5, padding=2), bn(16), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5, padding=2), bn(32), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        )
        h, w = image_size[0] // 4, image_size[1] // 4
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout),
            nn.Linear(32 * h * w, hidden), bn(hidden, two_d=False), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor, dropout_masks: tuple[torch.Tensor, ...] | None = None) -> torch.Tensor:
        """Logits of ``x``; ``dropout_masks`` as in :func:`masked`."""
        return masked(self.classifier, self.features(x), dropout_masks)

    def _dropout_layers(self) -> nn.Sequential:
        return self.classifier


class ResNetHead(MaskedDropout, nn.Sequential):
    """The ResNet's new head, dropout then a linear layer (``backbone.fc``; state-dict keys ``0``, ``1``), with
    the CNN's dropout interface (:func:`masked`): a head trains alone or in a bank on the frozen backbone's
    cached features (:mod:`hwk4tune.learn.feature_cache`)."""

    def __init__(self, in_features: int, num_classes: int, dropout: float):
        super().__init__(nn.Dropout(dropout), nn.Linear(in_features, num_classes))
        self.dropout_p = float(dropout)

    def forward(self, x: torch.Tensor, dropout_masks: tuple[torch.Tensor, ...] | None = None) -> torch.Tensor:
        return masked(self, x, dropout_masks)

    def _dropout_layers(self) -> nn.Sequential:
        return self


class ResNetClassifier(nn.Module):
    """torchvision's ResNet18 with a new head; gray input is repeated to 3 channels and images smaller than
    32×32 are zero-padded to 32×32 (28 → 32) inside ``forward``."""

    def __init__(self, backbone: nn.Module, in_channels: int, image_size: tuple[int, int]):
        super().__init__()
        self.backbone = backbone
        self.in_channels = in_channels
        h, w = image_size
        ph, pw = max(0, 32 - h), max(0, 32 - w)
        self.padding = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)

    def train(self, mode: bool = True) -> "ResNetClassifier":
        """As ``nn.Module.train``, but frozen parts of the backbone stay in eval mode: their batch norm
        uses its running statistics and never updates them, so a frozen backbone is a fixed function
        (what the feature cache computes once)."""
        super().train(mode)
        if mode:
            for child in self.backbone.children():
                params = list(child.parameters())
                if params and not any(p.requires_grad for p in params):
                    child.eval()
        return self

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The backbone's output before the head (N×512): torchvision's ResNet.forward without ``fc``."""
        if self.in_channels == 1:
            x = x.expand(-1, 3, -1, -1)
        if any(self.padding):
            x = F.pad(x, self.padding)
        b = self.backbone
        x = b.maxpool(b.relu(b.bn1(b.conv1(x))))
        x = b.layer4(b.layer3(b.layer2(b.layer1(x))))
        return torch.flatten(b.avgpool(x), 1)

    def forward(self, x: torch.Tensor, dropout_masks: tuple[torch.Tensor, ...] | None = None) -> torch.Tensor:
        return self.backbone.fc(self.features(x), dropout_masks=dropout_masks)

    def dropout_masks(self, n: int, generator: torch.Generator, device: torch.device) -> tuple[torch.Tensor, ...] | None:
        """The head's (:class:`ResNetHead`): the same masks whether the head trains on images or on features."""
        return self.backbone.fc.dropout_masks(n, generator, device)


def build_cnn(cfg: Hyperparameters, input_shape: tuple[int, int, int], num_classes: int) -> tuple[nn.Module, str]:
    c, h, w = input_shape
    model = SeedCNN(c, num_classes, (h, w), hidden=cfg.hidden, dropout=cfg.dropout, batch_norm=cfg.batch_norm)
    return model, RANDOM_INIT


def _default_weights_file() -> tuple[Path, object]:
    from torchvision.models import ResNet18_Weights

    weights = ResNet18_Weights.DEFAULT
    name = weights.url.rsplit("/", 1)[-1]
    return Path(torch.hub.get_dir()) / "checkpoints" / name, weights


def check_published_hash(path: Path) -> None:
    """torchvision's weights files are named ``<arch>-<first 8 hex digits of their SHA-256>.pth``: a file under
    that name whose hash does not start so is not those weights (truncated, or something else). One line."""
    import hashlib
    import re

    from hwk4tune.errors import InputError

    m = re.search(r"-([0-9a-f]{8,})\.", path.name)
    if m is None:
        return
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if not digest.hexdigest().startswith(m.group(1)):
        raise InputError(f"{path}: its SHA-256 starts {digest.hexdigest()[:8]}, not {m.group(1)} as its name says: "
                         "not torchvision's published weights; delete it (or give it as weights_path to use it "
                         "as your own weights)")


def _load_state(path: Path) -> dict:
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # one of our own checkpoints
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"weights_path {path}: expected a state dict, got {type(state).__name__}")
    # Accept a bare ResNet18 state dict or one saved from ResNetClassifier ("backbone." prefix).
    return {k.removeprefix("backbone."): v for k, v in state.items()}


def build_resnet(cfg: Hyperparameters, input_shape: tuple[int, int, int], num_classes: int) -> tuple[nn.Module, str]:
    """ResNet18 with a ``num_classes`` head; ``cfg.finetune`` picks what trains (head | layer4 | all).

    Initial weights: ``cfg.weights_path`` if given (must exist; labelled "user weights"); else, unless ``cfg.pretrained == "none"``,
    torchvision's DEFAULT weights if already in the torch hub cache and their SHA-256 matches the prefix in
    the file name (else :class:`~hwk4tune.errors.InputError`); else, only with
    ``cfg.pretrained == "download"`` (or ``HWK4TUNE_DOWNLOAD_WEIGHTS=1``), a download; else random init.
    Never blocks on an unreachable network by default. A random-init backbone is the same in every trial
    (drawn from :data:`RANDOM_INIT_SEED`); the head is drawn from the trial's seed.
    """
    from torchvision.models import resnet18

    with torch.random.fork_rng(devices=[]):  # the head below still draws from the trial's seed
        torch.manual_seed(RANDOM_INIT_SEED)
        backbone = resnet18(weights=None)
    source = RANDOM_INIT
    if cfg.weights_path:
        path = Path(cfg.weights_path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"weights_path {path} does not exist (set weights_path to a ResNet18 "
                                    f"state dict, or leave it out for {cfg.pretrained!r} weights)")
        state = {k: v for k, v in _load_state(path).items() if not k.startswith("fc.")}
        missing, unexpected = backbone.load_state_dict(state, strict=False)
        bad = [k for k in missing if not k.startswith("fc.")]
        if bad or unexpected:
            raise ValueError(f"weights_path {path} is not a ResNet18 state dict "
                             f"(missing {bad[:3]}, unexpected {list(unexpected)[:3]})")
        source = f"{USER_WEIGHTS}{path}"
    elif cfg.pretrained != "none":
        cached, weights = _default_weights_file()
        download = cfg.pretrained == "download" or os.environ.get("HWK4TUNE_DOWNLOAD_WEIGHTS") == "1"
        if cached.is_file():
            check_published_hash(cached)  # before it is called ImageNet weights (InputError: exit 2)
        if cached.is_file() or download:
            old = socket.getdefaulttimeout()
            socket.setdefaulttimeout(20.0)
            try:
                state = weights.get_state_dict(progress=False, check_hash=True)  # a download is checked too
                backbone.load_state_dict(state)
                source = f"torchvision DEFAULT ({weights.name})"
            except Exception as exc:  # noqa: BLE001 - unreachable or corrupt: fall back, and say so
                source = f"{RANDOM_INIT} (DEFAULT weights unavailable: {type(exc).__name__})"
            finally:
                socket.setdefaulttimeout(old)
    backbone.fc = ResNetHead(backbone.fc.in_features, num_classes, cfg.dropout)
    set_finetune(backbone, cfg.finetune)
    c, h, w = input_shape
    if c not in (1, 3):
        raise ValueError(f"resnet takes 1- or 3-channel images, but the data set has {c} channels")
    return ResNetClassifier(backbone, c, (h, w)), source


def set_finetune(backbone: nn.Module, finetune: str) -> None:
    """Freeze everything but the head (``head``), the head and ``layer4`` (``layer4``), or nothing (``all``)."""
    trainable_prefixes = {"head": ("fc.",), "layer4": ("fc.", "layer4."), "all": ("",)}[finetune]
    for name, p in backbone.named_parameters():
        p.requires_grad_(name.startswith(trainable_prefixes))


def build_model(trainable: str, cfg: Hyperparameters, input_shape: tuple[int, int, int],
                num_classes: int) -> tuple[nn.Module, str]:
    """The model of a built-in trainable (the registry names its builder) and a label of its initial weights."""
    from hwk4tune.registry import TRAINABLES, import_target

    entry = TRAINABLES.get(trainable)
    if entry is None or entry.model is None:
        raise ValueError(f"no model builder for trainable {trainable!r} (built-ins: {', '.join(TRAINABLES)})")
    return import_target(entry.model)(cfg, input_shape, num_classes)
