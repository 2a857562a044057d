"""``hwk4tune train CONFIG.yaml --epochs N --out DIR``: one configuration trained outside Tune.

The configuration is either a space file whose ``space`` holds constants only, or the ``best.yaml`` that
``hwk4tune best`` writes (``trainable``, ``dataset``, ``config``, ``metric``, ``mode``, ``best``). It is
trained with the same loop as the trainables, on train + validation, then evaluated once on test.

Writes ``DIR/model.pt`` (state dict and everything needed to rebuild the model, see
:func:`hwk4tune.model.trained.load_model`), ``DIR/config.yaml`` (``trainable`` / ``dataset`` / ``config`` /
``epochs``: a file this command takes back) and ``DIR/metrics.json`` (``test_accuracy``, ``test_loss``,
per-epoch ``history``, ``weights`` source, …).

The file may be a storage URI (``s3://…/best.yaml``: read through its local copy) and so may ``DIR``
(``s3://bucket/prefix``: the files are written in its local mirror, then copied there;
:mod:`hwk4tune.store.remote`).
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Mapping

import yaml

from hwk4tune.errors import InputError
from hwk4tune.registry import TRAINABLES
from hwk4tune.spec.source import load_yaml
from hwk4tune.store.records import BestConfig, RecordError, is_uri, validate_record
from hwk4tune.store.remote import Workspace, readable


class TrainFileError(InputError, ValueError):
    """The file or dict given to ``train`` is not a trainable configuration."""


def _read(config: str | Path | Mapping[str, Any]) -> tuple[dict[str, Any], Path | None, str]:
    """``(the file's mapping, the local file, its name as given)``; a URI is read through its local copy."""
    if isinstance(config, Mapping):
        return dict(config), None, "config"
    name = str(config)
    path = readable(name, file_ok=True) if is_uri(name) else Path(config)
    if not path.is_file():
        raise TrainFileError(f"{name}: {'a folder, not a file' if path.is_dir() else 'no such file'}")
    try:
        raw = load_yaml(path.read_text(), name)  # YAML 1.2 numbers (1e-4), as spec files
    except yaml.YAMLError as exc:
        raise TrainFileError(f"{name}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise TrainFileError(f"{name}: expected a mapping with trainable, dataset and config (or space)")
    return raw, path, name


def resolve(config: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """Read a space file with fixed values or a best.yaml into ``{trainable, dataset, hparams, epochs,
    best, source}``; ``dataset`` is a dict of :func:`hwk4tune.learn.data.load_dataset` arguments."""
    from hwk4tune.space import Space, SpaceError
    from hwk4tune.spec import DatasetSpec, SpecError, load_space

    raw, path, where = _read(config)
    if "config" in raw:  # best.yaml, or the config.yaml train writes
        try:
            best_file = validate_record(BestConfig, raw, where)
        except RecordError as exc:
            raise TrainFileError(str(exc)) from None
        trainable, hparams, dataset = best_file.trainable, dict(best_file.config), best_file.dataset
        best = best_file.best.model_dump(mode="json") if best_file.best else None
        epochs = best_file.epochs or (best_file.best.epoch if best_file.best else None)
    elif "space" in raw:  # a space file
        try:
            if path is not None:
                spec = load_space(path)
                space, dataset, trainable, epochs = spec.space, spec.dataset, spec.trainable, spec.max_epochs
            else:
                space = Space.parse(raw["space"])
                ds = raw.get("dataset")
                dataset = DatasetSpec.model_validate({"name": ds} if isinstance(ds, str) else ds)
                trainable, epochs = raw.get("trainable"), raw.get("max_epochs")
        except SpecError as exc:
            raise TrainFileError(str(exc)) from None
        except (SpaceError, ValueError) as exc:
            raise TrainFileError(f"{where}: {exc}") from None
        tunable = space.params
        if tunable:
            raise TrainFileError(
                f"{where}: space still has distributions for {', '.join(sorted(tunable))}; train takes fixed "
                f"values only: replace each with one value, or pass the best.yaml of a sweep")
        hparams, best = space.constants, None
    else:
        raise TrainFileError(f"{where}: expected a best.yaml (trainable, dataset, config) or a space file "
                             f"(trainable, dataset, space); found keys {sorted(raw)}")
    if trainable not in TRAINABLES:
        raise TrainFileError(f"{where}: trainable: {trainable!r} is not one of {', '.join(TRAINABLES)} "
                             "(train runs the built-in trainables; run your own with its own script)")
    data_dir = dataset.data_dir
    if data_dir is not None and path is not None and not Path(data_dir).is_absolute():
        data_dir = path.parent / data_dir
    return {
        "trainable": trainable,
        "dataset": {"name": dataset.name, "subset": dataset.subset, "data_dir": data_dir,
                    "val_fraction": dataset.val_fraction, "seed": dataset.seed},
        "hparams": hparams,
        "epochs": epochs,
        "best": best,
        "source": where if path else None,
    }


def train_config(config: str | Path | Mapping[str, Any], epochs: int | None, out_dir: str | Path,
                 data_dir: str | Path | None = None, progress: bool = True, early_stop: bool = False,
                 min_delta: float = 0.01, patience: int = 5, seed: int | None = None,
                 subset: int | str | None = None) -> dict[str, Any]:
    """Train one configuration on train + validation for ``epochs`` epochs, evaluate it on test, write
    ``out_dir/{model.pt, config.yaml, metrics.json}`` and return the metrics (what metrics.json holds).
    ``config`` and ``out_dir`` may be storage URIs (``s3://…``): ``out_dir``'s files are written in its local
    mirror and copied to the URI at the end; each file's place (path or URI) is printed.

    ``early_stop`` trains on train only and watches val_accuracy on the validation split: training ends once
    it has not improved by ``min_delta`` for ``patience`` epochs, and the best epoch's weights are kept
    (``metrics["early_stop"]`` says which epoch).

    ``epochs=None`` takes the file's ``epochs``, else best.yaml's ``best.epoch``, else the space's
    ``max_epochs``. ``data_dir`` overrides the file's ``dataset.data_dir``, ``subset`` its ``dataset.subset``
    (``"all"``: the whole data set, however many images the config was tuned on); ``seed`` the config's seed
    (default: the config's ``seed``, else 0). ``progress`` shows a bar per epoch on stderr. Raises
    :class:`TrainFileError` (bad file), :class:`~hwk4tune.registry.hyperparams.ConfigError` (bad values or
    unknown keys) or :class:`~hwk4tune.learn.data.DataNotFoundError`.
    """
    from hwk4tune.registry import trainable_entry

    spec = resolve(config)
    epochs = _checked_epochs(spec["epochs"] if epochs is None else epochs)
    cfg = trainable_entry(spec["trainable"]).hyperparameters.from_config(spec["hparams"])  # unknown keys: an error
    data = _load_data(spec["dataset"], data_dir, subset)
    seed = seed if seed is not None else cfg.seed if cfg.seed is not None else 0
    learner, train_x, train_y = _learner_on_device(spec["trainable"], cfg, data, seed, epochs, early_stop)
    place = Workspace.of(out_dir)  # a URI: written in its local mirror, copied there at the end
    out = place.create()  # before training: an unwritable folder (or bucket) fails in seconds, not hours
    _say_start(spec["trainable"], learner, data, len(train_y), epochs, early_stop)

    watch = _EarlyStop(min_delta, patience) if early_stop else None
    t_start = time.perf_counter()
    history, status = _train_epochs(learner, train_x, train_y, epochs, progress, watch, data)
    early = watch.restore(learner) if watch is not None else None
    train_seconds = time.perf_counter() - t_start
    test_loss, test_accuracy = learner.evaluate(data.test_x, data.test_y)

    metrics = {**_outcome(history, status, train_seconds, test_loss, test_accuracy),
               **_provenance(spec, learner, data, seed, early_stop)}
    if early is not None:
        metrics["early_stop"] = early
    for written in place.push(*_write_outputs(out, spec, learner, data, epochs, metrics)):
        print(f"wrote {written}")
    _say(f"test accuracy {test_accuracy:.4f} ({len(data.test_y)} images), "
         f"{metrics['seconds_per_epoch']:.1f} s/epoch")
    return metrics


def _checked_epochs(epochs: Any) -> int:
    """The number of epochs, refused before any data is loaded when the file and --epochs leave none."""
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        raise TrainFileError(f"epochs must be an integer >= 1, but got {epochs!r} (pass --epochs N)")
    return epochs


def _load_data(dataset: dict[str, Any], data_dir: str | Path | None, subset: int | str | None):
    """Load the data set with the command line's ``data_dir`` / ``subset`` overrides. They are written
    into ``dataset`` itself, so config.yaml records the data the model was really trained on."""
    from hwk4tune.learn.data import load_dataset

    if data_dir is not None:
        dataset["data_dir"] = Path(data_dir).expanduser().resolve()
    if subset is not None:
        dataset["subset"] = None if subset == "all" else subset
    ds_args = dict(dataset)
    return load_dataset(ds_args.pop("name"), **ds_args)


def _learner_on_device(trainable: str, cfg, data, seed: int, epochs: int, early_stop: bool):
    """The learner on the GPU when there is one, and the images it trains on moved there once (not per
    batch): train only with ``early_stop`` (validation is what it watches), else train + validation."""
    import torch

    from hwk4tune.learn.training import Learner

    train_x, train_y = (data.train_x, data.train_y) if early_stop else data.train_and_val()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    learner = Learner(trainable, cfg, data.input_shape, data.num_classes, seed=seed, device=device,
                      epochs=epochs)
    if device.type == "cuda":
        train_x, train_y = train_x.to(device), train_y.to(device)
    return learner, train_x, train_y


def _say_start(trainable: str, learner, data, n_train: int, epochs: int, early_stop: bool) -> None:
    """One line before the first epoch: what trains on what, where, so a slow run is explained up front."""
    import torch

    _say(f"training {trainable} on {data.name} ({n_train} {'train' if early_stop else 'train+val'} "
         f"images, {len(data.test_y)} test{'; early stop on val_accuracy' if early_stop else ''}) "
         f"for {epochs} epochs on {learner.device} ({torch.get_num_threads()} threads); "
         f"weights: {learner.weights}")


def _train_epochs(learner, train_x, train_y, epochs: int, progress: bool, watch: _EarlyStop | None,
                  data) -> tuple[list[dict[str, Any]], str]:
    """The epoch loop: one history row per epoch, and ``"diverged"`` instead of ``"ok"`` when the loss
    stopped being finite (training stops there rather than writing more garbage epochs)."""
    history: list[dict[str, Any]] = []
    for epoch in range(1, epochs + 1):
        bar = _bar(progress, len(train_y), f"epoch {epoch}/{epochs}")
        stats = learner.train_epoch(train_x, train_y, epoch, on_batch=bar.update if bar else None)
        row = {"epoch": epoch, "train_loss": stats.train_loss, "epoch_seconds": stats.seconds,
               "images_per_second": stats.images_per_second}
        history.append(row)
        _show_epoch(bar, progress, epoch, epochs, stats)
        if stats.diverged:
            _say(f"training loss became {stats.train_loss} in epoch {epoch} (optimizer={learner.cfg.optimizer}, "
                 f"lr={learner.cfg.lr}): stopping; the model written is not usable")
            return history, "diverged"
        if watch is not None and watch.epoch(learner, data, epoch, row, progress):
            break
    return history, "ok"


def _show_epoch(bar, progress: bool, epoch: int, epochs: int, stats) -> None:
    """Close the epoch's bar with its loss and speed, or print them as one line when there is no bar."""
    if bar:
        bar.set_postfix(loss=f"{stats.train_loss:.4f}", img_s=f"{stats.images_per_second:.0f}")
        bar.close()
    elif progress:
        _say(f"epoch {epoch}/{epochs}: train_loss {stats.train_loss:.4f}, {stats.seconds:.1f} s, "
             f"{stats.images_per_second:.0f} images/s")


def _outcome(history: list[dict[str, Any]], status: str, train_seconds: float, test_loss: float,
             test_accuracy: float) -> dict[str, Any]:
    """The first half of metrics.json: how training went and what it scored on test."""
    return {
        "test_accuracy": test_accuracy,
        "test_loss": test_loss if math.isfinite(test_loss) else None,
        "status": status,
        "epochs": len(history),
        "history": history,
        "seconds_per_epoch": train_seconds / max(len(history), 1),
        "train_seconds": train_seconds,
    }


def _provenance(spec: dict[str, Any], learner, data, seed: int, early_stop: bool) -> dict[str, Any]:
    """The second half of metrics.json: what was trained, on which data, where, from which file."""
    import torch

    return {
        "weights": learner.weights,
        "trainable": spec["trainable"],
        "config": learner.cfg.model_dump(),
        "seed": seed,
        "dataset": {"name": data.name, "source": data.source, "sizes": data.sizes(),
                    "trained_on": "train" if early_stop else "train+val", "evaluated_on": "test"},
        "device": str(learner.device),
        "threads": torch.get_num_threads(),
        "source_file": spec["source"],
        "best": spec["best"],
    }


def _write_outputs(out: Path, spec: dict[str, Any], learner, data, epochs: int,
                   metrics: dict[str, Any]) -> list[str]:
    """Write model.pt (what :func:`hwk4tune.model.trained.load_model` rebuilds the model from), config.yaml
    (a file ``train`` takes back) and metrics.json into ``out``; their names."""
    import torch

    files = {"model": out / "model.pt", "config": out / "config.yaml", "metrics": out / "metrics.json"}
    torch.save({
        "model": learner.model.state_dict(),
        "trainable": spec["trainable"],
        "config": learner.cfg.model_dump(),
        "input_shape": list(data.input_shape),
        "num_classes": data.num_classes,
        "dataset": data.name,
        "mean": list(data.mean),
        "std": list(data.std),
        "weights": learner.weights,
        "test_accuracy": metrics["test_accuracy"],
    }, files["model"])
    ds_out = {k: (str(v) if isinstance(v, Path) else v) for k, v in spec["dataset"].items()}  # as trained
    files["config"].write_text(BestConfig(trainable=spec["trainable"], dataset=ds_out,
                                          config=learner.cfg.model_dump(), epochs=epochs).to_yaml())
    files["metrics"].write_text(json.dumps(metrics, indent=2, default=str) + "\n")
    return [f.name for f in files.values()]


class _EarlyStop:
    """``train --early-stop``: val_accuracy each epoch, a copy of the best epoch's weights, patience."""

    def __init__(self, min_delta: float, patience: int):
        from hwk4tune.spec.stopping import Plateau

        self.rule, self.state = Plateau("max", min_delta, patience), {}
        self.min_delta, self.patience = min_delta, patience
        self.best_epoch, self.best_weights, self.stopped_at = None, None, None

    def epoch(self, learner, data, epoch: int, row: dict, progress: bool) -> bool:
        """Evaluate on validation; keep the weights if better; True when patience ran out."""
        val_loss, val_accuracy = learner.evaluate(data.val_x, data.val_y)
        row.update(val_loss=val_loss, val_accuracy=val_accuracy)
        improved, stop = self.rule.update(self.state, val_accuracy)
        if improved:
            self.best_epoch = epoch
            self.best_weights = {k: v.detach().to("cpu", copy=True) for k, v in learner.model.state_dict().items()}
        if progress:
            _say(f"epoch {epoch}: val_accuracy {val_accuracy:.4f}" + (" (best so far)" if improved else ""))
        if stop:
            self.stopped_at = epoch
            _say(f"early stop after epoch {epoch}: val_accuracy did not improve by {self.min_delta:g} for "
                 f"{self.patience} epochs")
        return stop

    def restore(self, learner) -> dict:
        if self.best_weights is not None:
            learner.model.load_state_dict(self.best_weights)
            _say(f"kept the weights of epoch {self.best_epoch} (val_accuracy {self.state['best']:.4f})")
        return {"metric": "val_accuracy", "min_delta": self.min_delta, "patience": self.patience,
                "best_epoch": self.best_epoch, "best_val_accuracy": self.state.get("best"),
                "stopped_at": self.stopped_at}


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _bar(progress: bool, total: int, desc: str):
    """A tqdm bar on a terminal only: in a log or a pipe (CI, `| tee`) each epoch is one plain line instead of
    carriage-return redraws."""
    if not progress or not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit="img", file=sys.stderr, leave=True, dynamic_ncols=True)
