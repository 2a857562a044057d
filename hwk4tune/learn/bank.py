"""Trial banks: several trials of one model structure trained together as one stacked model.

A small network leaves a GPU mostly idle: one trial's step is a few tiny kernels, limited by Python and launch
overhead. A :class:`Bank` trains N :class:`~hwk4tune.learn.training.Learner` s of the same structure
(:func:`bank_key`) at once: each step stacks the members' parameters and buffers, runs all N forward and
backward passes as one batched call (``torch.func.functional_call`` under ``torch.func.vmap``), and lets each
member's own torch optimizer take its own step. Two trainables train in banks:

- ``cnn``: the seed's CNN on the images (members share ``hidden``, ``batch_norm``);
- ``resnet`` with ``finetune: head`` and ``augment: false``: a
  :class:`~hwk4tune.learn.feature_cache.FeatureLearner`'s head (dropout + linear) on the frozen backbone's
  cached features (members share the backbone: ``weights_path``, ``pretrained``). A ResNet that trains more
  than its head runs the whole backbone on every image, a step that keeps a GPU busy alone: no bank.

What a bank needs of a member's network (``Learner.net()``) is :class:`~hwk4tune.learn.models.MaskedDropout`:
its dropout masks are inputs. Only the forward and backward pass are shared; everything that makes a trial
that trial stays its own:

- its data order and dropout masks come from its own generators, seeded as when it trains alone;
- its optimizer (SGD, momentum, Adam, AdaGrad) with its lr, momentum, weight decay, L1 and lr schedule;
- its batch-norm statistics (each member's running mean and variance are its own);
- its epoch: members may be at different epochs of their runs.

So a member's weights after an epoch equal the weights the same Learner reaches alone, up to the rounding of
batched kernels (``tests/test_bank.py`` states the tolerance). A member whose loss stops being finite leaves
the bank for the rest of the epoch with ``diverged`` set; the others go on.
"""

from __future__ import annotations

import math
import time
from typing import Sequence

import torch
import torch.nn.functional as F
from torch.func import functional_call, vmap

from hwk4tune.learn.models import MaskedDropout
from hwk4tune.learn.training import EpochStats, Learner, scheduled_lr

# what shapes the batches and the optimizer step, for every trainable
COMMON_KEYS = ("batch_size", "optimizer", "precision")
# per trainable that trains in banks: what shapes its stacked model (the resnet's: which backbone's features
# its head trains on; finetune and augment are fixed by bankable())
STRUCTURE_KEYS = {"cnn": ("hidden", "batch_norm"), "resnet": ("weights_path", "pretrained")}


def bankable(trainable: str, cfg) -> bool:
    """True when trials of ``trainable`` with ``cfg`` train in banks: the CNN, and the ResNet when only its head
    trains on cached features (``finetune: head``, ``augment: false``)."""
    if trainable == "resnet":
        return cfg.finetune == "head" and not cfg.augment
    return trainable in STRUCTURE_KEYS


def bank_key(trainable: str, cfg) -> tuple | None:
    """What members of one bank must share; None where banks do not apply (:func:`bankable`)."""
    if not bankable(trainable, cfg):
        return None
    return (trainable, *(getattr(cfg, key) for key in STRUCTURE_KEYS[trainable] + COMMON_KEYS))


