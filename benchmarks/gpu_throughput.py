"""How busy a trial keeps its device: one trial's training loop against the same model trained bare, and a
bank of N trials (hwk4tune.learn.bank) against N trials one after another, for the CNN and for the head-only
ResNet. Runs on a GPU or a CPU (it prints which); side by side in one process, so the ratios hold on a noisy
machine.

    python benchmarks/gpu_throughput.py [--dataset digits|mnist|fashion_mnist] [--subset N] [--banks 1,8,32]
                                        [--epochs 3] [--precision fp32|bf16] [--models cnn,head]

Rows (images/s over the training pass; epoch 1 is a warm-up and left out):
- ``bare CNN``: the seed's CNN, Adam, batch 64, data already on the device, a plain loop (no hwk4tune code);
- ``one CNN trial``: hwk4tune's Learner on the same device-resident data (what a trial runs);
- ``bank of N``: N CNN trials in one Bank; model-images/s (N x images / s) and its ratio to one trial;
- ``bare head`` / ``one head-only ResNet trial``: the head-only ResNet on cached backbone features (512 numbers
  an image; random numbers stand in for them: the head's cost does not depend on their values);
- ``bank of N head-only ResNet trials``: N such heads in one Bank; model-images/s and its ratio to one head trial.
Goals (issue 27, on a GPU): one trial >= 0.9x bare; a bank of 32 >= 8x one trial.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def bare_cnn(data, device, epochs: int, batch_size: int = 64) -> float:
    """Images/s of a plain loop: the seed's CNN, Adam, an on-device permutation, no hwk4tune code."""
    import torch

    from hwk4tune.learn.models import SeedCNN

    torch.manual_seed(0)
    c, h, w = data.input_shape
    model = SeedCNN(c, data.num_classes, (h, w), hidden=256).to(device)
    return plain_loop_rate(model, data.train_x, data.train_y, device, epochs, batch_size)


