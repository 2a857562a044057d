"""Stand-in trainables for tests where training is not the point (importers, the Optuna mirror, storage URIs,
reports): no torch, no data set, so a trial's worker starts in about a second instead of importing torch.

Each epoch reports every metric the built-in trainables report, from a curve fixed by the config (the same
config gives the same values, a different one other values: schedulers and searchers see real differences)
and saves a checkpoint it restores from, as ``docs/own_trainable.md`` describes (PBT, PB2 and HyperBand
accept it). Name it in a space as ``trainable: /ABS/tests/sleeping.py:train`` (or ``:cnn``, ``:resnet``).

``train`` takes any keys; these steer it and are not part of the curve:

- ``sleep``: seconds slept each epoch;
- ``hidden`` above 2**30 raises "cannot allocate", as the real CNN fails on a model it cannot build;
- ``hold: PATH``, ``hold_from: N``: before each epoch from N on (default 1), wait while PATH exists
  (at most ``HOLD_MAX_S``), so a test interrupts a sweep at a known point without racing it;
- ``hold_others: PATH``: the first trial to start runs freely, every later one waits before its first
  epoch while PATH exists.

``cnn`` and ``resnet`` declare the built-in trainable's hyperparameter model, so a space is validated exactly
as for the real one, and each trial validates the config it is handed with it (``from_config``) as the real
trainable does; they take no steering keys.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

from hwk4tune.registry import TRAINABLES
from hwk4tune.registry.metrics import BUILTIN_METRICS

HOLD_MAX_S = 300
HUGE_HIDDEN = 2**30
STEERING = ("sleep", "hold", "hold_from", "hold_others")
CHECKPOINT_FILE = "stand_in.json"


def quality(config: dict) -> float:
    """A value in [0.2, 0.95] fixed by the config (steering keys left out): the curve's ceiling."""
    shown = json.dumps({k: v for k, v in sorted(config.items()) if k not in STEERING}, default=str, sort_keys=True)
    digest = int(hashlib.sha256(shown.encode()).hexdigest()[:8], 16)
    return 0.2 + 0.75 * digest / 0xFFFFFFFF


def _wait_while(path: str) -> None:
    deadline = time.monotonic() + HOLD_MAX_S
    while os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.05)


def _first_to_start(path: str) -> bool:
    try:
        os.close(os.open(f"{path}.first", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        return False


def _start_epoch() -> int:
    from ray import tune

    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        return 0
    with checkpoint.as_directory() as d:
        return json.loads((Path(d) / CHECKPOINT_FILE).read_text())["epoch"]


def _run(config: dict, max_epochs: int) -> None:
    from ray import tune

    if float(config.get("hidden", 0) or 0) > HUGE_HIDDEN:
        raise RuntimeError(f"cannot allocate a model of {config['hidden']} hidden units")
    if config.get("hold_others") and not _first_to_start(config["hold_others"]):
        _wait_while(config["hold_others"])
    ceiling = quality(config)
    for epoch in range(_start_epoch() + 1, max_epochs + 1):
        if config.get("hold") and epoch >= int(config.get("hold_from", 1)):
            _wait_while(config["hold"])
        time.sleep(float(config.get("sleep", 0)))
        acc = ceiling * (1 - 0.5 ** epoch)
        metrics = dict.fromkeys(BUILTIN_METRICS, 1.0)
        metrics.update(train_loss=1.0 - acc + 0.01, val_loss=1.0 - acc, val_accuracy=acc, epoch=epoch,
                       epoch_seconds=0.01, images_per_second=1000.0, num_params=1000, latency_ms=1.0,
                       train_status="ok")
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / CHECKPOINT_FILE).write_text(json.dumps({"epoch": epoch}))
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(d))


def train(config: dict, max_epochs: int = 10) -> None:
    _run(config, max_epochs)


def cnn(config: dict, max_epochs: int = 10) -> None:
    TRAINABLES["cnn"].hyperparameters.from_config(config)  # ConfigError, as the real trainable raises
    _run(config, max_epochs)


def resnet(config: dict, max_epochs: int = 10) -> None:
    TRAINABLES["resnet"].hyperparameters.from_config(config)
    _run(config, max_epochs)


for _fn, _model in ((train, None), (cnn, TRAINABLES["cnn"].hyperparameters),
                    (resnet, TRAINABLES["resnet"].hyperparameters)):
    if _model is not None:
        _fn.hyperparameters = _model
    _fn.reports = BUILTIN_METRICS
    _fn.checkpoints = True

FILE = Path(__file__).resolve()
TRAIN = f"{FILE}:train"  # what a space names as its trainable
