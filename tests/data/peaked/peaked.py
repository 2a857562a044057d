"""A trainable with known curves (``curve`` picks one of CURVES): curves 0 and 1 peak at epoch 2 and then
fall, curve 2 rises to its last epoch. By the best epoch the order is 0 (0.95) > 1 (0.93) > 2 (0.90); by the
last epoch it is 2 (0.90) > 1 (0.83) > 0 (0.65). Used by the tests of the one definition of "best"."""

from pydantic import BaseModel, ConfigDict, Field
from ray import tune

CURVES = {
    0: [0.80, 0.95, 0.70, 0.65],
    1: [0.85, 0.93, 0.88, 0.83],
    2: [0.70, 0.80, 0.85, 0.90],
}


class PeakedParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    curve: int = Field(0, ge=0, le=2, description="which of the known learning curves this trial reports")
    lr: float = Field(0.1, gt=0, description="recorded, not used (a numeric column for the tables)")
    seed: int | None = Field(None, description="a comparison sets it; the curves do not depend on it")


def train(config: dict, max_epochs: int = 4) -> None:
    p = PeakedParams(**config)
    for epoch in range(1, max_epochs + 1):
        tune.report({"val_accuracy": CURVES[p.curve][min(epoch, 4) - 1], "epoch": epoch})


train.hyperparameters = PeakedParams
train.reports = ("val_accuracy", "epoch")
train.checkpoints = False