class Bank:
    """N Learners of one :func:`bank_key`, trained and evaluated together."""

    def __init__(self, learners: Sequence[Learner]):
        if not learners:
            raise ValueError("a bank needs at least one learner")
        keys = {bank_key(m.trainable, m.cfg) for m in learners}
        if None in keys or len(keys) != 1:
            raise ValueError("bank members must share one bank_key (a cnn or head-only resnet trainable, its "
                             f"STRUCTURE_KEYS and {', '.join(COMMON_KEYS)}); got {sorted(map(str, keys))}")
        if not all(isinstance(m.net(), MaskedDropout) for m in learners):
            raise ValueError("bank members train a network whose dropout masks are inputs (models.MaskedDropout): "
                             "the seed's CNN, or a resnet head on cached features (feature_cache.FeatureLearner)")
        devices = {m.device for m in learners}
        if len(devices) != 1:
            raise ValueError(f"bank members must share one device, got {sorted(map(str, devices))}")
        self.members = list(learners)
        self.device = self.members[0].device
        self.template = self.members[0].net()  # its code runs every member's stacked weights

    # ------------------------------------------------------------------------------ stacking

    def _stacked(self, members: Sequence[Learner]) -> tuple[dict, dict]:
        """The members' parameters and buffers stacked along a new first dimension. Stacking is
        differentiable: the backward pass fills each member's own ``.grad``."""
        named = [dict(m.net().named_parameters()) for m in members]
        params = {name: torch.stack([n[name] for n in named]) for name in named[0]}
        bufs = [dict(m.net().named_buffers()) for m in members]
        buffers = {name: torch.stack([b[name] for b in bufs]) for name in bufs[0]}
        return params, buffers

    @staticmethod
    def _unstack_buffers(members: Sequence[Learner], buffers: dict) -> None:
        """Batch norm updated the stacked running statistics: give each member its own back."""
        with torch.no_grad():
            for i, m in enumerate(members):
                for name, buf in m.net().named_buffers():
                    buf.copy_(buffers[name][i])

    def _logits(self, members: Sequence[Learner], xb: torch.Tensor, masks: tuple | None, train: bool) -> tuple:
        """Logits N×B×classes of each member on its own batch (``xb``: N×B×C×H×W images, or N×B×512 features)."""
        params, buffers = self._stacked(members)
        self.template.train(train)

        def one(p, b, x, m):
            return functional_call(self.template, (p, b), (x,), {"dropout_masks": m} if m is not None else {})

        # dropout masks are inputs (drawn per member beforehand), so vmap itself draws nothing
        with members[0].autocast():
            out = vmap(one, in_dims=(0, 0, 0, 0 if masks is not None else None))(params, buffers, xb, masks)
        return out.float(), buffers

    def _masks(self, members: Sequence[Learner], n: int) -> tuple | None:
        """Each member's dropout masks for a batch of ``n``, from its own generator (ones where p is 0)."""
        drawn = [m.net().dropout_masks(n, m.dropout_generator, self.device) for m in members]
        if all(d is None for d in drawn):
            return None
        sizes = self.template.dropout_widths
        ones = tuple(torch.ones(n, size, device=self.device) for size in sizes)
        return tuple(torch.stack([(d or ones)[k] for d in drawn]) for k in range(len(sizes)))

    # ------------------------------------------------------------------------------ training

    def train_epoch(self, x: torch.Tensor, y: torch.Tensor, epochs: Sequence[int]) -> list[EpochStats]:
        """One pass over (x, y) for every member; ``epochs[i]`` is member i's 1-based epoch (it seeds the
        member's shuffling and dropout, as in :meth:`Learner.train_epoch`)."""
        if len(epochs) != len(self.members):
            raise ValueError(f"{len(epochs)} epochs for {len(self.members)} members")
        perms = []
        for m, epoch in zip(self.members, epochs):
            m._seed_epoch(epoch)
            for group in m.optimizer.param_groups:
                group["lr"] = scheduled_lr(m.cfg, epoch, m.epochs)
            m.net().train()
            perms.append(torch.randperm(len(y), generator=m.generator).to(x.device))
        n, bs = len(y), self.members[0].cfg.batch_size
        active = list(range(len(self.members)))
        totals = torch.zeros(len(self.members), device=self.device)
        seen = [0] * len(self.members)
        stats: dict[int, EpochStats] = {}
        t0 = time.perf_counter()
        for step, start in enumerate(range(0, n, bs)):
            if start + 2 > n and n >= 2:  # a 1-image batch breaks batch norm (as Learner skips it)
                continue
            if not active:
                break
            members = [self.members[i] for i in active]
            idx = torch.stack([perms[i][start:start + bs] for i in active])  # N×B
            xb, yb = x[idx].to(self.device, non_blocking=True), y[idx].to(self.device, non_blocking=True)
            logits, buffers = self._logits(members, xb, self._masks(members, idx.shape[1]), train=True)
            losses = F.cross_entropy(logits.flatten(0, 1), yb.flatten(), reduction="none").view(len(active), -1)
            losses = losses.mean(1)
            penalized = [self._l1(m, losses[k]) for k, m in enumerate(members)]
            for k, i in enumerate(active):
                totals[i] += losses[k].detach() * idx.shape[1]
                seen[i] += idx.shape[1]
            if self.device.type == "cpu" or step % 20 == 0:
                values = torch.stack([p.detach() for p in penalized]).tolist()
                bad = [k for k, v in enumerate(values) if not math.isfinite(v)]
                if bad:
                    for k in bad:
                        stats[active[k]] = EpochStats(values[k], seen[active[k]], time.perf_counter() - t0,
                                                      diverged=True)
                    keep = [k for k in range(len(active)) if k not in bad]
                    penalized = [penalized[k] for k in keep]
                    members = [members[k] for k in keep]
                    active = [active[k] for k in keep]
                    buffers = {name: b[keep] for name, b in buffers.items()}
                    if not active:
                        break
            for m in members:
                m.optimizer.zero_grad(set_to_none=True)
            torch.stack(penalized).sum().backward()  # member i's loss reaches member i's weights only
            for m in members:
                m.optimizer.step()
            self._unstack_buffers(members, buffers)
        seconds = time.perf_counter() - t0
        for i in range(len(self.members)):
            if i not in stats:
                mean = totals[i].item() / max(seen[i], 1)
                stats[i] = EpochStats(mean, seen[i], seconds, diverged=not math.isfinite(mean))
        return [stats[i] for i in range(len(self.members))]

    @staticmethod
    def _l1(member: Learner, loss: torch.Tensor) -> torch.Tensor:
        """The member's loss with its own L1 penalty λ·Σ|w|, as :meth:`Learner.train_epoch` adds it."""
        if member.cfg.l1 > 0:
            return loss + member.cfg.l1 * sum(p.abs().sum() for p in member.params)
        return loss

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024) -> list[tuple[float, float]]:
        """(mean cross-entropy, accuracy) over (x, y) for every member."""
        k = len(self.members)
        loss_sum = torch.zeros(k, device=self.device)
        correct = torch.zeros(k, device=self.device)
        for start in range(0, len(y), batch_size):
            xb = x[start:start + batch_size].to(self.device, non_blocking=True)
            yb = y[start:start + batch_size].to(self.device, non_blocking=True)
            logits, _ = self._logits(self.members, xb.expand(k, *xb.shape), None, train=False)
            loss_sum += F.cross_entropy(logits.flatten(0, 1), yb.repeat(k), reduction="none").view(k, -1).sum(1)
            correct += (logits.argmax(2) == yb).sum(1)
        count = max(len(y), 1)
        return [(float(a) / count, float(c) / count) for a, c in zip(loss_sum.tolist(), correct.tolist())]
