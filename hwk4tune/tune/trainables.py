"""Ray Tune function trainables for the seed's CNN and the ResNet18 fine-tune.

``build_trainable(name, data, max_epochs)`` returns ``tune.with_parameters(...)``: the data set goes into
Ray's object store once and every trial (and every reused actor) reads it from there.

Each epoch a trial reports ``METRICS`` (plus ``train_status``, ``weights`` and ``threads``; ``num_params`` and
``latency_ms`` are measured once per run, :mod:`hwk4tune.learn.costs`) with a checkpoint holding
model and optimizer state and the epoch (every ``checkpoint_interval`` epochs and always the last). A trial
started with a checkpoint (resume, PBT exploit) continues at the epoch after it. ``epoch`` is 1-based and
equals ``training_iteration`` for a trial that was never restored: use it as schedulers' time attribute.

A loss that stops being finite ends the trial normally after one last report with
``train_status="diverged"``, ``val_accuracy=0`` and ``val_loss=inf``, so one bad learning rate never
crashes a sweep. Bad hyperparameter values and unknown keys raise :class:`~hwk4tune.registry.hyperparams.ConfigError`
and fail only their own trial, with the reason.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hwk4tune.registry import BUILTIN_METRICS, TRAINABLES, TrainableEntry, trainable_entry

METRICS = BUILTIN_METRICS


def trial_resources() -> tuple[int, bool]:
    """(CPU threads, has a GPU) from what Ray assigned to the current trial; (1, False) outside Ray."""
    try:
        import ray

        assigned = ray.get_runtime_context().get_assigned_resources() if ray.is_initialized() else {}
    except Exception:  # noqa: BLE001 - not in a Ray worker
        assigned = {}
    cpus = max(1, int(assigned.get("CPU", 1) + 1e-9))
    return cpus, assigned.get("GPU", 0) > 0


def _run_trial(config: dict[str, Any], *, trainable: str, data, max_epochs: int, features=None) -> None:
    """The body of every trainable: validate, set up, restore, loop, report."""
    import torch
    from ray import tune

    from hwk4tune.learn.training import derive_seed

    # an unknown key or a bad value raises ConfigError: this trial fails, with the reason, never ignored
    cfg = TRAINABLES[trainable].hyperparameters.from_config(config)
    cpus, gpu = trial_resources()
    torch.set_num_threads(cpus)
    device = torch.device("cuda" if gpu and torch.cuda.is_available() else "cpu")
    trial_id = tune.get_context().get_trial_id() or "no-trial"
    seed = cfg.seed if cfg.seed is not None else derive_seed(trial_id)

    # a head-only trial without augmentation trains its head on the cached backbone features
    use_features = features is not None and trainable == "resnet" and features.matches(cfg)
    learner = make_learner(trainable, cfg, data, seed, device, max_epochs, use_features)
    start_epoch = _restore(learner)
    per_run = {"weights": learner.weights, "threads": cpus, "device": device.type, "precision": learner.precision,
               **_deployment_costs(learner, data, device),
               "backbone_features": features.key if use_features else ""}
    splits = _splits_on_device(features if use_features else data, device)
    for epoch in range(start_epoch + 1, max_epochs + 1):
        if not _train_and_report(learner, splits, epoch, max_epochs, per_run, trial_id):
            return


def make_learner(trainable: str, cfg, data, seed: int, device, max_epochs: int, use_features: bool):
    """A :class:`~hwk4tune.learn.training.Learner`, or a ``FeatureLearner`` that trains only the head on the
    cached backbone features (same model and checkpoints, far fewer FLOPs)."""
    from hwk4tune.learn.training import Learner

    learner_cls = Learner
    if use_features:
        from hwk4tune.learn.feature_cache import FeatureLearner as learner_cls
    return learner_cls(trainable, cfg, data.input_shape, data.num_classes, seed=seed, device=device,
                       epochs=max_epochs)


def _restore(learner) -> int:
    """Load the trial's checkpoint when Tune gives one (resume, PBT exploit): the epoch it holds, else 0."""
    from ray import tune

    from hwk4tune.learn.training import CHECKPOINT_FILE

    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        return 0
    with checkpoint.as_directory() as d:
        return learner.load(Path(d) / CHECKPOINT_FILE)


def _deployment_costs(learner, data, device) -> dict[str, Any]:
    """What the model costs to deploy: measured once per run, reported every epoch (objectives may name them)."""
    from hwk4tune.learn.costs import latency_ms, num_params

    return {"num_params": num_params(learner.model),
            "latency_ms": latency_ms(learner.model, tuple(data.input_shape), device)}


