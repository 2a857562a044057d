"""The ``replay`` function trainable (the Ray-actor replay): a trial's epochs come from a recorded table, not
from training, in a real Ray Tune sweep.

``compare`` no longer runs it: a replayed comparison is simulated (:mod:`hwk4tune.tune.simulated_replay`). It
stays as the reference under Tune's own controller: ``tests/data/replay_decisions/make.py`` records its
decisions for the simulation's faithfulness test, and ``tests/test_hyperband.py`` runs our HyperBand with it.

It gets the table through ``tune.with_parameters`` (into Ray's object store once), finds the recorded
configuration nearest to its own (itself, when it was recorded), and each epoch sleeps the recorded
``epoch_seconds / speedup`` (so schedulers see results in the order a real run would), then reports the
recorded metrics plus ``epoch``, ``replayed_from`` (the table's ``config_id``) and ``replay_distance``, with
a checkpoint holding only the epoch where the scheduler restores trials (PBT, PB2 and HyperBand). A restored
trial continues at the next epoch of the curve nearest to its (maybe mutated, under PBT) configuration. A recorded curve that ends early
(a diverged trial) ends the replayed trial there too.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

CHECKPOINT_FILE = "replay.json"


def replay_trainable(config: dict[str, Any], table=None, max_epochs: int = 1, speedup: float = 100.0,
                     checkpoints: bool = True) -> None:
    """Replay the recorded curve nearest to ``config`` (``checkpoints``: report one with every epoch)."""
    from ray import tune

    config_id, distance = table.nearest(config)
    curve = table.curve(config_id)
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            start = int(json.loads((Path(d) / CHECKPOINT_FILE).read_text())["epoch"])
    for epoch in range(start + 1, min(max_epochs, len(curve)) + 1):
        row = curve[epoch - 1]
        time.sleep(max(0.0, float(row.get("epoch_seconds") or 0.0)) / speedup)
        metrics = {**row, "epoch": epoch, "replayed_from": config_id, "replay_distance": distance}
        if not checkpoints:
            tune.report(metrics)
            continue
        with tempfile.TemporaryDirectory(prefix="hwk4tune-replay-") as d:
            (Path(d) / CHECKPOINT_FILE).write_text(json.dumps({"epoch": epoch}))
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(d))


replay_trainable.checkpoints = True


def build_replay(table, max_epochs: int, speedup: float, checkpoints: bool = True):
    """The trainable Tune runs for a replayed sweep; ``checkpoints`` only where the scheduler restores trials
    (PBT, PB2, HyperBand): persisting a checkpoint is most of a replayed epoch's cost."""
    from ray import tune

    if speedup <= 0:
        raise ValueError(f"speedup must be > 0, but got {speedup}")
    return tune.with_parameters(replay_trainable, table=table, max_epochs=max_epochs, speedup=speedup,
                                checkpoints=checkpoints)