def plain_loop_rate(model, x, y, device, epochs: int, batch_size: int = 64) -> float:
    """Images/s of Adam on ``model`` in a plain loop over device-resident (x, y), epoch 1 left out."""
    import torch
    import torch.nn.functional as F

    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = x.to(device), y.to(device)
    rates = []
    for _ in range(epochs):
        _sync(device)
        t0 = time.perf_counter()
        perm = torch.randperm(len(y), device=device)
        for start in range(0, len(y), batch_size):
            idx = perm[start:start + batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        _sync(device)
        rates.append(len(y) / (time.perf_counter() - t0))
    return sum(rates[1:]) / max(len(rates) - 1, 1)


def learners(data, device, n: int, precision: str, epochs: int):
    """N CNN trials of one structure (their learning rates differ)."""
    from hwk4tune.learn.training import Learner
    from hwk4tune.registry.hyperparams import CnnHyperparameters

    return [Learner("cnn", CnnHyperparameters(hidden=256, lr=1e-3 * (1 + i / n), precision=precision),
                    data.input_shape, data.num_classes, seed=i, device=device, epochs=epochs) for i in range(n)]


def trial_rate(members, x, y, device, epochs: int) -> float:
    """Model-images/s of ``members`` trained one after another (one member: one trial)."""
    x, y = x.to(device), y.to(device)
    rates = []
    for epoch in range(1, epochs + 1):
        _sync(device)
        t0 = time.perf_counter()
        images = sum(m.train_epoch(x, y, epoch).images for m in members)
        _sync(device)
        rates.append(images / (time.perf_counter() - t0))
    return sum(rates[1:]) / max(len(rates) - 1, 1)


def bank_rate(members, x, y, device, epochs: int) -> float:
    """Model-images/s of ``members`` trained as one Bank."""
    from hwk4tune.learn.bank import Bank

    bank = Bank(members)
    x, y = x.to(device), y.to(device)
    rates = []
    for epoch in range(1, epochs + 1):
        _sync(device)
        t0 = time.perf_counter()
        images = sum(s.images for s in bank.train_epoch(x, y, [epoch] * len(members)))
        _sync(device)
        rates.append(images / (time.perf_counter() - t0))
    return sum(rates[1:]) / max(len(rates) - 1, 1)


def head_features(data, device):
    """Random 512-d features standing in for the cached backbone's, and the labels, on the device."""
    import torch

    g = torch.Generator().manual_seed(0)
    return torch.randn(len(data.train_y), 512, generator=g).to(device), data.train_y.to(device)


def heads(data, device, n: int, precision: str, epochs: int):
    """N head-only ResNet trials of one structure (their learning rates differ), on cached features."""
    from hwk4tune.learn.feature_cache import FeatureLearner
    from hwk4tune.registry.hyperparams import ResNetHyperparameters

    return [FeatureLearner("resnet", ResNetHyperparameters(finetune="head", augment=False, pretrained="none",
                                                           lr=1e-3 * (1 + i / n), precision=precision),
                           data.input_shape, data.num_classes, seed=i, device=device, epochs=epochs)
            for i in range(n)]


def head_rates(data, device, epochs: int, precision: str) -> tuple[float, float]:
    """(bare, one trial) images/s of the head-only ResNet on 512-d features."""
    import torch

    feats, y = head_features(data, device)
    bare = plain_loop_rate(torch.nn.Linear(512, data.num_classes).to(device), feats, y, device, epochs)
    return bare, trial_rate(heads(data, device, 1, precision, epochs), feats, y, device, epochs)


def main(argv: list[str] | None = None) -> int:
    import torch

    from hwk4tune.learn.data import load_dataset

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="digits", help="digits (default), mnist, fashion_mnist")
    parser.add_argument("--subset", type=int, default=None, help="training pool size (default: all)")
    parser.add_argument("--banks", default="1,8,32", help="bank sizes, comma-separated (default 1,8,32)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per measurement, the first a warm-up")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--models", default="cnn,head", help="which rows: cnn, head (the head-only ResNet) or "
                                                             "both (default cnn,head)")
    args = parser.parse_args(argv)
    unknown = set(args.models.split(",")) - {"cnn", "head"}
    if unknown:
        parser.error(f"--models: {', '.join(sorted(unknown))} is not cnn or head")

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    data = load_dataset(args.dataset, subset=args.subset)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; data: {args.dataset}, {len(data.train_y)} training images; torch {torch.__version__}; "
          f"precision {args.precision}")

    print(f"\n| {'run':<38} | {'model-images/s':>14} | ratio                  |")
    print(f"|{'-' * 40}|{'-' * 16}|------------------------|", flush=True)

    def row(label: str, rate: float, ratio: str) -> None:  # as measured: a long run shows what it has so far
        print(f"| {label:<38} | {rate:>14,.0f} | {ratio:<22} |", flush=True)

    sizes = [int(s) for s in args.banks.split(",")]
    if "cnn" in args.models:
        bare = bare_cnn(data, device, args.epochs)
        row("bare CNN (plain loop)", bare, "1.00x bare")
        one = trial_rate(learners(data, device, 1, args.precision, args.epochs), data.train_x, data.train_y,
                         device, args.epochs)
        row("one CNN trial", one, f"{one / bare:.2f}x bare")
        for n in sizes:
            rate = bank_rate(learners(data, device, n, args.precision, args.epochs), data.train_x, data.train_y,
                             device, args.epochs)
            row(f"bank of {n} CNN trials", rate, f"{rate / one:.2f}x one trial")
    if "head" in args.models:
        head_bare, head_one = head_rates(data, device, args.epochs, args.precision)
        row("bare head (ResNet, cached features)", head_bare, "1.00x bare head")
        row("one head-only ResNet trial", head_one, f"{head_one / head_bare:.2f}x bare head")
        feats, y = head_features(data, device)
        for n in sizes:
            rate = bank_rate(heads(data, device, n, args.precision, args.epochs), feats, y, device, args.epochs)
            row(f"bank of {n} head-only ResNet trials", rate, f"{rate / head_one:.2f}x one head trial")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