def _splits_on_device(source, device) -> tuple:
    """(train_x, train_y, val_x, val_y) of the data set or feature set, copied once to the GPU if there is
    one (the whole data set fits on any GPU we use) rather than batch by batch."""
    splits = (source.train_x, source.train_y, source.val_x, source.val_y)
    if device.type == "cuda":
        splits = tuple(t.to(device) for t in splits)
    return splits


def _train_and_report(learner, splits: tuple, epoch: int, max_epochs: int, per_run: dict[str, Any],
                      trial_id: str) -> bool:
    """Train, evaluate and report one epoch (with a checkpoint when one is due). False when the loss
    diverged: the trial then ends normally after a last report saying so, and the sweep goes on."""
    from ray import tune

    train_x, train_y, val_x, val_y = splits
    cfg = learner.cfg
    t0 = time.perf_counter()
    stats = learner.train_epoch(train_x, train_y, epoch)
    metrics: dict[str, Any] = {"train_loss": stats.train_loss, "epoch": epoch,
                               "images_per_second": stats.images_per_second, **per_run}
    if stats.diverged:
        print(f"hwk4tune: trial {trial_id}: training loss became {stats.train_loss} in epoch {epoch} "
              f"(optimizer={cfg.optimizer}, lr={cfg.lr}); ending the trial as diverged", file=sys.stderr)
        metrics.update(val_loss=float("inf"), val_accuracy=0.0, train_status="diverged",
                       epoch_seconds=time.perf_counter() - t0)
        tune.report(metrics)
        return False
    metrics["val_loss"], metrics["val_accuracy"] = learner.evaluate(val_x, val_y)
    metrics["epoch_seconds"] = time.perf_counter() - t0
    metrics["train_status"] = "ok"
    if epoch % cfg.checkpoint_interval == 0 or epoch == max_epochs:
        _report_with_checkpoint(learner, metrics, epoch)
    else:
        tune.report(metrics)
    return True


def _report_with_checkpoint(learner, metrics: dict[str, Any], epoch: int) -> None:
    """Report with the model and optimizer state, written to a temporary folder Tune copies into the trial."""
    from ray import tune

    from hwk4tune.learn.training import CHECKPOINT_FILE

    with tempfile.TemporaryDirectory(prefix="hwk4tune-ckpt-") as d:
        learner.save(Path(d) / CHECKPOINT_FILE, epoch)
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(d))


def cnn_trainable(config: dict[str, Any], data=None, max_epochs: int = 10, features=None) -> None:
    """The seed's CNN (conv 1→16→32, 5×5, max-pool, fc ``hidden`` with dropout)."""
    _run_trial(config, trainable="cnn", data=data, max_epochs=max_epochs)


def resnet_trainable(config: dict[str, Any], data=None, max_epochs: int = 10, features=None) -> None:
    """torchvision ResNet18 with a new head, ``finetune`` head | layer4 | all. ``features``: a
    :class:`hwk4tune.learn.feature_cache.FeatureSet` its matching (head-only, no augmentation) trials train on."""
    _run_trial(config, trainable="resnet", data=data, max_epochs=max_epochs, features=features)


def build_trainable(trainable: str | TrainableEntry, data, max_epochs: int, features=None):
    """The function trainable Tune runs: a built-in one gets ``data`` (through Ray's object store, once),
    ``max_epochs`` and ``features`` when a feature set is given (:mod:`hwk4tune.learn.feature_cache`: it enters the
    object store once, as the data); an own trainable gets ``max_epochs`` if its signature takes it."""
    import inspect

    from ray import tune

    entry = trainable if isinstance(trainable, TrainableEntry) else trainable_entry(trainable)
    if not isinstance(max_epochs, int) or max_epochs < 1:
        raise ValueError(f"max_epochs must be an integer >= 1, but got {max_epochs!r}")
    fn = entry.load()
    if entry.builtin:
        extra = {"features": features} if features is not None else {}
        return tune.with_parameters(fn, data=data, max_epochs=max_epochs, **extra)
    if entry.name.rpartition(":")[0].endswith(".py"):
        # a file the workers cannot import: Ray must pickle its functions and classes by value, and Ray
        # pickles with its own copy of cloudpickle (registering with the `cloudpickle` package does nothing)
        import ray.cloudpickle

        ray.cloudpickle.register_pickle_by_value(inspect.getmodule(fn))
    if "max_epochs" in inspect.signature(fn).parameters:
        return tune.with_parameters(fn, max_epochs=max_epochs)
    return fn
