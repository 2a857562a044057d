"""Head-only ResNet18 trials with and without the backbone feature cache, on the same data.

    python benchmarks/resnet_feature_cache.py [--dataset digits] [--subset 800] [--epochs 3] [--threads 2]

Both sides are what a trial runs: ``training.Learner`` on the images (``finetune: head``, ``augment:
false``) and ``feature_cache.FeatureLearner`` on the cached features (``build_features``: computed once for
all trials of a sweep, then read from disk). Same seed, same hyperparameters. Prints images/s of one
trial's training epochs on each side and their ratio, the one-off feature computation, and the two
validation accuracies; exits 1 if they differ by more than 0.5 points.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="digits", help="digits (learnable, offline), fake, mnist, cifar10")
    p.add_argument("--subset", type=int, default=800, help="training-pool images (null: all)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda where available)")
    args = p.parse_args()

    import torch

    from hwk4tune.learn.data import load_dataset
    from hwk4tune.learn.feature_cache import FeatureLearner, build_features
    from hwk4tune.learn.training import Learner
    from hwk4tune.registry.hyperparams import ResNetHyperparameters as TrainConfig

    torch.set_num_threads(args.threads)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    os.environ.setdefault("HWK4TUNE_CACHE", tempfile.mkdtemp(prefix="hwk4tune-bench-"))
    data = load_dataset(args.dataset, subset=args.subset, seed=0)
    cfg = TrainConfig(finetune="head", augment=False, pretrained="none", optimizer="adam", lr=args.lr,
                      batch_size=args.batch_size)
    print(f"data: {data}; {args.epochs} epochs, batch {args.batch_size}, {device}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")

    t0 = time.perf_counter()
    feats = build_features(data, {"pretrained": "none"}, device=device)
    extract_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    feats_again = build_features(data, {"pretrained": "none"}, device=device)
    hit_s = time.perf_counter() - t0
    assert feats_again.origin == "disk"

    rows = []
    for label, cls, (tx, ty, vx, vy) in (
        ("images (no cache)", Learner, (data.train_x, data.train_y, data.val_x, data.val_y)),
        ("cached features", FeatureLearner, (feats.train_x, feats.train_y, feats.val_x, feats.val_y)),
    ):
        learner = cls("resnet", cfg, data.input_shape, data.num_classes, seed=0, device=device)
        tx, ty, vx, vy = (t.to(device) for t in (tx, ty, vx, vy))
        images = seconds = 0.0
        for epoch in range(1, args.epochs + 1):
            stats = learner.train_epoch(tx, ty, epoch)
            images, seconds = images + stats.images, seconds + stats.seconds
        _, acc = learner.evaluate(vx, vy)
        rows.append((label, images / seconds, acc))

    ratio = rows[1][1] / rows[0][1]
    gap = abs(rows[0][2] - rows[1][2]) * 100
    print(f"| {'trial trains on':<18} | {'images/s':>10} | {'val accuracy':>12} |")
    print(f"|{'-' * 20}|{'-' * 12}|{'-' * 14}|")
    for label, ips, acc in rows:
        print(f"| {label:<18} | {ips:>10.0f} | {acc:>12.4f} |")
    print(f"speed-up per trial: {ratio:.0f}x (goal >= 10x); validation accuracy gap {gap:.2f} points (must be <= 0.5)")
    n = sum(len(getattr(data, f'{s}_y')) for s in ('train', 'val', 'test'))
    print(f"once per sweep: features of {n} images computed in {extract_s:.1f} s ({n / extract_s:.0f} images/s); "
          f"a cache hit read them back in {hit_s:.2f} s")
    return 0 if gap <= 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
