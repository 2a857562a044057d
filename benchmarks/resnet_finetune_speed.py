"""ResNet18 training speed on 32×32 input, by ``finetune`` mode (head | layer4 | all).

    python benchmarks/resnet_finetune_speed.py [--images 512] [--batch-size 128] [--threads 2]

Uses the same Learner as the trainables (random crop + flip on, Adam), on FakeData 3×32×32 images, after
one warm-up epoch. Prints images/s of the training pass per mode.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--modes", default="head,layer4,all")
    p.add_argument("--epochs", type=int, default=2, help="timed epochs after the warm-up")
    args = p.parse_args()

    import torch

    from hwk4tune.learn.data import load_dataset
    from hwk4tune.learn.training import Learner, TrainConfig

    os.environ["HWK4TUNE_OFFLINE"] = "1"
    torch.set_num_threads(args.threads)
    data = load_dataset("fake", size=args.images + args.images // 9 + 1, val_fraction=0.1)
    print(f"data: {data}; batch {args.batch_size}; {args.threads} threads; torch {torch.__version__}")
    print(f"| {'finetune':<8} | {'trainable params':>16} | {'images/s':>9} |")
    print(f"|{'-' * 10}|{'-' * 18}|{'-' * 11}|")
    for mode in args.modes.split(","):
        cfg = TrainConfig.from_config({"finetune": mode, "batch_size": args.batch_size, "pretrained": "none"})
        learner = Learner("resnet", cfg, data.input_shape, data.num_classes, seed=0)
        learner.train_epoch(data.train_x, data.train_y, 0)  # warm-up
        speeds = [learner.train_epoch(data.train_x, data.train_y, e).images_per_second
                  for e in range(1, args.epochs + 1)]
        n = sum(p.numel() for p in learner.params)
        print(f"| {mode:<8} | {n:>16,} | {statistics.median(speeds):>9,.0f} |", flush=True)


if __name__ == "__main__":
    main()
