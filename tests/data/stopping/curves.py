"""A trainable with known curves, for the stop rules' tests: ``val_accuracy`` follows ``curve`` —
``flat`` (0.5 from the first epoch on), ``rising`` (0.1 per epoch) — and each epoch sleeps ``sleep`` s."""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict, Field
from ray import tune


class CurveParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    curve: str = Field("flat", pattern="^(flat|rising)$")
    sleep: float = Field(0.0, ge=0)
    seed: int | None = None


def train(config: dict, max_epochs: int = 10) -> None:
    p = CurveParams(**config)
    for epoch in range(1, max_epochs + 1):
        time.sleep(p.sleep)
        acc = 0.5 if p.curve == "flat" else min(0.1 * epoch, 1.0)
        tune.report({"val_accuracy": acc, "val_loss": 1.0 - acc, "epoch": epoch})


train.hyperparameters = CurveParams
train.reports = ("val_accuracy", "val_loss", "epoch")
train.checkpoints = False
