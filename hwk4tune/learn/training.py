"""One training loop, shared by the Tune trainables and ``hwk4tune train``.

:class:`Learner` holds a model and its optimizer and runs epochs over
in-memory tensors: shuffled mini-batches, optional L1 penalty (λ·Σ|w| over the trainable parameters, the
seed's ``get_loss``), random crop + flip for the ResNet, evaluation, and a clean stop when the loss stops
being finite.

Every epoch's randomness (shuffling, dropout, augmentation) is seeded from ``(seed, epoch)``, so a run
resumed from a checkpoint after epoch k repeats exactly what the uninterrupted run would have done.
"""

from __future__ import annotations

import math
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from hwk4tune.learn.models import build_model
from hwk4tune.registry.hyperparams import OPTIMIZERS, Hyperparameters

CHECKPOINT_FILE = "checkpoint.pt"
EVAL_BATCH_SIZE = 1024


def derive_seed(text: str) -> int:
    """A stable 31-bit seed from a string such as a trial id (Python's ``hash`` is salted per process)."""
    return zlib.crc32(text.encode()) & 0x7FFFFFFF


def make_optimizer(cfg: Hyperparameters, params: list[nn.Parameter]) -> torch.optim.Optimizer:
    """The torch optimizer ``cfg.optimizer`` names (:data:`~hwk4tune.registry.hyperparams.OPTIMIZERS`)."""
    kind = OPTIMIZERS[cfg.optimizer]
    extra = {"momentum": cfg.momentum} if kind.momentum else {}
    return getattr(torch.optim, kind.torch_class)(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **extra)


def scheduled_lr(cfg: Hyperparameters, epoch: int, epochs: int | None) -> float:
    """The learning rate of 1-based ``epoch`` of a run planned for ``epochs`` epochs.

    ``cosine`` is torch's ``CosineAnnealingLR`` (eta_min 0, T_max = epochs) stepped once per epoch, written
    as its closed form so that it depends on the epoch alone: a run resumed from a checkpoint, or a PBT clone
    with a new ``lr``, picks up the schedule where the epoch says, with no scheduler state to save."""
    if cfg.lr_schedule == "constant":
        return cfg.lr
    if not epochs:
        raise ValueError("lr_schedule 'cosine' needs the run's number of epochs")
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / epochs))


