"""A trainable with known curves for the schedulers' tests: a trial's ``val_accuracy`` at epoch ``e`` is
``score(config, e)``: its ``level``, plus its ``dropout``, plus 0.2 with ``optimizer: sgd``, plus 0.01 per
epoch. ``lr`` is recorded, not used (PB2 tunes it). Every epoch it saves a checkpoint (its epoch) and a
restored trial goes on from there, so HyperBand can pause it and PBT/PB2 can clone it. It trains nothing and
sleeps ``sleep`` s per epoch.

``interrupt_pid`` makes it press Ctrl-C on the driver once: the first trial to reach epoch ``interrupt_at``
(or, with ``interrupt_level``, the trial of that level) sends that process a SIGINT before the epoch and writes
``marker``; with ``hold_s`` it then waits there without reporting, while ``marker`` exists (at most ``hold_s``
s), so nothing it would report can change the scheduler's state before Tune has stopped it. A resumed sweep
finds ``marker`` and is not interrupted again."""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from ray import tune


class LevelParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: float = Field(0.0, ge=0, le=1, description="the curve's height")
    optimizer: str = Field("adam", pattern="^(sgd|adam)$")
    lr: float = Field(0.01, gt=0)
    dropout: float = Field(0.0, ge=0, le=1)
    sleep: float = Field(0.0, ge=0)
    seed: int | None = None
    interrupt_pid: int | None = Field(None, description="the first trial to reach epoch interrupt_at sends this "
                                      "process a SIGINT (a Ctrl-C to the driver), once: it writes marker")
    interrupt_at: int = 0
    interrupt_level: float | None = Field(None, description="only the trial of this level interrupts")
    hold_s: float = Field(0.0, ge=0, description="after its Ctrl-C, wait while marker exists, at most this long")
    marker: str | None = None


def score(config: dict, epoch: int) -> float:
    """What a trial with ``config`` reports as ``val_accuracy`` at ``epoch`` (rounded: no float noise)."""
    p = LevelParams(**{k: v for k, v in config.items() if k in LevelParams.model_fields})
    return round(p.level + p.dropout + (0.2 if p.optimizer == "sgd" else 0.0) + 0.01 * epoch, 9)


def train(config: dict, max_epochs: int = 3) -> None:
    p = LevelParams(**config)
    started = time.time()  # when this run of the trial began: the tests order trials by their first run's
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            start = json.loads((Path(d) / "state.json").read_text())["epoch"]
    for epoch in range(start + 1, max_epochs + 1):
        time.sleep(p.sleep)
        if (p.interrupt_pid and epoch == p.interrupt_at and p.marker and not Path(p.marker).exists()
                and p.interrupt_level in (None, p.level)):
            Path(p.marker).write_text("interrupted")
            os.kill(p.interrupt_pid, signal.SIGINT)
            deadline = time.monotonic() + p.hold_s
            while Path(p.marker).exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        acc = score(config, epoch)
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / "state.json").write_text(json.dumps({"epoch": epoch}))
            tune.report({"val_accuracy": acc, "val_loss": 1.0 - acc, "epoch": epoch,
                         "started": started},
                        checkpoint=tune.Checkpoint.from_directory(d))


train.hyperparameters = LevelParams
train.reports = ("val_accuracy", "val_loss", "epoch")
train.checkpoints = True
