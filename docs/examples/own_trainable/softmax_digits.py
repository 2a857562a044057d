"""An own trainable for hwk4tune: softmax regression on scikit-learn's digits, trained by mini-batch SGD in
NumPy. It shows the whole contract (docs/own_trainable.md): a Ray Tune function trainable that reports the
space's metric and ``epoch`` each epoch, checkpoints (so PBT can clone it and a killed sweep resumes), and
declares its hyperparameters as a pydantic model so that ``hwk4tune validate`` checks the space against it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from ray import tune
from sklearn.datasets import load_digits


class SoftmaxParams(BaseModel):
    """The hyperparameters `train` takes; a space key outside them is refused before anything runs."""

    model_config = ConfigDict(extra="forbid")

    lr: float = Field(0.5, gt=0, le=10, description="SGD step size")
    l2: float = Field(0.0, ge=0, le=1, description="L2 penalty on the weights")
    batch_size: int = Field(64, gt=0, le=1024)
    seed: int | None = Field(None, description="a comparison sets it so that its runs repeat")


def _data(seed: int = 0):
    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    order = np.random.default_rng(seed).permutation(len(y))
    x, y = x[order], y[order]
    n_val = len(y) // 5
    return x[n_val:], y[n_val:], x[:n_val], y[:n_val]


def _loss_and_accuracy(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    logits = x @ w
    logits -= logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(y)), y].mean()), float((logits.argmax(axis=1) == y).mean())


def train(config: dict, max_epochs: int = 10) -> None:
    """Softmax regression on digits (hwk4tune passes ``max_epochs`` from the space file)."""
    p = SoftmaxParams(**config)
    train_x, train_y, val_x, val_y = _data()
    train_x = np.hstack([train_x, np.ones((len(train_x), 1))])  # bias column
    val_x = np.hstack([val_x, np.ones((len(val_x), 1))])
    rng = np.random.default_rng(p.seed if p.seed is not None else 0)
    w = rng.normal(0, 0.01, (train_x.shape[1], 10))
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:  # resume, or PBT cloning a better trial
        with checkpoint.as_directory() as d:
            state = np.load(Path(d) / "state.npz")
            w, start = state["w"], int(state["epoch"])
    for epoch in range(start + 1, max_epochs + 1):
        order = np.random.default_rng([p.seed or 0, epoch]).permutation(len(train_y))
        for i in range(0, len(order), p.batch_size):
            idx = order[i:i + p.batch_size]
            logits = train_x[idx] @ w
            probs = np.exp(logits - logits.max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
            probs[np.arange(len(idx)), train_y[idx]] -= 1
            w -= p.lr * (train_x[idx].T @ probs / len(idx) + p.l2 * w)
        val_loss, val_accuracy = _loss_and_accuracy(w, val_x, val_y)
        with tempfile.TemporaryDirectory() as d:
            np.savez(Path(d) / "state.npz", w=w, epoch=epoch)
            tune.report({"val_accuracy": val_accuracy, "val_loss": val_loss, "epoch": epoch},
                        checkpoint=tune.Checkpoint.from_directory(d))


# What hwk4tune reads from the function (all optional): its hyperparameters, what it reports, whether it
# checkpoints (PBT, PB2 and HyperBand need it).
train.hyperparameters = SoftmaxParams
train.reports = ("val_accuracy", "val_loss", "epoch")
train.checkpoints = True
