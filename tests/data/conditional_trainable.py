"""A trainable for the conditional-space tests: it trains nothing, it reports which keys its config holds.

Its hyperparameters are a pydantic model with ``extra="forbid"`` (as the built-ins'), so a key the space
does not give is the model's default and a key it does not know fails the trial. It checkpoints (a JSON file
with the epoch), so PBT can clone it.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from ray import tune


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["step", "cosine"] = "step"
    gamma: float = Field(0.5, gt=0, lt=1)


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    optimizer: Literal["sgd", "momentum", "adam"] = "adam"
    momentum: float = Field(0.9, ge=0, lt=1)
    nesterov: bool = False
    dampening: float = Field(0.0, ge=0, le=0.5)
    lr: float = Field(1e-3, gt=0)
    schedule: Schedule | None = None
    seed: int | None = None


def _keys(config: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in config.items():
        out += _keys(v, f"{prefix}{k}/") if isinstance(v, dict) else [f"{prefix}{k}"]
    return out


def train(config: dict, max_epochs: int = 1) -> None:
    p = Params(**config)
    seen = ",".join(sorted(_keys(config)))
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            start = json.loads((Path(d) / "state.json").read_text())["epoch"]
    for epoch in range(start + 1, max_epochs + 1):
        # a smooth score: best near lr = 1e-2, a bonus for momentum; no randomness
        score = 1.0 - abs(math.log10(p.lr) + 2.0) / 4.0 + (0.1 * p.momentum if p.optimizer == "momentum" else 0.0)
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / "state.json").write_text(json.dumps({"epoch": epoch}))
            tune.report({"val_accuracy": score, "epoch": epoch, "seen": seen},
                        checkpoint=tune.Checkpoint.from_directory(d))


train.hyperparameters = Params
train.reports = ("val_accuracy", "epoch", "seen")
train.checkpoints = True
