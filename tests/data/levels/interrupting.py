"""levels.py's curves (``score``), with a Ctrl-C pressed by one chosen trial at a chosen epoch: the trial whose
``level`` equals ``interrupt_level`` sends the driver (``interrupt_pid``) one SIGINT before its epoch
``interrupt_at`` (once: it writes ``marker``), then waits there without reporting, while ``marker`` exists (at
most ``HOLD_MAX_S``), so nothing it would report can change the scheduler's state before Tune has stopped it.
A restored trial goes on from its checkpoint (its epoch), as in levels.py; a resumed sweep finds ``marker`` and
is not interrupted again."""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from ray import tune

HOLD_MAX_S = 120


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: float = Field(0.0, ge=0, le=1)
    interrupt_pid: int | None = None
    interrupt_level: float | None = None
    interrupt_at: int = 1
    marker: str | None = None


def score(config: dict, epoch: int) -> float:
    """What a trial reports as ``val_accuracy`` at ``epoch``: its level plus 0.01 an epoch (as levels.py, adam)."""
    return round(float(config["level"]) + 0.01 * epoch, 9)


def train(config: dict, max_epochs: int = 3) -> None:
    p = Params(**config)
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            start = json.loads((Path(d) / "state.json").read_text())["epoch"]
    for epoch in range(start + 1, max_epochs + 1):
        if (p.interrupt_pid and p.marker and p.level == p.interrupt_level and epoch == p.interrupt_at
                and not Path(p.marker).exists()):
            Path(p.marker).write_text(f"{os.getpid()}")
            os.kill(p.interrupt_pid, signal.SIGINT)
            deadline = time.monotonic() + HOLD_MAX_S
            while Path(p.marker).exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        acc = score(config, epoch)
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / "state.json").write_text(json.dumps({"epoch": epoch}))
            tune.report({"val_accuracy": acc, "val_loss": 1.0 - acc, "epoch": epoch, "started": time.time()},
                        checkpoint=tune.Checkpoint.from_directory(d))


train.hyperparameters = Params
train.reports = ("val_accuracy", "val_loss", "epoch")
train.checkpoints = True
