"""``hwk4tune train CONFIG.yaml --epochs N --out DIR``: one configuration trained outside Tune.

The configuration is either a space file whose ``space`` holds constants only, or the ``best.yaml`` that
``hwk4tune best`` writes (``trainable``, ``dataset``, ``config``, ``metric``, ``mode``, ``best``). It is
trained with the same loop as the trainables, on train + validation, then evaluated once on test.

Writes ``DIR/model.pt`` (state dict and everything needed to rebuild the model, see :func:`load_model`),
``DIR/config.yaml`` (``trainable`` / ``dataset`` / ``config`` / ``epochs``: a file this command takes back)
and ``DIR/metrics.json`` (``test_accuracy``, ``test_loss``, per-epoch ``history``, ``weights`` source, …).
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
from hwk4tune.names import TRAINABLE_NAMES


class TrainFileError(InputError, ValueError):
    """The file or dict given to ``train`` is not a trainable configuration."""


def _read(config: str | Path | Mapping[str, Any]) -> tuple[dict[str, Any], Path | None]:
    if isinstance(config, Mapping):
        return dict(config), None
    path = Path(config)
    if not path.is_file():
        raise TrainFileError(f"{path}: no such file")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise TrainFileError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise TrainFileError(f"{path}: expected a mapping with trainable, dataset and config (or space)")
    return raw, path


def resolve(config: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """Read a space file with fixed values or a best.yaml into ``{trainable, dataset, hparams, epochs,
    best, source}``; ``dataset`` is a dict of :func:`hwk4tune.data.load_dataset` arguments."""
    from hwk4tune.space import SpaceError, constants, params, parse_space
    from hwk4tune.spec import DatasetSpec, SpecError, load_space

    raw, path = _read(config)
    where = str(path) if path else "config"
    if "config" in raw:  # best.yaml
        missing = [k for k in ("trainable", "dataset") if k not in raw]
        if missing:
            raise TrainFileError(f"{where}: missing {', '.join(missing)} (a best.yaml has trainable, dataset, config)")
        if not isinstance(raw["config"], dict):
            raise TrainFileError(f"{where}: config: expected a mapping of hyperparameters, got {raw['config']!r}")
        trainable, hparams = raw["trainable"], dict(raw["config"])
        ds = raw["dataset"]
        try:
            dataset = DatasetSpec.model_validate({"name": ds} if isinstance(ds, str) else ds)
        except Exception as exc:  # pydantic's message lists each bad key
            raise TrainFileError(f"{where}: dataset: {exc}") from None
        best = raw.get("best") if isinstance(raw.get("best"), dict) else None
        epochs = raw.get("epochs") or (best or {}).get("epoch")
    elif "space" in raw:  # a space file
        try:
            if path is not None:
                spec = load_space(path)
                space, dataset, trainable, epochs = spec.space, spec.dataset, spec.trainable, spec.max_epochs
            else:
                space = parse_space(raw["space"])
                ds = raw.get("dataset")
                dataset = DatasetSpec.model_validate({"name": ds} if isinstance(ds, str) else ds)
                trainable, epochs = raw.get("trainable"), raw.get("max_epochs")
        except SpecError as exc:
            raise TrainFileError(str(exc)) from None
        except (SpaceError, ValueError) as exc:
            raise TrainFileError(f"{where}: {exc}") from None
        tunable = params(space)
        if tunable:
            raise TrainFileError(
                f"{where}: space still has distributions for {', '.join(sorted(tunable))}; train takes fixed "
                f"values only: replace each with one value, or pass the best.yaml of a sweep")
        hparams, best = constants(space), None
    else:
        raise TrainFileError(f"{where}: expected a best.yaml (trainable, dataset, config) or a space file "
                             f"(trainable, dataset, space); found keys {sorted(raw)}")
    if trainable not in TRAINABLE_NAMES:
        raise TrainFileError(f"{where}: trainable: {trainable!r} is not one of {', '.join(TRAINABLE_NAMES)}")
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
        "source": str(path) if path else None,
    }


def train_config(config: str | Path | Mapping[str, Any], epochs: int | None, out_dir: str | Path,
                 data_dir: str | Path | None = None, progress: bool = True,
                 seed: int | None = None) -> dict[str, Any]:
    """Train one configuration on train + validation for ``epochs`` epochs, evaluate it on test, write
    ``out_dir/{model.pt, config.yaml, metrics.json}`` and return the metrics (what metrics.json holds).

    ``epochs=None`` takes the file's ``epochs``, else best.yaml's ``best.epoch``, else the space's
    ``max_epochs``. ``data_dir`` overrides the file's ``dataset.data_dir``; ``seed`` the config's seed
    (default: the config's ``seed``, else 0). ``progress`` shows a bar per
    epoch on stderr. Raises :class:`TrainFileError` (bad file), ``training.ConfigError`` (bad values) or
    ``data.DataNotFoundError``.
    """
    import torch

    from hwk4tune.data import load_dataset
    from hwk4tune.training import Learner, TrainConfig

    spec = resolve(config)
    epochs = spec["epochs"] if epochs is None else epochs
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        raise TrainFileError(f"epochs must be an integer >= 1, but got {epochs!r} (pass --epochs N)")
    cfg = TrainConfig.from_config(spec["hparams"])
    ignored = TrainConfig.unknown_keys(spec["hparams"])
    ds_args = dict(spec["dataset"])
    if data_dir is not None:
        ds_args["data_dir"] = Path(data_dir)
    data = load_dataset(ds_args.pop("name"), **ds_args)
    train_x, train_y = data.train_and_val()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    seed = seed if seed is not None else cfg.seed if cfg.seed is not None else 0
    learner = Learner(spec["trainable"], cfg, data.input_shape, data.num_classes, seed=seed, device=device)
    if device.type == "cuda":
        train_x, train_y = train_x.to(device), train_y.to(device)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _say(f"training {spec['trainable']} on {data.name} ({len(train_y)} train+val images, {len(data.test_y)} test) "
         f"for {epochs} epochs on {device} ({torch.get_num_threads()} threads); weights: {learner.weights}")

    history: list[dict[str, Any]] = []
    status = "ok"
    t_start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        bar = _bar(progress, len(train_y), f"epoch {epoch}/{epochs}")
        stats = learner.train_epoch(train_x, train_y, epoch, on_batch=bar.update if bar else None)
        row = {"epoch": epoch, "train_loss": stats.train_loss, "epoch_seconds": stats.seconds,
               "images_per_second": stats.images_per_second}
        history.append(row)
        if bar:
            bar.set_postfix(loss=f"{stats.train_loss:.4f}", img_s=f"{stats.images_per_second:.0f}")
            bar.close()
        elif progress:
            _say(f"epoch {epoch}/{epochs}: train_loss {stats.train_loss:.4f}, {stats.seconds:.1f} s, "
                 f"{stats.images_per_second:.0f} images/s")
        if stats.diverged:
            status = "diverged"
            _say(f"training loss became {stats.train_loss} in epoch {epoch} (optimizer={cfg.optimizer}, "
                 f"lr={cfg.lr}): stopping; the model written is not usable")
            break
    train_seconds = time.perf_counter() - t_start
    test_loss, test_accuracy = learner.evaluate(data.test_x, data.test_y)

    metrics: dict[str, Any] = {
        "test_accuracy": test_accuracy,
        "test_loss": test_loss if math.isfinite(test_loss) else None,
        "status": status,
        "epochs": len(history),
        "history": history,
        "seconds_per_epoch": train_seconds / max(len(history), 1),
        "train_seconds": train_seconds,
        "weights": learner.weights,
        "trainable": spec["trainable"],
        "config": cfg.model_dump(),
        "ignored_keys": ignored,
        "seed": seed,
        "dataset": {"name": data.name, "source": data.source, "sizes": data.sizes(),
                    "trained_on": "train+val", "evaluated_on": "test"},
        "device": str(device),
        "threads": torch.get_num_threads(),
        "source_file": spec["source"],
        "best": spec["best"],
    }
    files = {
        "model": out / "model.pt",
        "config": out / "config.yaml",
        "metrics": out / "metrics.json",
    }
    torch.save({
        "model": learner.model.state_dict(),
        "trainable": spec["trainable"],
        "config": cfg.model_dump(),
        "input_shape": list(data.input_shape),
        "num_classes": data.num_classes,
        "dataset": data.name,
        "mean": list(data.mean),
        "std": list(data.std),
        "weights": learner.weights,
        "test_accuracy": test_accuracy,
    }, files["model"])
    ds_out = {k: (str(v) if isinstance(v, Path) else v) for k, v in spec["dataset"].items()}
    if data_dir is not None:
        ds_out["data_dir"] = str(data_dir)
    files["config"].write_text(yaml.safe_dump({
        "trainable": spec["trainable"],
        "dataset": ds_out,
        "config": cfg.model_dump(),
        "epochs": epochs,
    }, sort_keys=False))
    files["metrics"].write_text(json.dumps(metrics, indent=2, default=str) + "\n")
    for f in files.values():
        print(f"wrote {f}")
    _say(f"test accuracy {test_accuracy:.4f} ({len(data.test_y)} images), "
         f"{metrics['seconds_per_epoch']:.1f} s/epoch")
    return metrics


def load_model(path: str | Path):
    """Rebuild the trained model from ``model.pt`` (in eval mode, on the CPU)."""
    import torch

    from hwk4tune.models import build_model
    from hwk4tune.training import TrainConfig

    state = torch.load(path, map_location="cpu", weights_only=False)
    cfg = TrainConfig.from_config({**state["config"], "pretrained": "none", "weights_path": None})
    model, _ = build_model(state["trainable"], cfg, tuple(state["input_shape"]), state["num_classes"])
    model.load_state_dict(state["model"])
    return model.eval()


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _bar(progress: bool, total: int, desc: str):
    if not progress:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit="img", file=sys.stderr, leave=True, dynamic_ncols=True)