def random_crop_flip(x: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """Per-sample random crop (zero padding on every side, same output size) and horizontal flip of a
    batch N×C×H×W, without a Python loop over samples."""
    n, c, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    oy = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(x.device)
    ox = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(x.device)
    flip = (torch.rand(n, generator=generator) < 0.5).to(x.device)
    rows = oy[:, None] + torch.arange(h, device=x.device)  # n×h
    cols = ox[:, None] + torch.arange(w, device=x.device)  # n×w
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    batch = torch.arange(n, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # n×h×w×c
    return out.permute(0, 3, 1, 2).contiguous()


@dataclass
class EpochStats:
    train_loss: float  # mean cross-entropy over the epoch's batches (without the L1 term)
    images: int
    seconds: float  # training only, evaluation excluded
    diverged: bool = False

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0


def effective_precision(precision: str, device: torch.device) -> str:
    """``precision`` as this device can train it: bf16 on a CPU or a GPU with bfloat16, else fp32."""
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return "fp32"
    return precision


class Learner:
    """A model, its optimizer and the loop. No module-level state: one Learner per trial."""

    def __init__(self, trainable: str, cfg: Hyperparameters, input_shape: tuple[int, int, int], num_classes: int,
                 *, seed: int, device: str | torch.device = "cpu", epochs: int | None = None):
        self.trainable = trainable
        self.cfg = cfg
        self.epochs = epochs  # the run's planned length: the horizon of a cosine lr schedule
        self.seed = int(seed)
        self.device = torch.device(device)
        torch.manual_seed(self.seed)  # model initialization
        self.model, self.weights = build_model(trainable, cfg, input_shape, num_classes)
        self.model.to(self.device)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = make_optimizer(cfg, self.params)
        self.augment = bool(getattr(cfg, "augment", False))  # ResNet only
        self.generator = torch.Generator()
        self.dropout_generator = torch.Generator(device=self.device)  # dropout masks (models.MaskedDropout)
        self.precision = effective_precision(cfg.precision, self.device)

    def net(self) -> nn.Module:
        """What ``train_epoch`` and ``evaluate`` run on their inputs: the whole model here; the head only in
        :class:`hwk4tune.learn.feature_cache.FeatureLearner`, whose inputs are the frozen backbone's features."""
        return self.model

    def _seed_epoch(self, epoch: int) -> None:
        s = derive_seed(f"{self.seed}:{epoch}")
        torch.manual_seed(s)  # whatever draws from torch's global generator (dropout draws from its own below)
        self.generator.manual_seed(s)  # shuffling and augmentation
        self.dropout_generator.manual_seed(derive_seed(f"{self.seed}:{epoch}:dropout"))

    def autocast(self):
        """bf16 autocast for ``precision: bf16``, a no-op for fp32."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    def forward(self, net: nn.Module, xb: torch.Tensor) -> torch.Tensor:
        """Training logits: dropout masks come from this trial's own generator (models.MaskedDropout)."""
        masks_of = getattr(net, "dropout_masks", None)
        masks = masks_of(len(xb), self.dropout_generator, self.device) if masks_of is not None else None
        return net(xb) if masks is None else net(xb, dropout_masks=masks)

    def train_epoch(self, x: torch.Tensor, y: torch.Tensor, epoch: int,
                    on_batch: Callable[[int], Any] | None = None) -> EpochStats:
        """One pass over (x, y) in shuffled mini-batches (``epoch`` is 1-based and seeds the pass).
        Stops at the first non-finite loss. ``on_batch(n_images)`` is called after each step."""
        self._seed_epoch(epoch)
        model, opt, cfg = self.net(), self.optimizer, self.cfg
        for group in opt.param_groups:
            group["lr"] = scheduled_lr(cfg, epoch, self.epochs)
        model.train()
        n = len(y)
        bs = cfg.batch_size
        perm = torch.randperm(n, generator=self.generator).to(x.device)
        total = torch.zeros((), device=self.device)
        seen = 0
        t0 = time.perf_counter()
        for step, start in enumerate(range(0, n, bs)):
            idx = perm[start:start + bs]
            if len(idx) < 2 <= n:  # a 1-image batch breaks batch norm; it is one image an epoch
                continue
            xb, yb = x[idx].to(self.device, non_blocking=True), y[idx].to(self.device, non_blocking=True)
            if self.augment:
                xb = random_crop_flip(xb, self.generator)
            with self.autocast():
                logits = self.forward(model, xb)
            loss = F.cross_entropy(logits.float(), yb)
            total += loss.detach() * len(idx)
            seen += len(idx)
            if cfg.l1 > 0:
                loss = loss + cfg.l1 * sum(p.abs().sum() for p in self.params)
            if self.device.type == "cpu" or step % 20 == 0:
                if not math.isfinite(loss.item()):
                    return EpochStats(loss.item(), seen, time.perf_counter() - t0, diverged=True)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if on_batch is not None:
                on_batch(len(idx))
        mean = total.item() / max(seen, 1)
        return EpochStats(mean, seen, time.perf_counter() - t0, diverged=not math.isfinite(mean))

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """(mean cross-entropy, accuracy) over (x, y)."""
        net = self.net().eval()
        loss_sum, correct = 0.0, 0
        for start in range(0, len(y), EVAL_BATCH_SIZE):
            xb = x[start:start + EVAL_BATCH_SIZE].to(self.device, non_blocking=True)
            yb = y[start:start + EVAL_BATCH_SIZE].to(self.device, non_blocking=True)
            with self.autocast():
                out = net(xb).float()
            loss_sum += F.cross_entropy(out, yb, reduction="sum").item()
            correct += (out.argmax(1) == yb).sum().item()
        n = max(len(y), 1)
        return loss_sum / n, correct / n

    # ------------------------------------------------------------------------------ checkpoints

    def save(self, path: Path, epoch: int) -> None:
        torch.save({
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "optimizer_name": self.cfg.optimizer,
            "epoch": int(epoch),
            "trainable": self.trainable,
            "config": self.cfg.model_dump(),
            "weights": self.weights,
        }, path)

    def load(self, path: Path) -> int:
        """Restore model and optimizer state; return the epoch the checkpoint was taken after.

        The checkpoint may come from another trial (PBT exploit) with other hyperparameters: the optimizer's
        state is kept when the optimizer kind and trainable parameters match, and this trial's lr, momentum
        and weight decay always win.
        """
        state = torch.load(path, map_location=self.device, weights_only=False)
        if state.get("trainable") != self.trainable:
            raise ValueError(f"checkpoint {path} is of trainable {state.get('trainable')!r}, "
                             f"not {self.trainable!r}")
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as exc:
            raise ValueError(f"checkpoint {path} does not fit this model (a shape hyperparameter such as "
                             f"hidden or batch_norm differs from the checkpoint's): {exc}") from None
        if state.get("optimizer_name") == self.cfg.optimizer:
            try:
                self.optimizer.load_state_dict(state["optimizer"])
            except (ValueError, KeyError):
                self.optimizer = make_optimizer(self.cfg, self.params)
        for group in self.optimizer.param_groups:
            group["lr"] = self.cfg.lr
            group["weight_decay"] = self.cfg.weight_decay
            if self.cfg.optimizer == "momentum":
                group["momentum"] = self.cfg.momentum
        self.weights = state.get("weights", self.weights)
        return int(state["epoch"])
