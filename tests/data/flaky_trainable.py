"""A trainable that fails once, after its first epoch (checkpointed), for the `resume` tests: the first
attempt writes the file ``marker`` names and raises; every later attempt trains to the end. It trains nothing."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from ray import tune


def train(config: dict, max_epochs: int = 1) -> None:
    marker = Path(config["marker"])
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            start = json.loads((Path(d) / "state.json").read_text())["epoch"]
    for epoch in range(start + 1, max_epochs + 1):
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / "state.json").write_text(json.dumps({"epoch": epoch}))
            tune.report({"val_accuracy": 0.1 * epoch, "epoch": epoch}, checkpoint=tune.Checkpoint.from_directory(d))
        if not marker.exists():
            marker.write_text("failed once")
            raise RuntimeError("the flaky trainable's one failure")


train.reports = ("val_accuracy", "epoch")
train.checkpoints = True
