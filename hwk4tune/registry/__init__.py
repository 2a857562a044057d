"""The registries of trainables and data sets: name -> entry, each entry stating its facts once.

No torch and no Ray here: an entry names its implementation as ``"module:function"``, imported only when
a trial or a loader needs it, so ``hwk4tune validate`` checks everything without loading torch.
(Searchers and schedulers are registered by their spec models, in :mod:`hwk4tune.spec.strategies`.)

A space may also name its own trainable, ``trainable: my_model.py:train`` (a file relative to the space
file) or ``trainable: my_package.module:train``; see docs/own_trainable.md. Facts it declares as attributes
of the function are used like those of the built-ins:

- ``train.hyperparameters``: a pydantic model of its config (space keys are then checked against it);
- ``train.reports``: the metric names it reports each epoch (the space's metric is then checked);
- ``train.checkpoints``: True if it saves and restores checkpoints (needed by PBT, PB2 and HyperBand).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel

from hwk4tune.errors import InputError, did_you_mean
from hwk4tune.registry.hyperparams import CnnHyperparameters, ResNetHyperparameters
from hwk4tune.registry.metrics import BUILTIN_METRICS, METRICS, SCORES, Metric, metric_mode

__all__ = ["BUILTIN_METRICS", "METRICS", "SCORES", "Metric", "metric_mode", "RegistryError", "import_target",
           "TrainableEntry", "TRAINABLES", "trainable_entry", "is_own_trainable", "absolute_trainable",
           "DatasetEntry", "DATASETS", "dataset_entry"]


class RegistryError(InputError, ValueError):
    """An unknown name, or an own trainable that cannot be loaded; the message is one line."""


def import_target(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class TrainableEntry:
    name: str
    hyperparameters: type[BaseModel] | None  # None: the config's keys pass as given
    reports: tuple[str, ...] | None  # None: not declared, so the space's metric cannot be checked
    checkpoints: bool
    target: str | Callable  # "module:function", or the function itself for own trainables
    description: str = ""
    model: str | None = None  # "module:function" building the nn.Module (built-ins: also for `hwk4tune train`)

    @property
    def builtin(self) -> bool:
        return isinstance(self.target, str)

    @property
    def fixed_while_training(self) -> tuple[str, ...]:
        return tuple(getattr(self.hyperparameters, "fixed_while_training", ()))

    def load(self) -> Callable:
        return import_target(self.target) if isinstance(self.target, str) else self.target

    def metric(self, name: str) -> Metric | None:
        """The facts of a metric it reports (direction, range): a built-in metric's, whichever trainable
        reports it (an own trainable's val_accuracy is one too); None for any other name."""
        return METRICS.get(name)


TRAINABLES: dict[str, TrainableEntry] = {
    entry.name: entry for entry in (
        TrainableEntry("cnn", CnnHyperparameters, BUILTIN_METRICS, True, "hwk4tune.tune.trainables:cnn_trainable",
                       "the seed's CNN (conv 1→16→32, hidden layer, dropout, optional batch norm)",
                       "hwk4tune.learn.models:build_cnn"),
        TrainableEntry("resnet", ResNetHyperparameters, BUILTIN_METRICS, True, "hwk4tune.tune.trainables:resnet_trainable",
                       "torchvision ResNet18 with a new head, fine-tuned (head, layer4 or all)",
                       "hwk4tune.learn.models:build_resnet"),
    )
}


def is_own_trainable(name: str) -> bool:
    return ":" in name


def trainable_entry(name: str, base_dir: Path | None = None) -> TrainableEntry:
    """The registered trainable ``name``, or the own trainable ``file.py:function`` / ``module:function``."""
    if name in TRAINABLES:
        return TRAINABLES[name]
    if not is_own_trainable(name):
        raise RegistryError(f"unknown trainable {name!r}{did_you_mean(name, TRAINABLES)} (valid: {', '.join(TRAINABLES)}, or your own as "
                            "file.py:function or package.module:function)")
    fn = _load_own(name, base_dir)
    model = getattr(fn, "hyperparameters", None)
    if model is not None and not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise RegistryError(f"{name}: the function's `hyperparameters` attribute must be a pydantic model class, "
                            f"got {model!r}")
    reports = getattr(fn, "reports", None)
    return TrainableEntry(name, model, tuple(reports) if reports else None, bool(getattr(fn, "checkpoints", False)),
                          fn, (fn.__doc__ or "").strip().split("\n")[0])


def absolute_trainable(name: str, base_dir: Path | None) -> str:
    """``my_model.py:train`` -> ``/abs/dir/my_model.py:train``, so a saved sweep resumes from anywhere."""
    where, _, attr = name.rpartition(":")
    if not where.endswith(".py"):
        return name
    path = Path(where).expanduser()
    return f"{(path if path.is_absolute() else (base_dir or Path.cwd()) / path).resolve()}:{attr}"


def _load_own(name: str, base_dir: Path | None) -> Callable:
    where, _, attr = name.rpartition(":")
    if not where or not attr.isidentifier():
        raise RegistryError(f"trainable {name!r}: write file.py:function or package.module:function")
    try:
        if where.endswith(".py"):
            path = Path(where).expanduser()
            path = path if path.is_absolute() else (base_dir or Path.cwd()) / path
            if not path.is_file():
                raise RegistryError(f"trainable {name!r}: no such file {path} (paths are relative to the space file)")
            module = _module_from_file(path.resolve())
        else:
            module = importlib.import_module(where)
    except RegistryError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's module failed to import: say how, in one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise RegistryError(f"trainable {name!r}: importing {where} failed: {type(exc).__name__}: {first}") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        found = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
                 and getattr(v, "__module__", None) == module.__name__]
        raise RegistryError(f"trainable {name!r}: {where} has no function {attr!r}"
                            + (f" (it defines {', '.join(found)})" if found else ""))
    return fn


def _module_from_file(path: Path):
    """Import a user's file under a name of its own; Ray workers get its functions by value."""
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]
    mod_name = f"hwk4tune_own_{path.stem}_{digest}"
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[mod_name]
        raise
    import cloudpickle  # ships with Ray; workers cannot import a module that exists only on this driver

    cloudpickle.register_pickle_by_value(module)
    return module


# ------------------------------------------------------------------------------------------ data sets


@dataclass(frozen=True)
class DatasetEntry:
    name: str
    loader: str  # "module:function" returning the raw images (see hwk4tune.learn.data)
    description: str

    def load(self) -> Callable:
        return import_target(self.loader)


DATASETS: dict[str, DatasetEntry] = {
    entry.name: entry for entry in (
        DatasetEntry("digits", "hwk4tune.learn.data:load_digits", "scikit-learn's 8×8 digits (1,797 images, offline)"),
        DatasetEntry("fashion_mnist", "hwk4tune.learn.data:load_fashion_mnist",
                     "Fashion-MNIST (Debian's dataset-fashion-mnist, a folder, or a download)"),
        DatasetEntry("mnist", "hwk4tune.learn.data:load_mnist", "MNIST (a folder or a download)"),
        DatasetEntry("cifar10", "hwk4tune.learn.data:load_cifar10", "CIFAR-10 (cifar-10-batches-py/ or a download)"),
        DatasetEntry("fake", "hwk4tune.learn.data:load_fake", "random CIFAR-shaped images for tests"),
    )
}


def dataset_entry(name: str) -> DatasetEntry:
    if name in DATASETS:
        return DATASETS[name]
    raise RegistryError(f"unknown data set {name!r}{did_you_mean(name, DATASETS)} (valid: {', '.join(DATASETS)})")
